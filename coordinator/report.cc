#include "coordinator/report.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "common/entity_ids.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/usage.h"

namespace kiln {

namespace {

bool IsSet(const google::protobuf::Timestamp& t) {
  return t.seconds() != 0 || t.nanos() != 0;
}

}  // namespace

kiln::v1::Report BuildReport(const std::string& batch_id,
                             kiln::v1::BatchState state,
                             const std::vector<kiln::v1::Task>& tasks,
                             absl::Duration lower_bound) {
  kiln::v1::Report r;
  r.set_batch_id(batch_id);
  r.set_state(state);
  DurationToProto(lower_bound, r.mutable_lower_bound());

  std::map<std::string, kiln::v1::ModelUsage> models;
  std::map<std::string, absl::Duration> phases;
  absl::Time first = absl::InfiniteFuture();
  absl::Time last = absl::InfinitePast();
  std::unordered_map<std::string, size_t> index;
  std::vector<kiln::v1::TaskReport> rows;
  // Each file of each job: the edit of its task that succeeded, if one did.
  struct FileOutcome {
    const kiln::v1::FileEdit* edit = nullptr;
    bool succeeded = false;
    bool ended = false;
  };
  std::map<std::pair<std::string, std::string>, FileOutcome> files;
  for (size_t i = 0; i < tasks.size(); ++i) {
    const kiln::v1::Task& t = tasks[i];
    index[t.id()] = i;
    kiln::v1::TaskReport row;
    row.set_task_id(t.id());
    row.set_job_name(std::string(JobId::Parse(t.job_id()).name()));
    row.set_kind(t.kind());
    row.set_path(t.path());
    row.set_state(t.state());
    row.set_model(t.model());
    row.set_attempts(t.attempts_size());
    *row.mutable_ready_time() = t.ready_time();
    *row.mutable_end_time() = t.end_time();
    if (t.state() == kiln::v1::TASK_STATE_FAILED) row.set_error(t.error().message());
    for (const auto& d : t.deps()) row.add_deps(d);
    if (IsSet(t.ready_time())) first = std::min(first, TimeFromProto(t.ready_time()));
    if (IsSet(t.end_time())) last = std::max(last, TimeFromProto(t.end_time()));
    for (int a = 0; a < t.attempts_size(); ++a) {
      const kiln::v1::AttemptRecord& rec = t.attempts(a);
      if (a == 0) *row.mutable_start_time() = rec.start_time();
      if (a + 1 == t.attempts_size()) {
        *row.mutable_first_token_time() = rec.first_token_time();
        row.set_model(rec.model().empty() ? t.model() : rec.model());
        row.set_result_cache_hit(rec.cache_hit());
        row.set_worker_id(rec.worker_id());
        if (rec.has_edit()) *row.mutable_edit() = rec.edit();
      }
      AddUsage(rec.usage(), row.mutable_usage());
      row.set_cost_usd(row.cost_usd() + rec.cost_usd());
      for (const kiln::v1::LlmRequest& q : rec.llm_requests()) {
        if (q.outcome() == "ok" || q.outcome() == "cut_off") continue;
        *row.add_failed_requests() = q;
        r.set_failed_requests_cost_usd(r.failed_requests_cost_usd() + q.cost_usd());
      }
      AddUsage(rec.usage(), r.mutable_usage());
      r.set_cost_usd(r.cost_usd() + rec.cost_usd());
      if (rec.lost()) {
        r.set_lost_attempts(r.lost_attempts() + 1);
        r.set_lost_attempts_cost_usd(r.lost_attempts_cost_usd() + rec.cost_usd());
      }
      r.set_estimated_cost_usd(r.estimated_cost_usd() + rec.estimated_cost_usd());
      r.set_uncached_cost_usd(r.uncached_cost_usd() + rec.uncached_cost_usd());
      const std::string model = rec.model().empty() ? t.model() : rec.model();
      if (!model.empty()) {  // BUILD and SELECT call no model
        kiln::v1::ModelUsage& mu = models[model];
        mu.set_model(model);
        AddUsage(rec.usage(), mu.mutable_usage());
        mu.set_cost_usd(mu.cost_usd() + rec.cost_usd());
        mu.set_uncached_cost_usd(mu.uncached_cost_usd() + rec.uncached_cost_usd());
      }
      const kiln::v1::Timings& tm = rec.timings();
      phases["queue"] += DurationFromProto(tm.queue());
      phases["llm"] += DurationFromProto(tm.llm());
      phases["permit_wait"] += DurationFromProto(tm.permit_wait());
      phases["check"] += DurationFromProto(tm.check());
      phases["total"] += DurationFromProto(tm.total());
    }
    if (row.result_cache_hit()) r.set_result_cache_hits(r.result_cache_hits() + 1);
    if (WritesFile(t.kind())) {
      FileOutcome& f = files[{t.job_id(), t.path()}];
      if (t.state() == kiln::v1::TASK_STATE_SUCCEEDED) {
        f.succeeded = true;
        f.edit = t.attempts_size() > 0 && t.attempts(t.attempts_size() - 1).has_edit()
                     ? &t.attempts(t.attempts_size() - 1).edit()
                     : nullptr;
      }
      f.ended = f.ended || IsTerminal(t.state());
    }
    rows.push_back(std::move(row));
  }
  if (first < last) DurationToProto(last - first, r.mutable_wall_time());
  for (const auto& [key, f] : files) {
    if (!f.succeeded) {
      if (f.ended) r.set_files_failed(r.files_failed() + 1);
      continue;
    }
    const std::string result = f.edit != nullptr ? f.edit->result() : "created";
    if (result == "unchanged") {
      r.set_files_unchanged(r.files_unchanged() + 1);
    } else if (result == "changed") {
      r.set_files_changed(r.files_changed() + 1);
    } else {
      r.set_files_created(r.files_created() + 1);
    }
    if (f.edit != nullptr) {
      r.set_lines_added(r.lines_added() + f.edit->lines_added());
      r.set_lines_removed(r.lines_removed() + f.edit->lines_removed());
    }
  }

  // The run's critical path: the longest chain of (first lease .. end)
  // spans through the dependency edges. Dependencies end before their
  // dependents start, so processing by end time is a topological order.
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto end_of = [&](size_t i) { return TimeFromProto(rows[i].end_time()); };
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return end_of(a) < end_of(b); });
  std::vector<absl::Duration> chain(rows.size(), absl::ZeroDuration());
  std::vector<int> prev(rows.size(), -1);
  int best = -1;
  for (size_t i : order) {
    const auto& row = rows[i];
    if (!IsSet(row.start_time()) || !IsSet(row.end_time())) continue;
    absl::Duration before = absl::ZeroDuration();
    for (const auto& d : row.deps()) {
      auto it = index.find(d);
      if (it == index.end()) continue;
      if (chain[it->second] > before) {
        before = chain[it->second];
        prev[i] = static_cast<int>(it->second);
      }
    }
    chain[i] = before + (TimeFromProto(row.end_time()) -
                         TimeFromProto(row.start_time()));
    if (best < 0 || chain[i] > chain[best]) best = static_cast<int>(i);
  }
  if (best >= 0) {
    DurationToProto(chain[best], r.mutable_critical_path());
    for (int i = best; i >= 0; i = prev[i]) rows[i].set_on_critical_path(true);
  }

  const int64_t prompt = PromptTokens(r.usage());
  r.set_cache_hit_rate(prompt > 0 ? static_cast<double>(
                                        r.usage().cache_read_tokens()) /
                                        prompt
                                  : 0.0);
  for (const auto& [name, d] : phases) {
    kiln::v1::PhaseTime* p = r.add_phases();
    p->set_phase(name);
    DurationToProto(d, p->mutable_total());
  }
  for (auto& [name, mu] : models) *r.add_models() = std::move(mu);
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return TimeFromProto(a.start_time()) < TimeFromProto(b.start_time());
  });
  for (auto& row : rows) *r.add_tasks() = std::move(row);
  return r;
}

}  // namespace kiln
