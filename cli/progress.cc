#include "cli/progress.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/usage.h"

namespace kiln {
namespace cli {
namespace {

std::string JobName(const BatchProgress& p, const std::string& job_id) {
  const JobProgress* j = p.job(job_id);
  return j != nullptr && !j->name.empty() ? j->name : job_id;
}

// "12.3k tokens, cache 81.2%, $0.0123".
std::string Spend(const kiln::v1::Usage& u, double cost_usd) {
  return absl::StrCat(Compact(PromptTokens(u) + u.output_tokens()), " tokens, cache ",
                      Percent(u.cache_read_tokens(), PromptTokens(u)), ", ", Usd(cost_usd));
}

// ", 3 edited (+12 -12), 1 unchanged" when the job edits files.
std::string Edits(int changed, int unchanged, int64_t added, int64_t removed) {
  if (changed + unchanged == 0) return "";
  std::string out = absl::StrCat(", ", changed, " edited (+", added, " -", removed, ")");
  if (unchanged > 0) absl::StrAppend(&out, ", ", unchanged, " unchanged");
  return out;
}

std::string JobTotals(const JobProgress& j) {
  return absl::StrCat(j.files_done, "/", j.files_total, " files",
                      Edits(j.files_changed, j.files_unchanged, j.lines_added, j.lines_removed),
                      ", ", Spend(j.usage, j.cost_usd));
}

// " written", " edited (+3 -3, 2 blocks)", " unchanged", " repaired (+1 -1)".
std::string FileOutcome(const kiln::v1::TaskStateChanged& t) {
  const bool repair = t.kind() == kiln::v1::TASK_KIND_REPAIR;
  if (!t.has_edit() || t.edit().mode() != "edit") return repair ? " repaired" : " written";
  const kiln::v1::FileEdit& e = t.edit();
  if (e.result() == "unchanged") return " unchanged";
  std::string out = absl::StrCat(repair ? " repaired" : " edited", " (+", e.lines_added(), " -",
                                 e.lines_removed());
  if (e.blocks() > 0) absl::StrAppend(&out, ", ", e.blocks(), e.blocks() == 1 ? " block" : " blocks");
  return out + ")";
}

// "landed: PUSHED kiln/x @ 1a2b3c4 (2 files)".
std::string LandLine(const kiln::v1::TaskStateChanged& t) {
  const kiln::v1::Landing& l = t.land();
  std::string out = absl::StrCat("landed: ", Name(l.state()));
  if (!l.branch().empty() && !l.commit().empty()) {
    absl::StrAppend(&out, " ", l.branch(), " @ ", l.commit().substr(0, 7), " (", l.files_size(),
                    l.files_size() == 1 ? " file)" : " files)");
  }
  if (!l.pr_url().empty()) absl::StrAppend(&out, " ", l.pr_url());
  return out;
}

// What a log reader wants to know about `e`; "" when nothing.
std::string Describe(const kiln::v1::Event& e, const BatchProgress& p) {
  if (e.has_batch()) {
    const auto s = e.batch().state();
    if (s == kiln::v1::BATCH_STATE_RUNNING || s == kiln::v1::BATCH_STATE_CANCELLING ||
        s == kiln::v1::BATCH_STATE_SUCCEEDED || s == kiln::v1::BATCH_STATE_FAILED ||
        s == kiln::v1::BATCH_STATE_CANCELLED) {
      return absl::StrCat("batch ", e.batch_id(), " ", Name(s));
    }
    return "";
  }
  if (e.has_job()) {
    const auto& j = e.job();
    const JobProgress* jp = p.job(j.job_id());
    const std::string name = JobName(p, j.job_id());
    if (IsTerminal(j.state())) {
      std::string line = absl::StrCat(name, " ", Name(j.state()));
      if (jp != nullptr) absl::StrAppend(&line, ": ", JobTotals(*jp));
      if (!j.error().message().empty()) absl::StrAppend(&line, "; ", j.error().message());
      if (!j.note().empty()) absl::StrAppend(&line, "; ", j.note());
      return line;
    }
    if (j.state() == kiln::v1::JOB_STATE_GENERATING) {
      return absl::StrCat(name, " GENERATING ", j.files_total(), " files");
    }
    return absl::StrCat(name, " ", Name(j.state()));
  }
  if (e.has_task()) {
    const auto& t = e.task();
    const std::string name = JobName(p, t.job_id());
    const std::string what = t.path().empty() ? Name(t.kind()) : t.path();
    const JobProgress* jp = p.job(t.job_id());
    switch (t.state()) {
      case kiln::v1::TASK_STATE_SUCCEEDED:
        if (t.kind() == kiln::v1::TASK_KIND_PLAN) return absl::StrCat(name, ": plan ready");
        if (t.kind() == kiln::v1::TASK_KIND_BUILD) return absl::StrCat(name, ": build passed");
        if (t.kind() == kiln::v1::TASK_KIND_SELECT) {
          return absl::StrCat(name, ": checked out",
                              t.commit().empty() ? "" : absl::StrCat(" ", t.commit().substr(0, 12)));
        }
        if (t.kind() == kiln::v1::TASK_KIND_LAND) return absl::StrCat(name, ": ", LandLine(t));
        return absl::StrCat(name, ": ", what, FileOutcome(t),
                            jp != nullptr ? absl::StrCat(" (", jp->files_done, "/",
                                                         jp->files_total, ")")
                                          : "");
      case kiln::v1::TASK_STATE_FAILED:
        if (!t.repaired_by().empty()) {
          return absl::StrCat(name, ": ", what, " failed its check; repairing");
        }
        return absl::StrCat(name, ": ", what, " FAILED: ", t.error().message());
      case kiln::v1::TASK_STATE_READY:
        if (t.error().message().empty()) return "";
        return absl::StrCat(name, ": ", what, " attempt ", t.attempt(),
                            " will be retried: ", t.error().message());
      default:
        return "";
    }
  }
  return "";
}

std::string Bar(int done, int total, int width) {
  const int filled = total > 0 ? std::min(width, done * width / total) : 0;
  std::string out;
  for (int i = 0; i < width; ++i) out += i < filled ? "\u2588" : "\u2591";
  return out;
}

// Cuts `line` to `width` display columns (bars are one column per 3 bytes).
std::string Fit(const std::string& line, int width) {
  std::string out;
  int cols = 0;
  for (size_t i = 0; i < line.size();) {
    const unsigned char c = line[i];
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (cols + 1 > width) break;
    out.append(line, i, n);
    i += n;
    ++cols;
  }
  return out;
}

class TerminalPrinter : public ProgressPrinter {
 public:
  TerminalPrinter(std::ostream& out, int width, int height)
      : out_(out), width_(std::max(40, width)), height_(std::max(6, height)) {}

  void OnEvent(const kiln::v1::Event& e, const BatchProgress& p) override {
    if (std::string line = Describe(e, p); !line.empty()) pending_.push_back(std::move(line));
    dirty_ = true;
    now_ = std::max(now_, p.last_event_time());
  }

  void Tick(const BatchProgress& p, absl::Time now) override {
    now_ = now;
    if (!dirty_ && now - last_draw_ < absl::Seconds(1)) return;
    Draw(p);
  }

  void Finish(const BatchProgress& p) override {
    Draw(p);
    out_.flush();
  }

 private:
  void Draw(const BatchProgress& p) {
    if (drawn_ > 0) out_ << "\x1b[" << drawn_ << "F";
    out_ << "\x1b[J";
    for (const std::string& line : pending_) out_ << Fit(line, width_) << "\n";
    pending_.clear();
    std::vector<std::string> frame = Frame(p);
    for (const std::string& line : frame) out_ << Fit(line, width_) << "\n";
    out_.flush();
    drawn_ = static_cast<int>(frame.size());
    dirty_ = false;
    last_draw_ = now_;
  }

  std::vector<std::string> Frame(const BatchProgress& p) const {
    size_t name_width = 5;
    for (const JobProgress& j : p.jobs()) name_width = std::max(name_width, j.name.size());
    name_width = std::min<size_t>(name_width, 28);
    auto row = [&](const std::string& name, int done, int total, const std::string& mid,
                   const kiln::v1::Usage& u, double cost) {
      std::string n = name.size() > name_width ? name.substr(0, name_width - 1) + "~" : name;
      n.resize(name_width, ' ');
      return absl::StrFormat("%s %s %5s %-12s %7s tok  cache %6s  %s", n, Bar(done, total, 20),
                             absl::StrCat(done, "/", total), mid,
                             Compact(PromptTokens(u) + u.output_tokens()),
                             Percent(u.cache_read_tokens(), PromptTokens(u)), Usd(cost));
    };
    // Running jobs first, then the latest finished, then a summary line.
    std::vector<const JobProgress*> running, finished;
    int queued = 0;
    for (const JobProgress& j : p.jobs()) {
      if (IsTerminal(j.state)) {
        finished.push_back(&j);
      } else if (j.state == kiln::v1::JOB_STATE_QUEUED) {
        ++queued;
      } else {
        running.push_back(&j);
      }
    }
    std::stable_sort(finished.begin(), finished.end(),
                     [](const JobProgress* a, const JobProgress* b) {
                       return a->last_change > b->last_change;
                     });
    const size_t room = static_cast<size_t>(height_ - 3);
    std::vector<const JobProgress*> shown;
    for (const JobProgress* j : running) {
      if (shown.size() < room) shown.push_back(j);
    }
    for (const JobProgress* j : finished) {
      if (shown.size() < room) shown.push_back(j);
    }
    std::vector<std::string> lines;
    if (p.jobs().size() > 1 || shown.empty()) {
      for (const JobProgress* j : shown) {
        lines.push_back(
            row(j->name, j->files_done, j->files_total, Name(j->state), j->usage, j->cost_usd));
      }
      const size_t hidden = p.jobs().size() - shown.size();
      if (hidden > 0) {
        lines.push_back(absl::StrCat("  ... and ", hidden, " more jobs (", queued, " queued)"));
      }
    } else {
      const JobProgress* j = shown[0];
      lines.push_back(
          row(j->name, j->files_done, j->files_total, Name(j->state), j->usage, j->cost_usd));
    }
    lines.push_back(row("total", p.files_done(), p.files_total(),
                        absl::StrCat(p.jobs_done(), "/", p.jobs().size(), " jobs"), p.usage(),
                        p.cost_usd()) +
                    "  " + Seconds(p.Elapsed(now_)));
    return lines;
  }

  std::ostream& out_;
  const int width_;
  const int height_;
  std::vector<std::string> pending_;
  int drawn_ = 0;
  bool dirty_ = true;
  absl::Time now_ = absl::UnixEpoch();
  absl::Time last_draw_ = absl::InfinitePast();
};

class PlainPrinter : public ProgressPrinter {
 public:
  PlainPrinter(std::ostream& out, absl::Duration every) : out_(out), every_(every) {}

  void OnEvent(const kiln::v1::Event& e, const BatchProgress& p) override {
    std::string line = Describe(e, p);
    if (line.empty()) return;
    Print(p.Elapsed(TimeFromProto(e.time())), line);
  }

  void Tick(const BatchProgress& p, absl::Time now) override {
    if (last_total_ == absl::InfinitePast()) last_total_ = now;
    if (now - last_total_ < every_) return;
    last_total_ = now;
    Print(p.Elapsed(now), TotalsLine(p));
  }

  void Finish(const BatchProgress& p) override {
    Print(p.Elapsed(p.last_event_time()), TotalsLine(p));
    out_.flush();
  }

 private:
  void Print(absl::Duration at, const std::string& line) {
    out_ << absl::StrFormat("[%7s] ", Seconds(std::max(at, absl::ZeroDuration()))) << line
         << "\n";
    out_.flush();
  }

  std::ostream& out_;
  const absl::Duration every_;
  absl::Time last_total_ = absl::InfinitePast();
};

}  // namespace

void BatchProgress::Reset(const kiln::v1::Batch& batch) {
  *this = BatchProgress();
  batch_id_ = batch.id();
  created_ = TimeFromProto(batch.create_time());
  last_time_ = created_;
  for (const kiln::v1::Job& j : batch.jobs()) {
    JobProgress jp;
    jp.id = j.id();
    jp.name = j.spec().name();
    jp.files_total = j.files_total();
    index_[jp.id] = jobs_.size();
    jobs_.push_back(std::move(jp));
  }
}

JobProgress* BatchProgress::Job(const std::string& id) {
  auto it = index_.find(id);
  if (it != index_.end()) return &jobs_[it->second];
  index_[id] = jobs_.size();
  jobs_.push_back(JobProgress{});
  jobs_.back().id = id;
  return &jobs_.back();
}

const JobProgress* BatchProgress::job(const std::string& id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &jobs_[it->second];
}

void BatchProgress::Apply(const kiln::v1::Event& e) {
  last_sequence_ = std::max(last_sequence_, e.sequence());
  last_time_ = std::max(last_time_, TimeFromProto(e.time()));
  if (e.has_batch()) {
    state_ = e.batch().state();
  } else if (e.has_job()) {
    const auto& j = e.job();
    JobProgress* jp = Job(j.job_id());
    if (jp->name.empty()) jp->name = j.job_name();
    jp->state = j.state();
    if (j.files_total() > 0) jp->files_total = j.files_total();
    // Task events count files as they finish; a job's own count is final
    // once it ends (a turn that finishes cached tasks reports the job's
    // count before the tasks' events).
    if (IsTerminal(j.state()) && j.files_done() > 0) jp->files_done = j.files_done();
    if (!j.error().message().empty()) jp->error = j.error().message();
    jp->last_change = e.sequence();
  } else if (e.has_task()) {
    const auto& t = e.task();
    JobProgress* jp = Job(t.job_id());
    AddUsage(t.usage(), &jp->usage);
    AddUsage(t.usage(), &usage_);
    jp->cost_usd += t.cost_usd();
    cost_usd_ += t.cost_usd();
    if (WritesFile(t.kind())) {
      if (t.state() == kiln::v1::TASK_STATE_SUCCEEDED) {
        jp->files_done++;
        if (t.edit().mode() == "edit") {
          if (t.edit().result() == "unchanged") {
            jp->files_unchanged++;
          } else {
            jp->files_changed++;
          }
          jp->lines_added += t.edit().lines_added();
          jp->lines_removed += t.edit().lines_removed();
        }
      }
      if (t.state() == kiln::v1::TASK_STATE_FAILED) {
        if (t.repaired_by().empty()) {
          jp->files_failed++;
        } else {
          jp->repairs++;
        }
      }
    }
    jp->last_change = e.sequence();
  }
}

namespace {
template <typename F>
int SumJobs(const std::vector<JobProgress>& jobs, F f) {
  int n = 0;
  for (const JobProgress& j : jobs) n += f(j);
  return n;
}
}  // namespace

int BatchProgress::files_total() const {
  return SumJobs(jobs_, [](const JobProgress& j) { return j.files_total; });
}

int BatchProgress::files_done() const {
  return SumJobs(jobs_, [](const JobProgress& j) { return j.files_done; });
}

int BatchProgress::files_failed() const {
  return SumJobs(jobs_, [](const JobProgress& j) { return j.files_failed; });
}

int BatchProgress::jobs_done() const {
  return SumJobs(jobs_, [](const JobProgress& j) { return IsTerminal(j.state) ? 1 : 0; });
}

std::string TotalsLine(const BatchProgress& p) {
  int changed = 0, unchanged = 0;
  int64_t added = 0, removed = 0;
  for (const JobProgress& j : p.jobs()) {
    changed += j.files_changed;
    unchanged += j.files_unchanged;
    added += j.lines_added;
    removed += j.lines_removed;
  }
  return absl::StrCat(p.files_done(), "/", p.files_total(), " files",
                      Edits(changed, unchanged, added, removed), ", ", p.jobs_done(), "/",
                      p.jobs().size(), " jobs, ", Spend(p.usage(), p.cost_usd()));
}

std::unique_ptr<ProgressPrinter> MakeTerminalPrinter(std::ostream& out, int width,
                                                     int height) {
  return std::make_unique<TerminalPrinter>(out, width, height);
}

std::unique_ptr<ProgressPrinter> MakePlainPrinter(std::ostream& out, absl::Duration every) {
  return std::make_unique<PlainPrinter>(out, every);
}

}  // namespace cli
}  // namespace kiln
