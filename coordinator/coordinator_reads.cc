// The coordinator's read API: batches, tasks, artifacts, reports and events.
#include "coordinator/coordinator.h"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/digest.h"
#include "common/entity_ids.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/status.h"
#include "coordinator/assignment.h"
#include "coordinator/batch_states.h"
#include "coordinator/coordinator_internal.h"
#include "coordinator/report.h"
#include "coordinator/store_keys.h"
#include "coordinator/trace_spans.h"

namespace kiln {

using coordinator_internal::JobOf;
using coordinator_internal::TaskNumber;

Coordinator::BatchState* Coordinator::FindBatch(const std::string& id) {
  auto it = batches_.find(id);
  return it == batches_.end() ? nullptr : it->second.get();
}

const Coordinator::BatchState* Coordinator::FindBatch(
    const std::string& id) const {
  auto it = batches_.find(id);
  return it == batches_.end() ? nullptr : it->second.get();
}

std::string Coordinator::BatchOf(const std::string& id) const {
  return std::string(BatchIdOf(id));
}

kiln::v1::TaskCounts Coordinator::Counts(const std::string& batch_id,
                                         const std::string& job_id) const {
  kiln::v1::TaskCounts c;
  std::vector<std::string> jobs;
  if (job_id.empty()) {
    jobs = scheduler_.JobIds(batch_id);
  } else {
    jobs.push_back(job_id);
  }
  for (const auto& j : jobs) {
    for (const auto& t : scheduler_.TaskIds(j)) {
      switch (scheduler_.StateOf(t).value_or(kiln::v1::TASK_STATE_UNSPECIFIED)) {
        case kiln::v1::TASK_STATE_PENDING: c.set_pending(c.pending() + 1); break;
        case kiln::v1::TASK_STATE_READY: c.set_ready(c.ready() + 1); break;
        case kiln::v1::TASK_STATE_HELD: c.set_held(c.held() + 1); break;
        case kiln::v1::TASK_STATE_LEASED: c.set_leased(c.leased() + 1); break;
        case kiln::v1::TASK_STATE_SUCCEEDED: c.set_succeeded(c.succeeded() + 1); break;
        case kiln::v1::TASK_STATE_FAILED: c.set_failed(c.failed() + 1); break;
        case kiln::v1::TASK_STATE_CANCELLED: c.set_cancelled(c.cancelled() + 1); break;
        default: break;
      }
    }
  }
  return c;
}

kiln::v1::Batch Coordinator::BatchProto(const BatchState& b,
                                        kiln::v1::BatchView view) const {
  kiln::v1::Batch out = b.record.batch();
  out.set_last_event_sequence(b.committed_seq);
  if (!b.live) {  // finished before a restart: the record is final
    if (view != kiln::v1::BATCH_VIEW_FULL) out.clear_jobs();
    return out;
  }
  const std::string& id = out.id();
  *out.mutable_tasks() = Counts(id, "");
  if (auto totals = scheduler_.Batch(id)) {
    *out.mutable_usage() = ToUsage(totals->usage);
    out.mutable_usage()->set_requests(totals->llm_requests);
    out.set_cost_usd(totals->cost_usd);
  }
  out.clear_jobs();
  if (view == kiln::v1::BATCH_VIEW_FULL) {
    for (const auto& job_id : scheduler_.JobIds(id)) {
      auto st = b.job_states.find(job_id);
      kiln::v1::Job* j = out.add_jobs();
      *j = JobProto(job_id, id,
                    st == b.job_states.end() ? kiln::v1::JOB_STATE_QUEUED : st->second,
                    *scheduler_.Job(job_id));
      if (const auto* spec = scheduler_.JobSpecOf(job_id)) *j->mutable_spec() = *spec;
      AddLanding(job_id, j);
      *j->mutable_tasks() = Counts(id, job_id);
      *j->mutable_create_time() = out.create_time();
    }
  }
  return out;
}

absl::StatusOr<kiln::v1::Batch> Coordinator::GetBatch(
    const std::string& batch_id, kiln::v1::BatchView view) const {
  const BatchState* b = FindBatch(batch_id);
  if (b == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch_id: no batch ", batch_id));
  }
  return BatchProto(*b, view);
}

absl::StatusOr<kiln::v1::ListBatchesResponse> Coordinator::ListBatches(
    const kiln::v1::ListBatchesRequest& request) const {
  if (request.page_size() < 0 || request.page_size() > 1000) {
    return absl::InvalidArgumentError("page_size: must be in [0, 1000]");
  }
  const int size = request.page_size() == 0 ? 50 : request.page_size();
  std::set<int> states(request.states().begin(), request.states().end());
  kiln::v1::ListBatchesResponse out;
  auto it = request.page_token().empty()
                ? batches_.end()
                : batches_.lower_bound(request.page_token());
  while (it != batches_.begin()) {
    --it;
    const BatchState& b = *it->second;
    if (!states.empty() && !states.count(b.record.batch().state())) continue;
    if (out.batches_size() == size) {
      out.set_next_page_token(out.batches(size - 1).id());
      break;
    }
    *out.add_batches() = BatchProto(b, kiln::v1::BATCH_VIEW_BASIC);
  }
  return out;
}

kiln::v1::Task Coordinator::LiveTask(const TaskInfo& info) const {
  kiln::v1::Task t;
  t.set_id(info.id);
  t.set_batch_id(BatchOf(info.id));
  t.set_job_id(info.job_id);
  t.set_kind(info.kind);
  t.set_path(info.path);
  t.set_state(info.state);
  for (const auto& d : info.deps) t.add_deps(d);
  t.set_prefix_key(info.prefix_key);
  t.set_model(info.model);
  t.set_max_output_tokens(info.max_output_tokens);
  t.set_repair_round(info.repair_round);
  return t;
}

absl::StatusOr<kiln::v1::ListTasksResponse> Coordinator::ListTasks(
    const kiln::v1::ListTasksRequest& request) const {
  const BatchState* b = FindBatch(request.batch_id());
  if (b == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("batch_id: no batch ", request.batch_id()));
  }
  if (request.page_size() < 0 || request.page_size() > 10000) {
    return absl::InvalidArgumentError("page_size: must be in [0, 10000]");
  }
  const int size = request.page_size() == 0 ? 100 : request.page_size();
  int offset = 0;
  if (!request.page_token().empty() &&
      !absl::SimpleAtoi(request.page_token(), &offset)) {
    return absl::InvalidArgumentError("page_token: not from a ListTasks reply");
  }
  // Every task id of the batch (or job) in creation order.
  std::vector<std::string> ids;
  if (b->live) {
    std::vector<std::string> jobs;
    if (request.job_id().empty()) {
      jobs = scheduler_.JobIds(request.batch_id());
    } else {
      jobs.push_back(request.job_id());
    }
    for (const auto& j : jobs) {
      for (auto& t : scheduler_.TaskIds(j)) ids.push_back(std::move(t));
    }
  } else {
    const std::string prefix =
        (request.job_id().empty() ? request.batch_id() : request.job_id()) + "/";
    KILN_RETURN_IF_ERROR(store_->Scan(
        Cf::kTasks, prefix, "", [&ids](absl::string_view k, absl::string_view) {
          ids.emplace_back(k);
          return true;
        }));
    std::stable_sort(ids.begin(), ids.end(), [](const auto& a, const auto& b) {
      const std::string ja = JobOf(a), jb = JobOf(b);
      return ja != jb ? ja < jb : TaskNumber(a) < TaskNumber(b);
    });
  }
  kiln::v1::ListTasksResponse out;
  for (int i = offset; i < static_cast<int>(ids.size()); ++i) {
    if (out.tasks_size() == size) {
      out.set_next_page_token(absl::StrCat(i));
      break;
    }
    kiln::v1::Task t;
    auto dirty = dirty_tasks_.find(ids[i]);
    if (dirty != dirty_tasks_.end()) {
      t = dirty->second;
    } else if (auto v = store_->Get(Cf::kTasks, ids[i]); v.ok()) {
      t.ParseFromString(*v);
    }
    if (b->live) {
      if (auto info = scheduler_.Task(ids[i])) {
        // The scheduler's live fields over the stored record (its attempts,
        // times and output stay); deps are replaced, not appended.
        t.clear_deps();
        t.MergeFrom(LiveTask(*info));
        if (const LeaseRec* l = leases_.Find(ids[i])) *t.mutable_lease() = LeaseProto(ids[i], *l);
      }
    }
    *out.add_tasks() = std::move(t);
  }
  return out;
}

absl::StatusOr<std::vector<kiln::v1::Artifact>> Coordinator::Artifacts(
    const kiln::v1::FetchArtifactsRequest& request) const {
  if (FindBatch(request.batch_id()) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("batch_id: no batch ", request.batch_id()));
  }
  const std::string prefix =
      (request.job_id().empty() ? request.batch_id() : request.job_id()) + "/";
  if (request.patches()) {
    // Each landed job's commit as a patch, named after the job.
    std::vector<kiln::v1::Artifact> out;
    std::vector<std::pair<std::string, kiln::v1::Digest>> found;
    for (const auto& [job_id, landing] : landings_) {
      const bool in_scope = request.job_id().empty()
                                ? absl::StartsWith(job_id, request.batch_id() + "/")
                                : job_id == request.job_id();
      if (in_scope && landing.has_patch()) found.emplace_back(job_id, landing.patch());
    }
    std::sort(found.begin(), found.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [job_id, digest] : found) {
      kiln::v1::Artifact a;
      a.set_job_id(job_id);
      a.set_path(absl::StrCat(JobId::Parse(job_id).name(), ".patch"));
      *a.mutable_digest() = digest;
      out.push_back(std::move(a));
    }
    return out;
  }
  std::vector<kiln::v1::Task> tasks;
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kTasks, prefix, "", [&tasks](absl::string_view, absl::string_view v) {
        kiln::v1::Task t;
        if (t.ParseFromArray(v.data(), static_cast<int>(v.size())) &&
            t.state() == kiln::v1::TASK_STATE_SUCCEEDED &&
            WritesFile(t.kind()) && t.has_output()) {
          tasks.push_back(std::move(t));
        }
        return true;
      }));
  for (const auto& [id, t] : dirty_tasks_) {
    if (absl::StartsWith(id, prefix) && t.state() == kiln::v1::TASK_STATE_SUCCEEDED &&
        WritesFile(t.kind()) && t.has_output()) {
      tasks.push_back(t);
    }
  }
  std::stable_sort(tasks.begin(), tasks.end(), [](const auto& a, const auto& b) {
    return a.job_id() != b.job_id() ? a.job_id() < b.job_id()
                                    : TaskNumber(a.id()) < TaskNumber(b.id());
  });
  std::set<std::string> wanted(request.paths().begin(), request.paths().end());
  // The latest version of each (job, path).
  std::map<std::pair<std::string, std::string>, kiln::v1::Artifact> latest;
  for (const auto& t : tasks) {
    if (!wanted.empty() && !wanted.count(t.path())) continue;
    latest[{t.job_id(), t.path()}] = t.output();
  }
  std::vector<kiln::v1::Artifact> out;
  for (auto& [k, a] : latest) out.push_back(std::move(a));
  return out;
}

absl::StatusOr<kiln::v1::Report> Coordinator::GetReport(
    const std::string& batch_id) const {
  const BatchState* b = FindBatch(batch_id);
  if (b == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch_id: no batch ", batch_id));
  }
  if (b->record.batch().state() == kiln::v1::BATCH_STATE_QUEUED) {
    return absl::FailedPreconditionError(
        absl::StrCat("batch ", batch_id, " has not started"));
  }
  std::vector<kiln::v1::Task> tasks;
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kTasks, batch_id + "/", "",
      [this, &tasks](absl::string_view k, absl::string_view v) {
        if (dirty_tasks_.count(std::string(k))) return true;
        kiln::v1::Task t;
        if (t.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          tasks.push_back(std::move(t));
        }
        return true;
      }));
  for (const auto& [id, t] : dirty_tasks_) {
    if (BatchOf(id) == batch_id) tasks.push_back(t);
  }
  if (b->live) {
    for (auto& t : tasks) {
      if (auto s = scheduler_.StateOf(t.id())) t.set_state(*s);
    }
  }
  const absl::Duration bound =
      b->live ? scheduler_.LowerBound(batch_id)
              : DurationFromProto(b->record.lower_bound());
  return BuildReport(batch_id, b->record.batch().state(), tasks, bound);
}

absl::StatusOr<int64_t> Coordinator::Watch(const std::string& batch_id,
                                           WatchSink* sink) {
  BatchState* b = FindBatch(batch_id);
  if (b == nullptr) {
    return absl::NotFoundError(absl::StrCat("batch_id: no batch ", batch_id));
  }
  b->watchers.insert(sink);
  return b->committed_seq;
}

void Coordinator::Unwatch(const std::string& batch_id, WatchSink* sink) {
  if (BatchState* b = FindBatch(batch_id)) b->watchers.erase(sink);
}

absl::Status Coordinator::ReadEvents(const Store& store,
                                     const std::string& batch_id, int64_t after,
                                     int limit,
                                     std::vector<kiln::v1::Event>* out) {
  const std::string prefix = SeqPrefix(batch_id);
  const std::string from = after > 0 ? SeqKey(batch_id, after) : "";
  return store.Scan(Cf::kEvents, prefix, from,
                    [&](absl::string_view, absl::string_view v) {
                      kiln::v1::Event e;
                      if (e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                        out->push_back(std::move(e));
                      }
                      return static_cast<int>(out->size()) < limit;
                    });
}

bool Coordinator::IsFinal(const kiln::v1::Event& event) {
  return event.has_batch() && IsTerminal(event.batch().state());
}

}  // namespace kiln
