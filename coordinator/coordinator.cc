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
#include "coordinator/report.h"
#include "coordinator/store_keys.h"
#include "coordinator/trace_spans.h"

namespace kiln {

using kiln::v1::TaskResult;

namespace {

// The n of a task id "<job id>/<n>" (for creation order).
int TaskNumber(const std::string& task_id) { return TaskId::Parse(task_id).number(); }

std::string JobOf(const std::string& task_id) { return TaskId::Parse(task_id).job_id().str(); }

AttemptOutcome ToOutcome(const kiln::v1::LoggedResult& r) {
  switch (r.outcome()) {
    case TaskResult::OUTCOME_SUCCEEDED:
      return AttemptOutcome::kSucceeded;
    case TaskResult::OUTCOME_FAILED:
      return AttemptOutcome::kFailed;
    case TaskResult::OUTCOME_CHECK_FAILED:
      return AttemptOutcome::kCheckFailed;
    default:
      return r.capacity() ? AttemptOutcome::kCapacity
                          : AttemptOutcome::kRetryable;
  }
}

AttemptReport ToReport(const kiln::v1::LoggedResult& r) {
  AttemptReport rep;
  rep.outcome = ToOutcome(r);
  rep.usage.input = r.usage().input_tokens();
  rep.usage.cache_read = r.usage().cache_read_tokens();
  rep.usage.cache_write = r.usage().cache_write_tokens();
  rep.usage.output = r.usage().output_tokens();
  rep.cost_usd = r.cost_usd();
  rep.uncached_cost_usd = r.uncached_cost_usd();
  rep.error = r.error();
  rep.plan_files.assign(r.plan_files().begin(), r.plan_files().end());
  return rep;
}

}  // namespace

struct Coordinator::BatchState {
  kiln::v1::BatchRecord record;
  bool live = false;          // admitted to the scheduler
  bool cancel_requested = false;
  int64_t last_seq = 0;       // events staged
  int64_t committed_seq = 0;  // events durable
  int64_t log_seq = 0;
  std::map<std::string, kiln::v1::JobState> job_states;
  std::set<WatchSink*> watchers;
};

struct Coordinator::SessionRec {
  std::string id;
  std::string worker_id;
  SessionSink* sink = nullptr;
  kiln::v1::Capabilities caps;
};

Coordinator::Coordinator(Store* store, const Clock* clock,
                         const ModelCatalog* models,
                         CoordinatorOptions options)
    : store_(store),
      clock_(clock),
      models_(models),
      options_(std::move(options)),
      ids_(clock, options_.id_seed != 0 ? options_.id_seed
                                        : std::random_device{}()),
      blobs_(store),
      cache_(store),
      scheduler_(clock, models, options_.scheduler),
      semaphores_(clock, options_.semaphores),
      tracer_(options_.tracer != nullptr ? options_.tracer : &disabled_tracer_) {}

Coordinator::~Coordinator() = default;

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Open(
    Store* store, const Clock* clock, const ModelCatalog* models,
    CoordinatorOptions options) {
  std::unique_ptr<Coordinator> c(
      new Coordinator(store, clock, models, std::move(options)));
  KILN_RETURN_IF_ERROR(c->Load());
  return c;
}

// ---------------------------------------------------------------- loading

absl::Status Coordinator::Load() {
  auto epoch = store_->Get(Cf::kMeta, kEpochKey);
  epoch_ = (epoch.ok() ? static_cast<int64_t>(DecodeU64(*epoch)) : 0) + 1;
  {
    rocksdb::WriteBatch wb;
    wb.Put(store_->cf(Cf::kMeta), kEpochKey, EncodeU64(epoch_));
    KILN_RETURN_IF_ERROR(store_->Write(&wb, /*sync=*/true));
  }
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kMeta, kRequestPrefix, "",
      [this](absl::string_view k, absl::string_view v) {
        request_ids_[std::string(KeySuffix(k, kRequestPrefix))] = std::string(v);
        return true;
      }));

  // Semaphores: the token counter and the leases live at the stop.
  auto token = store_->Get(Cf::kMeta, kSemaphoreTokenKey);
  semaphores_ = SemaphoreTable(
      clock_, options_.semaphores,
      token.ok() ? static_cast<int64_t>(DecodeU64(*token)) : 0);
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kSemaphores, kSemaphoreLeasePrefix, "",
      [this](absl::string_view, absl::string_view v) {
        kiln::v1::SemaphoreGrant g;
        if (g.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          semaphores_.Restore(g);
        }
        return true;
      }));

  // Batches: finished ones stay on disk; unfinished ones are replayed.
  std::vector<kiln::v1::BatchRecord> records;
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kBatches, "", "", [&records](absl::string_view, absl::string_view v) {
        kiln::v1::BatchRecord r;
        if (r.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          records.push_back(std::move(r));
        }
        return true;
      }));
  for (auto& r : records) {
    auto b = std::make_unique<BatchState>();
    const std::string id = r.batch().id();
    b->record = std::move(r);
    // The last event and log sequence numbers.
    KILN_RETURN_IF_ERROR(store_->Scan(
        Cf::kEvents, SeqPrefix(id), "",
        [&b, &id](absl::string_view k, absl::string_view) {
          b->last_seq = SeqOf(k, id);
          return true;
        }));
    b->committed_seq = b->last_seq;
    KILN_RETURN_IF_ERROR(store_->Scan(
        Cf::kJobs, id + "/", "", [&b](absl::string_view, absl::string_view v) {
          kiln::v1::Job j;
          if (j.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            b->job_states[j.id()] = j.state();
          }
          return true;
        }));
    BatchState& ref = *b;
    batches_[id] = std::move(b);
    if (!IsTerminal(ref.record.batch().state())) {
      KILN_RETURN_IF_ERROR(ReplayBatch(ref));
    }
  }
  (void)scheduler_.TakeEvents();
  (void)scheduler_.TakeCancelledLeases();

  // Leases live at the stop: kept for one TTL for their workers to report.
  const MonotonicTime now = clock_->MonotonicNow();
  rocksdb::WriteBatch stale;
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kMeta, kLeasePrefix, "",
      [&](absl::string_view k, absl::string_view v) {
        kiln::v1::Lease lease;
        const bool parsed =
            lease.ParseFromArray(v.data(), static_cast<int>(v.size()));
        if (!parsed ||
            !scheduler_.Adopt(lease.task_id(), lease.attempt()).ok()) {
          stale.Delete(store_->cf(Cf::kMeta),
                       rocksdb::Slice(k.data(), k.size()));
          return true;
        }
        LeaseRec l;
        l.attempt = lease.attempt();
        l.epoch = lease.epoch();
        l.worker_id = lease.worker_id();
        l.expires = now + options_.lease_ttl;
        l.start = TimeFromProto(lease.expire_time()) - options_.lease_ttl;
        leases_.Grant(lease.task_id(), l);
        auto info = scheduler_.Task(lease.task_id());
        const std::string key =
            KeyFor(*info, *scheduler_.JobSpecOf(info->job_id));
        cache_.Start(key, {info->id, l.attempt});
        leader_key_[info->id] = key;
        return true;
      }));
  (void)scheduler_.TakeEvents();
  if (stale.Count() > 0) KILN_RETURN_IF_ERROR(store_->Write(&stale, true));
  return absl::OkStatus();
}

absl::Status Coordinator::ReplayBatch(BatchState& b) {
  const std::string& id = b.record.batch().id();
  KILN_RETURN_IF_ERROR(scheduler_.AddBatch(id, b.record.batch().spec()));
  b.live = true;
  absl::Status replay;
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kLog, SeqPrefix(id), "",
      [&](absl::string_view k, absl::string_view v) {
        b.log_seq = SeqOf(k, id);
        kiln::v1::LogEntry e;
        if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          replay = absl::DataLossError(
              absl::StrCat("log entry ", b.log_seq, " of batch ", id,
                           " does not parse"));
          return false;
        }
        absl::Status s;
        switch (e.entry_case()) {
          case kiln::v1::LogEntry::kResult: {
            const auto& r = e.result();
            const std::string& task = r.attempt().task_id();
            s = scheduler_.Adopt(task, r.attempt().attempt());
            if (s.ok()) {
              s = scheduler_.OnResult(task, r.attempt().attempt(), ToReport(r));
            }
            if (s.ok() && (r.outcome() == TaskResult::OUTCOME_SUCCEEDED ||
                           r.outcome() == TaskResult::OUTCOME_CHECK_FAILED)) {
              TaskOutput& out = outputs_[task];
              if (r.artifacts_size() > 0) out.artifact = r.artifacts(0);
              out.diagnostics = r.diagnostics();
            }
            break;
          }
          case kiln::v1::LogEntry::kLeaseLost: {
            const auto& a = e.lease_lost();
            s = scheduler_.Adopt(a.task_id(), a.attempt());
            if (s.ok()) s = scheduler_.OnLeaseLost(a.task_id(), a.attempt());
            break;
          }
          case kiln::v1::LogEntry::kCancelReason:
            b.cancel_requested = true;
            s = scheduler_.CancelBatch(id, e.cancel_reason());
            break;
          default:
            break;
        }
        if (!s.ok()) {
          replay = absl::DataLossError(absl::StrCat(
              "replaying log entry ", b.log_seq, " of batch ", id, ": ",
              s.message()));
          return false;
        }
        (void)scheduler_.TakeEvents();
        return true;
      }));
  return replay;
}

// ---------------------------------------------------------------- staging

void Coordinator::After(std::function<void(const absl::Status&)> fn) {
  after_commit_.push_back(std::move(fn));
}

void Coordinator::SendAfterCommit(const std::string& session_id,
                                  kiln::v1::CoordinatorMessage message) {
  After([this, session_id, m = std::move(message)](const absl::Status& st) {
    auto it = sessions_.find(session_id);
    if (st.ok() && it != sessions_.end()) it->second->sink->Send(m);
  });
}

void Coordinator::Log(const std::string& batch_id,
                      const kiln::v1::LogEntry& entry) {
  BatchState* b = FindBatch(batch_id);
  if (b == nullptr) return;
  batch_.Put(store_->cf(Cf::kLog), SeqKey(batch_id, ++b->log_seq),
             entry.SerializeAsString());
}

kiln::v1::Task& Coordinator::TaskRecord(const std::string& task_id) {
  auto it = dirty_tasks_.find(task_id);
  if (it != dirty_tasks_.end()) return it->second;
  kiln::v1::Task t;
  auto v = store_->Get(Cf::kTasks, task_id);
  if (!v.ok() || !t.ParseFromString(*v)) {
    t.Clear();
    if (auto info = scheduler_.Task(task_id)) t = LiveTask(*info);
    TimeToProto(clock_->Now(), t.mutable_create_time());
  }
  auto ready = ready_since_.find(task_id);
  if (ready != ready_since_.end()) {
    if (!t.has_ready_time()) TimeToProto(ready->second, t.mutable_ready_time());
    ready_since_.erase(ready);
  }
  return dirty_tasks_.emplace(task_id, std::move(t)).first->second;
}

void Coordinator::AddEvent(BatchState& b, kiln::v1::Event event) {
  event.set_sequence(++b.last_seq);
  event.set_batch_id(b.record.batch().id());
  TimeToProto(clock_->Now(), event.mutable_time());
  batch_.Put(store_->cf(Cf::kEvents), SeqKey(event.batch_id(), event.sequence()),
             event.SerializeAsString());
  notify_.insert(&b);
}

void Coordinator::PersistBatch(BatchState& b) {
  b.record.mutable_batch()->set_last_event_sequence(b.last_seq);
  batch_.Put(store_->cf(Cf::kBatches), b.record.batch().id(),
             b.record.SerializeAsString());
}

void Coordinator::DrainSchedulerEvents() {
  std::set<BatchState*> touched;
  for (TaskEvent& e : scheduler_.TakeEvents()) {
    // Creation (PENDING, attempt 0) is implied by the submission.
    if (e.state == kiln::v1::TASK_STATE_PENDING) continue;
    BatchState* b = FindBatch(BatchOf(e.task_id));
    if (b == nullptr) continue;
    touched.insert(b);
    kiln::v1::Event ev;
    kiln::v1::TaskStateChanged* t = ev.mutable_task();
    t->set_task_id(e.task_id);
    t->set_job_id(JobOf(e.task_id));
    t->set_state(e.state);
    t->set_attempt(e.attempt);
    auto info = scheduler_.Task(e.task_id);
    if (info) {
      t->set_kind(info->kind);
      t->set_path(info->path);
    }
    t->set_repaired_by(e.repaired_by);
    if (const LeaseRec* lease = leases_.Find(e.task_id)) t->set_worker_id(lease->worker_id);
    // The attempt that just ended (its record was written this turn): its
    // usage and cost, so watchers can total them from events alone.
    const bool attempt_ended =
        IsTerminal(e.state) || (e.state == kiln::v1::TASK_STATE_READY && !e.reason.empty());
    if (attempt_ended) {
      auto rec = dirty_tasks_.find(e.task_id);
      if (rec != dirty_tasks_.end() && rec->second.attempts_size() > 0) {
        const kiln::v1::AttemptRecord& last =
            rec->second.attempts(rec->second.attempts_size() - 1);
        if (last.attempt() == e.attempt) {
          *t->mutable_usage() = last.usage();
          t->set_cost_usd(last.cost_usd());
          if (t->worker_id().empty()) t->set_worker_id(last.worker_id());
        }
      }
    }
    if (!e.reason.empty() && (e.state == kiln::v1::TASK_STATE_FAILED ||
                              e.state == kiln::v1::TASK_STATE_CANCELLED ||
                              e.state == kiln::v1::TASK_STATE_READY)) {
      t->mutable_error()->set_message(e.reason);
    }
    if (e.state == kiln::v1::TASK_STATE_READY) {
      ready_since_.emplace(e.task_id, clock_->Now());  // keeps the first
    } else if (e.state == kiln::v1::TASK_STATE_LEASED && info) {
      // The job's phase follows what it runs.
      const std::string job = JobOf(e.task_id);
      const kiln::v1::JobState next = JobStateWhileRunning(info->kind);
      kiln::v1::JobState& cur = b->job_states[job];
      if (!IsTerminal(cur) && cur != next) {
        cur = next;
        const JobStatus js = scheduler_.Job(job).value_or(JobStatus());
        AddEvent(*b, JobChangedEvent(JobProto(job, b->record.batch().id(), next, js), js.name));
      }
    } else if (IsTerminal(e.state)) {
      kiln::v1::Task& rec = TaskRecord(e.task_id);
      rec.set_state(e.state);
      const absl::Time now = clock_->Now();
      TimeToProto(now, rec.mutable_end_time());
      if (e.state != kiln::v1::TASK_STATE_SUCCEEDED && !e.reason.empty()) {
        rec.mutable_error()->set_message(e.reason);
      }
      RecordTaskSpan(*tracer_, BatchTraceOf(b->record), rec, now);
    }
    AddEvent(*b, std::move(ev));
  }
  for (BatchState* b : touched) UpdateJobAndBatchStates(*b);
}

void Coordinator::UpdateJobAndBatchStates(BatchState& b) {
  const std::string& id = b.record.batch().id();
  kiln::v1::Batch* batch = b.record.mutable_batch();
  JobsSummary jobs;
  for (const std::string& job_id : scheduler_.JobIds(id)) {
    auto js = scheduler_.Job(job_id);
    kiln::v1::JobState& cur = b.job_states[job_id];
    if (js->phase != JobPhase::kRunning && !IsTerminal(cur)) {
      cur = JobStateOf(js->phase);
      kiln::v1::Job rec = JobProto(job_id, id, cur, *js);
      AddEvent(b, JobChangedEvent(rec, js->name));
      TimeToProto(clock_->Now(), rec.mutable_end_time());
      batch_.Put(store_->cf(Cf::kJobs), job_id, rec.SerializeAsString());
      if (const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(job_id)) {
        RecordJobSpan(*tracer_, BatchTraceOf(b.record), rec, spec->repo(),
                      TimeFromProto(batch->create_time()), clock_->Now());
      }
    }
    jobs.Add(cur);
  }
  batch->set_jobs_done(jobs.done);
  auto totals = scheduler_.Batch(id);
  const kiln::v1::BatchState current = batch->state();
  const kiln::v1::BatchState next =
      NextBatchState(current, jobs, totals && totals->done, b.cancel_requested);
  if (next == current) return;
  if (current == kiln::v1::BATCH_STATE_QUEUED && jobs.any_started) {
    TimeToProto(clock_->Now(), batch->mutable_start_time());
  }
  if (IsTerminal(next)) TimeToProto(clock_->Now(), batch->mutable_end_time());
  batch->set_state(next);
  if (IsTerminal(next)) {
    // Final totals and jobs, for queries after a restart.
    kiln::v1::Batch full = BatchProto(b, kiln::v1::BATCH_VIEW_FULL);
    *batch = full;
    DurationToProto(scheduler_.LowerBound(id), b.record.mutable_lower_bound());
  }
  kiln::v1::Event be;
  kiln::v1::BatchStateChanged* bs = be.mutable_batch();
  bs->set_state(next);
  *bs->mutable_tasks() = Counts(id, "");
  if (totals) {
    *bs->mutable_usage() = ToUsage(totals->usage);
    bs->set_cost_usd(totals->cost_usd);
  }
  AddEvent(b, std::move(be));
  PersistBatch(b);
  if (IsTerminal(next)) RecordBatchSpan(*tracer_, b.record);
}

void Coordinator::StageSemaphoreChanges() {
  for (const kiln::v1::SemaphoreGrant& g : semaphores_.TakeChanges()) {
    const kiln::v1::SemaphoreLease& l = g.lease();
    const std::string live = SemaphoreLeaseKey(l.semaphore(), l.lease_id());
    const std::string hist = SemaphoreHistoryKey(l.semaphore(), l.fencing_token());
    if (g.end_micros() == 0) {
      batch_.Put(store_->cf(Cf::kSemaphores), live, g.SerializeAsString());
    } else {
      batch_.Delete(store_->cf(Cf::kSemaphores), live);
    }
    batch_.Put(store_->cf(Cf::kSemaphores), hist, g.SerializeAsString());
    batch_.Put(store_->cf(Cf::kMeta), kSemaphoreTokenKey,
               EncodeU64(static_cast<uint64_t>(semaphores_.last_token())));
  }
}

absl::Status Coordinator::Commit() {
  StageSemaphoreChanges();
  for (auto& [id, t] : dirty_tasks_) {
    batch_.Put(store_->cf(Cf::kTasks), id, t.SerializeAsString());
  }
  dirty_tasks_.clear();
  absl::Status status = store_->sticky_error();
  if (status.ok() && batch_.Count() > 0) {
    status = store_->Write(&batch_, /*sync=*/true);
    stats_.commits++;
  }
  batch_.Clear();
  if (status.ok()) {
    std::set<BatchState*> notify;
    notify.swap(notify_);
    for (BatchState* b : notify) {
      b->committed_seq = b->last_seq;
      const std::set<WatchSink*> watchers = b->watchers;
      for (WatchSink* w : watchers) w->Notify(b->committed_seq);
    }
  } else {
    notify_.clear();
  }
  std::vector<std::function<void(const absl::Status&)>> after;
  after.swap(after_commit_);
  for (auto& fn : after) fn(status);
  return status;
}

// ---------------------------------------------------------------- jobs

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

void Coordinator::SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                              Done<kiln::v1::SubmitBatchResponse> done) {
  SubmitBatch(request, TraceContext(), std::move(done));
}

void Coordinator::SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                              const TraceContext& parent,
                              Done<kiln::v1::SubmitBatchResponse> done) {
  if (!request.request_id().empty()) {
    auto it = request_ids_.find(request.request_id());
    if (it != request_ids_.end()) {
      kiln::v1::SubmitBatchResponse r;
      *r.mutable_batch() =
          BatchProto(*FindBatch(it->second), kiln::v1::BATCH_VIEW_BASIC);
      Reply(std::move(done), absl::StatusOr<kiln::v1::SubmitBatchResponse>(r));
      return;
    }
  }
  const std::string id = ids_.Next("b");
  absl::Status added = scheduler_.AddBatch(id, request.spec());
  if (!added.ok()) {
    done(added);
    return;
  }
  auto b = std::make_unique<BatchState>();
  b->live = true;
  kiln::v1::Batch* batch = b->record.mutable_batch();
  batch->set_id(id);
  *batch->mutable_spec() = request.spec();
  batch->set_state(kiln::v1::BATCH_STATE_QUEUED);
  TimeToProto(clock_->Now(), batch->mutable_create_time());
  const std::vector<std::string> jobs = scheduler_.JobIds(id);
  batch->set_jobs_total(static_cast<int>(jobs.size()));
  for (const auto& j : jobs) b->job_states[j] = kiln::v1::JOB_STATE_QUEUED;
  b->record.set_request_id(request.request_id());
  StartBatchTrace(*tracer_, parent, &b->record);
  BatchState& ref = *b;
  batches_[id] = std::move(b);
  if (!request.request_id().empty()) {
    request_ids_[request.request_id()] = id;
    batch_.Put(store_->cf(Cf::kMeta), RequestKey(request.request_id()), id);
  }
  kiln::v1::Event ev;
  ev.mutable_batch()->set_state(kiln::v1::BATCH_STATE_QUEUED);
  *ev.mutable_batch()->mutable_tasks() = Counts(id, "");
  AddEvent(ref, std::move(ev));
  PersistBatch(ref);
  DrainSchedulerEvents();
  kiln::v1::SubmitBatchResponse r;
  *r.mutable_batch() = BatchProto(ref, kiln::v1::BATCH_VIEW_BASIC);
  Reply(std::move(done), absl::StatusOr<kiln::v1::SubmitBatchResponse>(r));
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
        kiln::v1::Task live = LiveTask(*info);
        t.set_id(live.id());
        t.set_batch_id(live.batch_id());
        t.set_job_id(live.job_id());
        t.set_kind(live.kind());
        t.set_path(live.path());
        t.set_state(live.state());
        *t.mutable_deps() = live.deps();
        t.set_prefix_key(live.prefix_key());
        t.set_model(live.model());
        t.set_max_output_tokens(live.max_output_tokens());
        t.set_repair_round(live.repair_round());
        if (const LeaseRec* l = leases_.Find(ids[i])) *t.mutable_lease() = LeaseProto(ids[i], *l);
      }
    }
    *out.add_tasks() = std::move(t);
  }
  return out;
}

void Coordinator::CancelBatch(const kiln::v1::CancelBatchRequest& request,
                              Done<kiln::v1::Batch> done) {
  BatchState* b = FindBatch(request.batch_id());
  if (b == nullptr) {
    done(absl::NotFoundError(
        absl::StrCat("batch_id: no batch ", request.batch_id())));
    return;
  }
  if (b->live && !IsTerminal(b->record.batch().state())) {
    const std::string reason =
        request.reason().empty() ? "cancelled by the user" : request.reason();
    b->cancel_requested = true;
    kiln::v1::LogEntry e;
    e.set_cancel_reason(reason);
    Log(request.batch_id(), e);
    (void)scheduler_.CancelBatch(request.batch_id(), reason);
    SendCancels();
    DrainSchedulerEvents();
  }
  Reply(std::move(done), absl::StatusOr<kiln::v1::Batch>(
                             BatchProto(*b, kiln::v1::BATCH_VIEW_BASIC)));
}

absl::StatusOr<std::vector<kiln::v1::Artifact>> Coordinator::Artifacts(
    const kiln::v1::FetchArtifactsRequest& request) const {
  if (FindBatch(request.batch_id()) == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("batch_id: no batch ", request.batch_id()));
  }
  const std::string prefix =
      (request.job_id().empty() ? request.batch_id() : request.job_id()) + "/";
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

// ---------------------------------------------------------------- workers

kiln::v1::Lease Coordinator::LeaseProto(const std::string& task_id,
                                        const LeaseRec& l) const {
  return LeaseToProto(task_id, l, clock_->Now(), clock_->MonotonicNow());
}

absl::StatusOr<std::string> Coordinator::OpenSession(
    const kiln::v1::Register& request, SessionSink* sink) {
  const auto& caps = request.capabilities();
  if (caps.llm_slots() < 0 || caps.build_slots() < 0) {
    return absl::InvalidArgumentError(
        "capabilities: llm_slots and build_slots must not be negative");
  }
  auto s = std::make_unique<SessionRec>();
  s->id = absl::StrCat("s", epoch_, "-", next_session_++);
  s->worker_id = request.worker_id().empty() ? ids_.Next("w") : request.worker_id();
  s->sink = sink;
  s->caps = caps;
  SessionRec& session = *s;

  // A newer session fences the older one.
  auto old = worker_session_.find(session.worker_id);
  if (old != worker_session_.end()) {
    auto it = sessions_.find(old->second);
    if (it != sessions_.end()) {
      SessionSink* old_sink = it->second->sink;
      After([old_sink](const absl::Status&) {
        old_sink->Close(absl::AbortedError(
            "this session was replaced by a newer session of the same worker"));
      });
      leases_.RemoveSession(it->first);
      sessions_.erase(it);
    }
  }
  leases_.AddSession(session.id, caps.llm_slots());
  sessions_[session.id] = std::move(s);
  worker_session_[session.worker_id] = session.id;

  kiln::v1::CoordinatorMessage reg;
  kiln::v1::Registered* r = reg.mutable_registered();
  r->set_worker_id(session.worker_id);
  r->set_session_id(session.id);
  r->set_epoch(epoch_);
  DurationToProto(options_.heartbeat_interval, r->mutable_heartbeat_interval());
  DurationToProto(options_.lease_ttl, r->mutable_lease_ttl());
  const std::string sid = session.id;
  After([this, sid, reg](const absl::Status& st) {
    auto it = sessions_.find(sid);
    if (it == sessions_.end()) return;
    if (!st.ok()) {
      it->second->sink->Close(st);
      return;
    }
    it->second->sink->Send(reg);
  });

  // In-flight work: keep what is still this worker's current lease.
  std::set<std::string> reported;
  const MonotonicTime now = clock_->MonotonicNow();
  for (const kiln::v1::Lease& lease : request.in_flight()) {
    if (leases_.IsCurrent(lease.task_id(), lease.attempt(), lease.epoch(),
                          session.worker_id)) {
      leases_.Rebind(lease.task_id(), session.id, now + options_.lease_ttl);
      reported.insert(lease.task_id());
      continue;
    }
    kiln::v1::CoordinatorMessage cancel;
    *cancel.mutable_cancel()->mutable_lease() = lease;
    cancel.mutable_cancel()->set_reason(
        "not a current lease (finished, reassigned or from an older epoch)");
    SendAfterCommit(sid, std::move(cancel));
  }
  // Leases of this worker it no longer runs (it restarted): requeue now.
  std::vector<std::string> lost;
  for (const std::string& task : leases_.TasksOf(session.worker_id)) {
    if (!reported.count(task)) lost.push_back(task);
  }
  for (const auto& task : lost) {
    LoseLease(task, absl::StrCat("worker ", session.worker_id,
                                 " reconnected without it"));
  }
  return sid;
}

void Coordinator::CloseSession(const std::string& session_id) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  auto w = worker_session_.find(it->second->worker_id);
  if (w != worker_session_.end() && w->second == session_id) {
    worker_session_.erase(w);
  }
  leases_.RemoveSession(session_id);
  sessions_.erase(it);
}

void Coordinator::OnWorkerMessage(const std::string& session_id,
                                  const kiln::v1::WorkerMessage& message) {
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) return;
  SessionRec& s = *it->second;
  switch (message.msg_case()) {
    case kiln::v1::WorkerMessage::kHeartbeat:
      OnHeartbeat(s, message.heartbeat());
      break;
    case kiln::v1::WorkerMessage::kProgress:
      OnProgress(s, message.progress());
      break;
    case kiln::v1::WorkerMessage::kResult:
      OnResult(s, message.result());
      break;
    default:
      break;
  }
}

void Coordinator::OnHeartbeat(SessionRec& s, const kiln::v1::Heartbeat& hb) {
  const MonotonicTime expires = clock_->MonotonicNow() + options_.lease_ttl;
  for (const kiln::v1::Lease& lease : hb.active()) {
    if (!leases_.IsCurrent(lease.task_id(), lease.attempt(), /*epoch=*/-1, s.worker_id)) {
      continue;
    }
    leases_.Renew(lease.task_id(), expires);
  }
}

void Coordinator::OnProgress(SessionRec& s, const kiln::v1::Progress& p) {
  if (!leases_.IsCurrent(p.lease().task_id(), p.lease().attempt(), p.lease().epoch(),
                         s.worker_id)) {
    return;
  }
  if (p.first_token()) {
    (void)scheduler_.OnFirstToken(p.lease().task_id(), p.lease().attempt());
  }
  // The attempt runs checks now: its LLM slot takes another assignment.
  if (p.llm_done()) leases_.FreeLlmSlot(p.lease().task_id());
  if (!p.first_token() && p.output_tokens_so_far() == 0) return;
  BatchState* b = FindBatch(BatchOf(p.lease().task_id()));
  if (b == nullptr) return;
  kiln::v1::Event ev;
  kiln::v1::TaskProgress* tp = ev.mutable_progress();
  tp->set_task_id(p.lease().task_id());
  tp->set_attempt(p.lease().attempt());
  tp->set_first_token(p.first_token());
  tp->set_output_tokens_so_far(p.output_tokens_so_far());
  AddEvent(*b, std::move(ev));
}

bool Coordinator::Supports(const SessionRec& s, const std::string& model) const {
  // A task without a model (BUILD) calls no LLM: any worker runs it.
  if (model.empty() || s.caps.providers_size() == 0) return true;
  for (const auto& p : s.caps.providers()) {
    if (p.models_size() == 0) return true;
    for (const auto& m : p.models()) {
      if (m == model) return true;
    }
  }
  return false;
}

std::string Coordinator::KeyFor(const TaskInfo& info,
                                const kiln::v1::JobSpec& spec) {
  ActionInputs in;
  in.job = &spec;
  auto jd = job_digest_.find(info.job_id);
  if (jd == job_digest_.end() || jd->second.first != spec.files_size()) {
    jd = job_digest_.insert_or_assign(
        info.job_id, std::make_pair(spec.files_size(), JobInputsDigest(spec))).first;
  }
  in.job_digest = jd->second.second;
  if (!info.path.empty()) in.file = FileOf(info.job_id, spec, info.path);
  in.kind = info.kind;
  in.path = info.path;
  in.model = info.model;
  for (const auto& dep : info.deps) {
    auto it = outputs_.find(dep);
    if (it != outputs_.end() && !it->second.artifact.path().empty()) {
      in.inputs.push_back(it->second.artifact);
    }
  }
  if (!info.repairs.empty()) {
    auto it = outputs_.find(info.repairs);
    if (it != outputs_.end()) {
      in.repaired = it->second.artifact.digest();
      in.diagnostics = it->second.diagnostics;
    }
  }
  return ActionKey(in);
}

void Coordinator::Pump() {
  scheduler_.Tick();
  ExpireLeases();
  semaphores_.Expire();
  Dispatch();
  SendCancels();
  DrainSchedulerEvents();
}

void Coordinator::Dispatch() {
  // One task at a time to the least loaded session (fewest leases, checks
  // included), so that a small batch spreads over the workers instead of
  // filling the first one's slots and queueing on its build slots.
  using Load = std::pair<int, SessionRec*>;
  auto more = [](const Load& a, const Load& b) {
    return a.first != b.first ? a.first > b.first : a.second->id > b.second->id;
  };
  std::priority_queue<Load, std::vector<Load>, decltype(more)> open(more);
  for (auto& [id, s] : sessions_) {
    const SessionSlots* slots = leases_.Slots(id);
    if (slots->has_free_slot()) open.push({slots->leases, s.get()});
  }
  while (!open.empty()) {
    SessionRec* s = open.top().second;
    open.pop();
    if (!DispatchTo(*s, 1)) continue;  // nothing (more) this session can run
    const SessionSlots* slots = leases_.Slots(s->id);
    if (slots->has_free_slot()) open.push({slots->leases, s});
  }
}

bool Coordinator::DispatchTo(SessionRec& s, int max) {
  bool requeued = false;
  bool any = false;
  const SessionSlots* slots = leases_.Slots(s.id);
  while (!requeued && slots->has_free_slot() && max > 0) {
    std::vector<Dispatched> ds =
        scheduler_.Dispatch(std::min(max, slots->slots - slots->assigned));
    if (ds.empty()) break;
    any = true;
    for (const Dispatched& d : ds) {
      if (!Supports(s, d.model)) {
        (void)scheduler_.Requeue(d.task_id, d.attempt);
        requeued = true;
        continue;
      }
      auto info = scheduler_.Task(d.task_id);
      const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(d.job_id);
      const std::string key = KeyFor(*info, *spec);
      if (auto cached = cache_.Lookup(key)) {
        CompleteFromCache(d.task_id, d.attempt, *cached, /*dedup=*/false);
        continue;
      }
      if (cache_.Follow(key, {d.task_id, d.attempt})) {
        follower_key_[d.task_id] = key;
        stats_.dedup_followers++;
        continue;
      }
      cache_.Start(key, {d.task_id, d.attempt});
      leader_key_[d.task_id] = key;
      Assign(s, d, *info, *spec);
      --max;
    }
  }
  return any && !requeued;
}

void Coordinator::Assign(SessionRec& s, const Dispatched& d,
                         const TaskInfo& info, const kiln::v1::JobSpec& spec) {
  const MonotonicTime now = clock_->MonotonicNow();
  LeaseRec l;
  l.attempt = d.attempt;
  l.epoch = epoch_;
  l.worker_id = s.worker_id;
  l.session_id = s.id;
  l.expires = now + options_.lease_ttl;
  l.start = clock_->Now();
  leases_.Grant(d.task_id, l);
  const kiln::v1::Lease lease = LeaseProto(d.task_id, l);
  batch_.Put(store_->cf(Cf::kMeta), LeaseKey(d.task_id), lease.SerializeAsString());

  AssignmentInputs in;
  in.lease = lease;
  in.task = LiveTask(info);
  in.info = &info;
  in.spec = &spec;
  in.output_of = [this](const std::string& task_id) -> const TaskOutput* {
    auto it = outputs_.find(task_id);
    return it == outputs_.end() ? nullptr : &it->second;
  };
  in.file_of = [this, &d, &spec](const std::string& path) {
    return FileOf(d.job_id, spec, path);
  };
  if (!info.repairs.empty()) {
    // A repair sees what the file's first version saw: its deps' code.
    auto origin = scheduler_.Task(info.repairs);
    while (origin && origin->kind == kiln::v1::TASK_KIND_REPAIR && !origin->repairs.empty()) {
      origin = scheduler_.Task(origin->repairs);
    }
    if (origin) in.origin_deps = origin->deps;
  }
  if (const BatchState* b = FindBatch(BatchOf(d.task_id))) {
    const TraceContext trace = BatchTraceOf(b->record);
    if (trace.valid()) {
      in.traceparent = FormatTraceparent(CoordinatorSpanContext(trace, d.task_id));
    }
  }
  kiln::v1::CoordinatorMessage msg;
  *msg.mutable_assignment() = BuildAssignment(in);
  stats_.assignments++;
  const std::string sid = s.id;
  SendAfterCommit(s.id, std::move(msg));
}

const kiln::v1::FileSpec* Coordinator::FileOf(const std::string& job_id,
                                              const kiln::v1::JobSpec& spec,
                                              const std::string& path) {
  auto& index = file_index_[job_id];
  if (index.size() != static_cast<size_t>(spec.files_size())) {
    index.clear();  // built on first use, rebuilt once a plan adds files
    for (int i = 0; i < spec.files_size(); ++i) index[spec.files(i).path()] = i;
  }
  auto it = index.find(path);
  return it == index.end() ? nullptr : &spec.files(it->second);
}

void Coordinator::EndLease(const std::string& task_id) {
  if (!leases_.End(task_id)) return;
  batch_.Delete(store_->cf(Cf::kMeta), LeaseKey(task_id));
}

void Coordinator::ApplyResult(const std::string& task_id, int64_t attempt,
                              const kiln::v1::LoggedResult& logged,
                              const kiln::v1::AttemptRecord& record) {
  if (!scheduler_.OnResult(task_id, attempt, ToReport(logged)).ok()) return;
  kiln::v1::LogEntry entry;
  *entry.mutable_result() = logged;
  Log(BatchOf(task_id), entry);
  kiln::v1::Task& rec = TaskRecord(task_id);
  *rec.add_attempts() = record;
  rec.set_model(record.model().empty() ? rec.model() : record.model());
  const bool produced = logged.outcome() == TaskResult::OUTCOME_SUCCEEDED ||
                        logged.outcome() == TaskResult::OUTCOME_CHECK_FAILED;
  if (produced) {
    TaskOutput& out = outputs_[task_id];
    if (logged.artifacts_size() > 0) {
      out.artifact = logged.artifacts(0);
      *rec.mutable_output() = logged.artifacts(0);
    }
    if (logged.has_diagnostics()) out.diagnostics = logged.diagnostics();
  }
  // The result cache and the attempts that waited on this one.
  if (!produced) {
    AbandonFlight(task_id, attempt);
    return;
  }
  auto lk = leader_key_.find(task_id);
  if (lk == leader_key_.end()) return;
  const std::string key = lk->second;
  leader_key_.erase(lk);
  std::vector<ResultCache::Attempt> followers =
      cache_.Finish(key, {task_id, attempt});
  kiln::v1::CachedResult cached;
  cached.set_outcome(logged.outcome());
  *cached.mutable_artifacts() = logged.artifacts();
  for (const auto& f : logged.plan_files()) *cached.mutable_plan()->add_files() = f;
  if (logged.has_diagnostics()) {
    *cached.mutable_diagnostics() = logged.diagnostics();
  }
  *cached.mutable_usage() = logged.usage();
  cached.set_cost_usd(logged.cost_usd());
  cached.set_task_id(task_id);
  cache_.AddTo(&batch_, key, cached);
  for (const auto& [f, a] : followers) CompleteFromCache(f, a, cached, true);
}

void Coordinator::AbandonFlight(const std::string& task_id, int64_t attempt) {
  auto lk = leader_key_.find(task_id);
  if (lk == leader_key_.end()) return;
  for (const auto& [f, a] : cache_.Finish(lk->second, {task_id, attempt})) {
    follower_key_.erase(f);
    (void)scheduler_.Requeue(f, a);
  }
  leader_key_.erase(lk);
}

void Coordinator::CompleteFromCache(const std::string& task_id, int64_t attempt,
                                    const kiln::v1::CachedResult& cached,
                                    bool dedup) {
  follower_key_.erase(task_id);
  kiln::v1::LoggedResult logged;
  logged.mutable_attempt()->set_task_id(task_id);
  logged.mutable_attempt()->set_attempt(attempt);
  logged.set_outcome(cached.outcome());
  logged.set_cache_hit(true);
  for (auto a : cached.artifacts()) {
    a.set_job_id(JobOf(task_id));
    a.set_task_id(task_id);
    a.set_attempt(attempt);
    *logged.add_artifacts() = std::move(a);
  }
  *logged.mutable_plan_files() = cached.plan().files();
  if (cached.has_diagnostics()) {
    *logged.mutable_diagnostics() = cached.diagnostics();
  }
  kiln::v1::AttemptRecord record;
  record.set_attempt(attempt);
  record.set_model(scheduler_.TaskModel(task_id));
  record.set_cache_hit(true);
  TimeToProto(clock_->Now(), record.mutable_start_time());
  TimeToProto(clock_->Now(), record.mutable_end_time());
  if (cached.outcome() == TaskResult::OUTCOME_CHECK_FAILED) {
    record.mutable_error()->set_message("checks failed (cached outcome)");
  }
  if (!dedup) stats_.cache_hits++;
  ApplyResult(task_id, attempt, logged, record);
}

void Coordinator::OnResult(SessionRec& s, const TaskResult& result) {
  const kiln::v1::Lease& lease = result.lease();
  const std::string& task_id = lease.task_id();
  kiln::v1::CoordinatorMessage ack;
  *ack.mutable_result_ack()->mutable_lease() = lease;
  const std::string sid = s.id;
  auto send_ack = [this, sid](kiln::v1::CoordinatorMessage m) {
    SendAfterCommit(sid, std::move(m));
  };
  if (!leases_.IsCurrent(task_id, lease.attempt(), lease.epoch(), s.worker_id)) {
    stats_.results_rejected++;
    ack.mutable_result_ack()->set_accepted(false);
    ack.mutable_result_ack()->set_reason(absl::StrFormat(
        "attempt %d (epoch %d) of task %s is not a current lease of worker %s",
        lease.attempt(), lease.epoch(), task_id, s.worker_id));
    send_ack(std::move(ack));
    return;
  }
  kiln::v1::LoggedResult logged;
  logged.mutable_attempt()->set_task_id(task_id);
  logged.mutable_attempt()->set_attempt(lease.attempt());
  logged.set_outcome(result.outcome());
  const kiln::v1::AttemptRecord& rec = result.record();
  *logged.mutable_usage() = rec.usage();
  logged.set_cost_usd(rec.cost_usd());
  logged.set_uncached_cost_usd(rec.uncached_cost_usd());
  logged.set_error(rec.error().message());
  logged.set_capacity(rec.error().code() ==
                      static_cast<int>(absl::StatusCode::kResourceExhausted));
  *logged.mutable_plan_files() = result.plan().files();
  if (result.has_diagnostics()) {
    *logged.mutable_diagnostics() = result.diagnostics();
  }
  for (auto a : result.artifacts()) {
    a.set_job_id(JobOf(task_id));
    a.set_task_id(task_id);
    a.set_attempt(lease.attempt());
    *logged.add_artifacts() = std::move(a);
  }
  // Nothing is lost: every byte a result refers to must be stored.
  if (logged.outcome() == TaskResult::OUTCOME_SUCCEEDED ||
      logged.outcome() == TaskResult::OUTCOME_CHECK_FAILED) {
    std::vector<kiln::v1::Digest> refs;
    for (const auto& a : logged.artifacts()) refs.push_back(a.digest());
    if (logged.has_diagnostics()) refs.push_back(logged.diagnostics());
    auto missing = blobs_.FindMissing(refs);
    if (!missing.empty()) {
      logged.set_outcome(TaskResult::OUTCOME_RETRYABLE);
      logged.set_error(absl::StrCat("blob ", DigestKey(missing[0]),
                                    " was not uploaded before the result"));
    }
  }
  if (logged.outcome() == TaskResult::OUTCOME_CANCELLED ||
      logged.outcome() == TaskResult::OUTCOME_UNSPECIFIED) {
    logged.set_outcome(TaskResult::OUTCOME_RETRYABLE);
    if (logged.error().empty()) logged.set_error("the worker stopped the attempt");
  }
  kiln::v1::AttemptRecord record = rec;
  record.set_attempt(lease.attempt());
  record.set_worker_id(s.worker_id);
  if (!record.has_start_time()) {
    TimeToProto(leases_.Find(task_id)->start, record.mutable_start_time());
  }
  if (!record.has_end_time()) TimeToProto(clock_->Now(), record.mutable_end_time());
  EndLease(task_id);
  ApplyResult(task_id, lease.attempt(), logged, record);
  stats_.results_accepted++;
  ack.mutable_result_ack()->set_accepted(true);
  send_ack(std::move(ack));
}

void Coordinator::LoseLease(const std::string& task_id, const std::string& why) {
  const LeaseRec* held = leases_.Find(task_id);
  if (held == nullptr) return;
  const LeaseRec l = *held;
  EndLease(task_id);
  if (!scheduler_.OnLeaseLost(task_id, l.attempt).ok()) return;
  kiln::v1::LogEntry entry;
  entry.mutable_lease_lost()->set_task_id(task_id);
  entry.mutable_lease_lost()->set_attempt(l.attempt);
  Log(BatchOf(task_id), entry);
  kiln::v1::Task& rec = TaskRecord(task_id);
  kiln::v1::AttemptRecord* a = rec.add_attempts();
  a->set_attempt(l.attempt);
  a->set_worker_id(l.worker_id);
  TimeToProto(l.start, a->mutable_start_time());
  TimeToProto(clock_->Now(), a->mutable_end_time());
  a->mutable_error()->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
  a->mutable_error()->set_message(why);
  a->mutable_error()->set_retryable(true);
  AbandonFlight(task_id, l.attempt);
}

void Coordinator::ExpireLeases() {
  for (const std::string& task : leases_.TakeExpired(clock_->MonotonicNow())) {
    stats_.leases_expired++;
    LoseLease(task, absl::StrCat("lease expired: worker ", leases_.Find(task)->worker_id,
                                 " did not renew it within ",
                                 absl::FormatDuration(options_.lease_ttl)));
  }
}

void Coordinator::SendCancels() {
  for (const Dispatched& c : scheduler_.TakeCancelledLeases()) {
    follower_key_.erase(c.task_id);
    AbandonFlight(c.task_id, c.attempt);
    const LeaseRec* l = leases_.Find(c.task_id);
    if (l == nullptr) continue;
    kiln::v1::CoordinatorMessage m;
    *m.mutable_cancel()->mutable_lease() = LeaseProto(c.task_id, *l);
    m.mutable_cancel()->set_reason("the batch was cancelled");
    SendAfterCommit(l->session_id, std::move(m));
    EndLease(c.task_id);
  }
}

absl::optional<MonotonicTime> Coordinator::NextWakeup() const {
  absl::optional<MonotonicTime> next = scheduler_.NextWakeup();
  auto consider = [&next](MonotonicTime t) {
    if (!next || t < *next) next = t;
  };
  if (auto l = leases_.NextExpiry()) consider(*l);
  if (auto s = semaphores_.NextExpiry()) consider(*s);
  return next;
}

// ---------------------------------------------------------------- semaphores

uint64_t Coordinator::Acquire(const kiln::v1::AcquireRequest& request,
                              Done<kiln::v1::AcquireResponse> done) {
  return semaphores_.Acquire(
      request, [this, done = std::move(done)](
                   absl::StatusOr<kiln::v1::AcquireResponse> r) mutable {
        Reply(std::move(done), std::move(r));
      });
}

void Coordinator::CancelAcquire(uint64_t waiter) { semaphores_.Cancel(waiter); }

void Coordinator::Renew(const kiln::v1::RenewRequest& request,
                        Done<kiln::v1::RenewResponse> done) {
  Reply(std::move(done), semaphores_.Renew(request));
}

void Coordinator::Release(const kiln::v1::ReleaseRequest& request,
                          Done<kiln::v1::ReleaseResponse> done) {
  Reply(std::move(done), absl::StatusOr<kiln::v1::ReleaseResponse>(
                             semaphores_.Release(request)));
}

absl::StatusOr<kiln::v1::SemaphoreStatus> Coordinator::DescribeSemaphore(
    const std::string& name) const {
  return semaphores_.Describe(name);
}

}  // namespace kiln
