#include "cli/render.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/format.h"
#include "common/proto_time.h"
#include "common/usage.h"

namespace kiln {
namespace cli {
namespace {

std::string When(const google::protobuf::Timestamp& t, absl::Time now) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  const absl::Time at = TimeFromProto(t);
  return absl::StrCat(absl::FormatTime("%Y-%m-%d %H:%M:%S", at, absl::LocalTimeZone()), " (",
                      Seconds(std::max(absl::ZeroDuration(), now - at)), " ago)");
}

// Columns padded to their widest cell; the last column is not padded.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

// `failed_cost_usd` < 0: not known (a status has no per-request records).
std::string UsageLine(const kiln::v1::Usage& u, double failed_cost_usd = -1) {
  std::string line = absl::StrCat(
      Grouped(u.input_tokens()), " full price, ", Grouped(u.cache_read_tokens()),
      " cache read, ", Grouped(u.cache_write_tokens()), " cache write, ",
      Grouped(u.output_tokens()), " output");
  if (u.reasoning_tokens() > 0) {
    absl::StrAppend(&line, " (", Grouped(u.reasoning_tokens()), " reasoning)");
  }
  absl::StrAppend(&line, "; ", Grouped(u.requests()), " requests, ",
                  Grouped(u.rate_limited()), " rate-limited (429)");
  if (u.retried_requests() > 0) {
    absl::StrAppend(&line, ", ", Grouped(u.retried_requests()), " retried",
                    failed_cost_usd >= 0
                        ? absl::StrCat(" (", Usd(failed_cost_usd), " billed for failed requests)")
                        : "");
  }
  if (u.cut_off() > 0) {
    absl::StrAppend(&line, ", ", Grouped(u.cut_off()), " cut off at the output cap");
  }
  return line;
}

// "529 overloaded", "dropped", ...
std::string RequestOutcome(const kiln::v1::LlmRequest& q) {
  return q.http_status() > 0 ? absl::StrCat(q.http_status(), " ", q.outcome()) : q.outcome();
}

int AllTasks(const kiln::v1::TaskCounts& t) {
  return t.pending() + t.ready() + t.held() + t.leased() + t.succeeded() + t.failed() +
         t.cancelled();
}

std::string Counts(const kiln::v1::TaskCounts& c) {
  return absl::StrCat(c.pending(), " pending, ", c.ready(), " ready, ", c.held(), " held, ",
                      c.leased(), " leased, ", c.succeeded(), " succeeded, ", c.failed(),
                      " failed, ", c.cancelled(), " cancelled");
}

}  // namespace

std::string LandingStateOf(const kiln::v1::Job& j) {
  if (j.has_landing() && j.landing().state() != kiln::v1::LANDING_STATE_UNSPECIFIED) {
    return Name(j.landing().state());
  }
  if (!j.spec().has_land()) return "-";
  if (j.state() == kiln::v1::JOB_STATE_FAILED || j.state() == kiln::v1::JOB_STATE_CANCELLED) {
    return "FAILED";
  }
  return "-";
}

bool DidNotLand(const kiln::v1::Job& j) {
  if (j.state() == kiln::v1::JOB_STATE_FAILED || j.state() == kiln::v1::JOB_STATE_CANCELLED) {
    return true;
  }
  const std::string s = LandingStateOf(j);
  return s == "FAILED" || s == "PUSH_REJECTED";
}

std::vector<std::vector<std::string>> LandingRows(const kiln::v1::Batch& b) {
  std::vector<std::vector<std::string>> rows;
  for (const kiln::v1::Job& j : b.jobs()) {
    if (!j.spec().has_land()) continue;
    if (rows.empty()) rows.push_back({"REPO", "LANDING", "BRANCH", "COMMIT", "FILES", "PR / WHY"});
    const kiln::v1::Landing& l = j.landing();
    std::string why = l.pr_url();
    if (why.empty()) why = l.message();
    if (why.empty() && DidNotLand(j)) why = j.error().message();
    if (why.size() > 100) why = why.substr(0, 97) + "...";
    for (char& ch : why) {
      if (ch == '\n') ch = ' ';
    }
    rows.push_back({j.spec().name(), LandingStateOf(j), l.branch().empty() ? "-" : l.branch(),
                    l.commit().empty() ? "-" : l.commit().substr(0, 12),
                    absl::StrCat(l.files_size()), why.empty() ? "-" : why});
  }
  return rows;
}

std::string LandingCounts(const kiln::v1::Batch& b) {
  std::map<std::string, int> counts;
  for (const kiln::v1::Job& j : b.jobs()) {
    if (j.spec().has_land()) counts[LandingStateOf(j)]++;
  }
  std::vector<std::string> parts;
  for (const auto& [state, n] : counts) parts.push_back(absl::StrCat(n, " ", state));
  return absl::StrJoin(parts, ", ");
}

std::string FormatStatus(const kiln::v1::Batch& b, absl::Time now) {
  std::string out = absl::StrCat("batch ", b.id(), b.spec().name().empty() ? "" : " (",
                                 b.spec().name(), b.spec().name().empty() ? "" : ")", ": ",
                                 Name(b.state()), "\n");
  absl::StrAppend(&out, "created   ", When(b.create_time(), now), "\n");
  if (b.has_end_time()) absl::StrAppend(&out, "ended     ", When(b.end_time(), now), "\n");
  absl::StrAppend(&out, "jobs      ", b.jobs_done(), "/", b.jobs_total(), " done\n");
  absl::StrAppend(&out, "tasks     ", Counts(b.tasks()), "\n");
  absl::StrAppend(&out, "tokens    ", UsageLine(b.usage()), "\n");
  absl::StrAppend(&out, "cache     ",
                  Percent(b.usage().cache_read_tokens(), PromptTokens(b.usage())),
                  " of prompt tokens read from cache\n");
  absl::StrAppend(&out, "cost      ", Usd(b.cost_usd()), "\n");
  if (!b.trace_id().empty()) absl::StrAppend(&out, "trace     ", b.trace_id(), "\n");
  if (b.jobs_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"JOB", "STATE", "FILES", "FAILED", "TASKS DONE", "COST", "ERROR"}};
    for (const kiln::v1::Job& j : b.jobs()) {
      rows.push_back({j.spec().name(), Name(j.state()),
                      absl::StrCat(j.files_done(), "/", j.files_total()),
                      absl::StrCat(j.files_failed()),
                      absl::StrCat(j.tasks().succeeded(), "/", AllTasks(j.tasks())),
                      Usd(j.cost_usd()), j.error().message()});
    }
    absl::StrAppend(&out, "\n", Table(rows));
  }
  if (const auto landing = LandingRows(b); !landing.empty()) {
    absl::StrAppend(&out, "\nlanding   ", LandingCounts(b), "\n", Table(landing));
  }
  return out;
}

std::string FormatList(const std::vector<kiln::v1::Batch>& batches, absl::Time now) {
  if (batches.empty()) return "no batches\n";
  std::vector<std::vector<std::string>> rows = {
      {"BATCH", "NAME", "STATE", "JOBS", "TASKS DONE", "COST", "CREATED"}};
  for (const kiln::v1::Batch& b : batches) {
    rows.push_back({b.id(), b.spec().name(), Name(b.state()),
                    absl::StrCat(b.jobs_done(), "/", b.jobs_total()),
                    absl::StrCat(b.tasks().succeeded(), "/", AllTasks(b.tasks())),
                    Usd(b.cost_usd()),
                    When(b.create_time(), now)});
  }
  return Table(rows);
}

std::string FormatReport(const kiln::v1::Report& r, const kiln::v1::Batch& b,
                         double time_scale) {
  int files = 0, files_done = 0;
  for (const kiln::v1::Job& j : b.jobs()) {
    files += j.files_total();
    files_done += j.files_done();
  }
  std::string out = absl::StrCat("batch ", r.batch_id(), " ", Name(r.state()), ": ", files_done,
                                 "/", files, " files in ", b.jobs_size(),
                                 b.jobs_size() == 1 ? " job" : " jobs", "\n");
  if (r.files_changed() + r.files_unchanged() > 0) {
    // A batch that edits files: what it did to them.
    absl::StrAppend(&out, "files     ", r.files_changed(), " changed, ", r.files_unchanged(),
                    " unchanged, ", r.files_created(), " created, ", r.files_failed(),
                    " failed; +", r.lines_added(), " -", r.lines_removed(), " lines\n");
  }
  std::vector<std::string> unchanged_jobs;
  for (const kiln::v1::Job& j : b.jobs()) {
    if (!j.note().empty()) unchanged_jobs.push_back(
        absl::StrCat(j.spec().name().empty() ? j.id() : j.spec().name(), ": ", j.note()));
  }
  if (!unchanged_jobs.empty()) {
    absl::StrAppend(&out, "unchanged ", absl::StrJoin(unchanged_jobs, "; "), "\n");
  }
  if (const auto landing = LandingRows(b); !landing.empty()) {
    absl::StrAppend(&out, "landing   ", LandingCounts(b), "\n");
    const std::string table = Table(landing);
    for (absl::string_view line : absl::StrSplit(table, '\n')) {
      if (!line.empty()) absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  const absl::Duration wall = DurationFromProto(r.wall_time());
  const absl::Duration bound = DurationFromProto(r.lower_bound()) / time_scale;
  absl::StrAppend(&out, "time      ", Seconds(wall), " wall; critical path ",
                  Seconds(DurationFromProto(r.critical_path())), "; lower bound ", Seconds(bound),
                  bound > absl::ZeroDuration()
                      ? absl::StrFormat(" (%.2fx)", absl::FDivDuration(wall, bound))
                      : "",
                  time_scale != 1
                      ? absl::StrCat("; simulated time runs ", time_scale,
                                     "x faster (lower bound ",
                                     Seconds(DurationFromProto(r.lower_bound())), " unscaled)")
                      : "",
                  "\n");
  absl::StrAppend(&out, "tokens    ", UsageLine(r.usage(), r.failed_requests_cost_usd()),
                  "\n");
  absl::StrAppend(&out, "cache     ", Percent(r.usage().cache_read_tokens(), PromptTokens(r.usage())),
                  " of prompt tokens read from cache",
                  r.result_cache_hits() > 0
                      ? absl::StrCat("; ", r.result_cache_hits(), " tasks from the result cache")
                      : "",
                  "\n");
  absl::StrAppend(&out, "cost      ", Usd(r.cost_usd()), " (", Usd(r.uncached_cost_usd()),
                  " without prompt caching",
                  r.uncached_cost_usd() > 0
                      ? absl::StrCat(": ", Percent(r.uncached_cost_usd() - r.cost_usd(),
                                                   r.uncached_cost_usd()),
                                     " saved")
                      : "",
                  ")\n");
  if (r.lost_attempts() > 0) {
    absl::StrAppend(&out, "lost      ", r.lost_attempts(),
                    r.lost_attempts() == 1 ? " attempt" : " attempts",
                    " lost with their workers, ", Usd(r.lost_attempts_cost_usd()),
                    " (in the cost: what their workers had reported",
                    r.estimated_cost_usd() > 0
                        ? absl::StrCat(", and ", Usd(r.estimated_cost_usd()),
                                       " estimated for requests whose usage never came back")
                        : "",
                    ")\n");
  }
  if (r.phases_size() > 0) {
    std::vector<std::string> phases;
    for (const auto& p : r.phases()) {
      phases.push_back(absl::StrCat(p.phase(), " ", Seconds(DurationFromProto(p.total()))));
    }
    absl::StrAppend(&out, "phases    ", absl::StrJoin(phases, ", "), " (summed over tasks)\n");
  }
  for (const auto& m : r.models()) {
    absl::StrAppend(&out, "model     ", m.model(), ": ", Grouped(m.usage().requests()),
                    " requests, ", Grouped(PromptTokens(m.usage())), " prompt + ",
                    Grouped(m.usage().output_tokens()), " output tokens, ", Usd(m.cost_usd()),
                    "\n");
  }
  std::vector<std::string> path;
  for (const auto& t : r.tasks()) {
    if (t.on_critical_path()) path.push_back(TaskLabel(t.kind(), t.path()));
  }
  if (!path.empty()) absl::StrAppend(&out, "critical  ", absl::StrJoin(path, " -> "), "\n");
  // A file whose check failed and whose repair then succeeded is repaired,
  // not failed.
  std::set<std::pair<std::string, std::string>> written;
  for (const auto& t : r.tasks()) {
    if (t.state() == kiln::v1::TASK_STATE_SUCCEEDED) written.insert({t.job_name(), t.path()});
  }
  std::vector<std::string> repaired, bad;
  for (const auto& t : r.tasks()) {
    if (t.kind() == kiln::v1::TASK_KIND_REPAIR && t.state() == kiln::v1::TASK_STATE_SUCCEEDED) {
      repaired.push_back(t.path());
    }
    if (t.state() == kiln::v1::TASK_STATE_FAILED && !written.count({t.job_name(), t.path()})) {
      bad.push_back(absl::StrCat("  ", t.job_name(), " ", Name(t.kind()), " ", t.path(),
                                 " FAILED after ", t.attempts(),
                                 t.attempts() == 1 ? " attempt" : " attempts",
                                 t.error().empty() ? "" : ": ", t.error()));
    }
  }
  if (!repaired.empty()) {
    absl::StrAppend(&out, "repaired  ", absl::StrJoin(repaired, ", "),
                    " (a check failed, the repair passed)\n");
  }
  for (const kiln::v1::Job& j : b.jobs()) {
    if (!j.error().message().empty()) {
      bad.push_back(absl::StrCat("  ", j.spec().name(), ": ", j.error().message()));
    }
  }
  if (!bad.empty()) absl::StrAppend(&out, "problems\n", absl::StrJoin(bad, "\n"), "\n");
  // The requests that failed, and what each was billed (the first ones).
  std::vector<std::string> failed;
  int more = 0;
  for (const auto& t : r.tasks()) {
    for (const kiln::v1::LlmRequest& q : t.failed_requests()) {
      if (failed.size() >= 20) {
        ++more;
        continue;
      }
      const int64_t tokens = PromptTokens(q.usage()) + q.usage().output_tokens();
      failed.push_back(absl::StrCat(
          "  ", t.job_name(), " ", t.path().empty() ? Name(t.kind()) : t.path(), ": ",
          RequestOutcome(q), q.retried() ? ", retried" : ", not retried",
          q.request_id().empty() ? "" : absl::StrCat(" (", q.request_id(), ")"), "; billed ",
          Grouped(tokens), " tokens, ", Usd(q.cost_usd())));
    }
  }
  if (!failed.empty()) {
    absl::StrAppend(&out, "failed requests\n", absl::StrJoin(failed, "\n"), "\n");
    if (more > 0) absl::StrAppend(&out, "  ... and ", more, " more\n");
  }
  return out;
}

std::string TaskTime(const kiln::v1::TaskReport& t) {
  if (t.has_start_time() && t.has_end_time()) {
    return Seconds(TimeFromProto(t.end_time()) - TimeFromProto(t.start_time()));
  }
  return t.result_cache_hit() ? "cached" : "-";
}

// "created", "unchanged", "whole +2 -2", "search_replace +5 -5".
static std::string EditCell(const kiln::v1::TaskReport& t) {
  if (!t.has_edit()) return "-";
  const kiln::v1::FileEdit& e = t.edit();
  if (e.result() != "changed") return e.result();
  return absl::StrCat(e.format(), " +", e.lines_added(), " -", e.lines_removed());
}

std::string FormatReportTasks(const kiln::v1::Report& r) {
  std::vector<std::vector<std::string>> rows = {{"JOB", "KIND", "PATH", "STATE", "MODEL",
                                                 "ATT", "WORKER", "FULL", "CACHE-R", "CACHE-W",
                                                 "OUT", "COST", "TIME", "EDIT"}};
  for (const auto& t : r.tasks()) {
    rows.push_back(
        {t.job_name(), Name(t.kind()), t.path().empty() ? "-" : t.path(), Name(t.state()),
         t.model().empty() ? "-" : t.model(), absl::StrCat(t.attempts()),
         t.worker_id().empty() ? "-" : t.worker_id(), Grouped(t.usage().input_tokens()),
         Grouped(t.usage().cache_read_tokens()), Grouped(t.usage().cache_write_tokens()),
         Grouped(t.usage().output_tokens()), Usd(t.cost_usd()), TaskTime(t), EditCell(t)});
  }
  return Table(rows);
}

}  // namespace cli
}  // namespace kiln
