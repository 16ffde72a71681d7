// The coordinator's durable core: loading and replay, the staged turn and
// its group commit, submissions and cancellations, and the semaphores. The
// read API is in coordinator_reads.cc; sessions, dispatch, leases and
// results in coordinator_workers.cc.
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
#include "spec/spec_validator.h"

namespace kiln {

using coordinator_internal::JobOf;
using coordinator_internal::ToReport;
using coordinator_internal::LostReport;
using kiln::v1::TaskResult;

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
  // Read-only (a full disk at the start): the state is served as it is.
  const bool writable = !store_->read_only();
  if (writable) {
    rocksdb::WriteBatch wb;
    wb.Put(store_->cf(Cf::kMeta), kEpochKey, EncodeU64(epoch_));
    KILN_RETURN_IF_ERROR(store_->Write(&wb, /*sync=*/true));
  }
  KILN_RETURN_IF_ERROR(LoadLandings());
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
            b->SetJobState(j.id(), j.state());
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
          if (parsed) stale.Delete(store_->cf(Cf::kMeta), SpendKey(lease.task_id()));
          return true;
        }
        LeaseRec l;
        l.attempt = lease.attempt();
        l.epoch = lease.epoch();
        l.worker_id = lease.worker_id();
        l.expires = now + options_.lease_ttl;
        l.start = TimeFromProto(lease.expire_time()) - options_.lease_ttl;
        auto info = scheduler_.Task(lease.task_id());
        l.model = info->model;
        leases_.Grant(lease.task_id(), l);
        // What its worker had reported spending before the stop.
        if (auto spent = store_->Get(Cf::kMeta, SpendKey(lease.task_id())); spent.ok()) {
          kiln::v1::Progress p;
          if (p.ParseFromString(*spent) && p.lease().attempt() == lease.attempt()) {
            leases_.RecordProgress(lease.task_id(), p);
          }
        }
        const std::string key =
            KeyFor(*info, *scheduler_.JobSpecOf(info->job_id));
        if (!key.empty()) {
          cache_.Start(key, {info->id, l.attempt});
          leader_key_[info->id] = key;
        }
        return true;
      }));
  (void)scheduler_.TakeEvents();
  if (writable && stale.Count() > 0) {
    KILN_RETURN_IF_ERROR(store_->Write(&stale, true));
  }
  return absl::OkStatus();
}

absl::Status Coordinator::ReplayBatch(BatchState& b) {
  const std::string& id = b.record.batch().id();
  // The log names tasks of every job: all are expanded before replaying it.
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
            if (s.ok()) s = scheduler_.OnLeaseLost(a.task_id(), a.attempt(), LostReport(a));
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
    b->changed_jobs.insert(JobOf(e.task_id));
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
    if (info && info->kind == kiln::v1::TASK_KIND_LAND && IsTerminal(e.state)) {
      auto landing = landings_.find(JobOf(e.task_id));
      if (landing != landings_.end()) *t->mutable_land() = landing->second;
    }
    if (info && info->kind == kiln::v1::TASK_KIND_SELECT &&
        e.state == kiln::v1::TASK_STATE_SUCCEEDED) {
      if (const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(JobOf(e.task_id))) {
        t->set_commit(spec->repo().commit());
      }
    }
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
          if (last.has_edit()) *t->mutable_edit() = last.edit();
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
      const kiln::v1::JobState cur = b->JobStateOf(job);
      if (!IsTerminal(cur) && cur != next) {
        b->SetJobState(job, next);
        const JobStatus js = scheduler_.Job(job).value_or(JobStatus());
        AddEvent(*b, JobChangedEvent(JobProto(job, b->record.batch().id(), next, js), js.name));
      }
    } else if (IsTerminal(e.state)) {
      ready_keys_.erase(e.task_id);
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
  // Only the jobs this turn's events touched (a 50,000-job batch is not
  // walked at every turn), all of them after loading.
  std::vector<std::string> check;
  if (b.rescan_jobs) {
    check = scheduler_.JobIds(id);
    b.rescan_jobs = false;
  } else {
    check.assign(b.changed_jobs.begin(), b.changed_jobs.end());
  }
  b.changed_jobs.clear();
  for (const std::string& job_id : check) {
    auto js = scheduler_.Job(job_id);
    if (!js) continue;
    const kiln::v1::JobState cur = b.JobStateOf(job_id);
    if (js->phase != JobPhase::kRunning && !IsTerminal(cur)) {
      b.SetJobState(job_id, JobStateOf(js->phase));
      kiln::v1::Job rec = JobProto(job_id, id, b.JobStateOf(job_id), *js);
      AddLanding(job_id, &rec);
      AddEvent(b, JobChangedEvent(rec, js->name));
      TimeToProto(clock_->Now(), rec.mutable_end_time());
      batch_.Put(store_->cf(Cf::kJobs), job_id, rec.SerializeAsString());
      if (const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(job_id)) {
        RecordJobSpan(*tracer_, BatchTraceOf(b.record), rec, spec->repo(),
                      TimeFromProto(batch->create_time()), clock_->Now());
      }
    }
  }
  const JobsSummary jobs = b.Summary();
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
  // Results written to the result cache: earlier misses may hit now.
  if (cache_added_) {
    ++cache_generation_;
    cache_added_ = false;
  }
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
    // Nothing can be made durable: workers keep their results until a
    // coordinator that can write takes them.
    std::vector<std::string> ids;
    for (const auto& [id, s] : sessions_) ids.push_back(id);
    for (const std::string& id : ids) {
      SessionSink* sink = sessions_[id]->sink;
      CloseSession(id);
      sink->Close(status);
    }
  }
  std::vector<std::function<void(const absl::Status&)>> after;
  after.swap(after_commit_);
  for (auto& fn : after) fn(status);
  return status;
}

// ---------------------------------------------------------------- jobs

void Coordinator::SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                              Done<kiln::v1::SubmitBatchResponse> done) {
  SubmitBatch(request, TraceContext(), std::move(done));
}

void Coordinator::SubmitBatch(const kiln::v1::SubmitBatchRequest& request,
                              const TraceContext& parent,
                              Done<kiln::v1::SubmitBatchResponse> done,
                              bool validated) {
  if (absl::Status refused = AdmissionRefused(); !refused.ok()) {
    done(refused);
    return;
  }
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
  if (!validated) {
    if (absl::Status bad = ValidateSubmission(request); !bad.ok()) {
      done(bad);
      return;
    }
  }
  const std::string id = ids_.Next("b");
  // The client's field locations, so a spec error names the file's line.
  const SpecLocations locations(request.locations().begin(), request.locations().end());
  // Validation only: the jobs are expanded into tasks a slice per turn
  // (Pump), after this reply, so a huge matrix never holds the loop.
  absl::Status added =
      scheduler_.Admit(id, request.spec(), locations, /*validate=*/false);
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
  batch->set_jobs_total(CountJobs(request.spec()));
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

absl::Status Coordinator::ValidateSubmission(
    const kiln::v1::SubmitBatchRequest& request) const {
  if (options_.max_batch_tasks > 0) {
    const int64_t tasks = CountTasks(request.spec());
    if (tasks > options_.max_batch_tasks) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "the batch has %d tasks (%d jobs), more than the coordinator's limit of "
          "%d (--max_batch_tasks): split it into smaller batches",
          tasks, CountJobs(request.spec()), options_.max_batch_tasks));
    }
  }
  // The client's field locations, so a spec error names the file's line.
  const SpecLocations locations(request.locations().begin(), request.locations().end());
  return Scheduler::Validate(request.spec(), *models_, locations);
}

absl::Status Coordinator::AdmissionRefused() const {
  KILN_RETURN_IF_ERROR(store_->sticky_error());
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  absl::StatusOr<uint64_t> free = store_->FreeBytes();
  if (free.ok() && *free < options_.min_free_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "not admitting batches: the state directory ", store_->path(),
        " has ", FormatBytes(*free), " free, less than the ",
        FormatBytes(options_.min_free_bytes),
        " floor (--min_free_mib); free some space"));
  }
  return absl::OkStatus();
}

void Coordinator::CancelBatch(const kiln::v1::CancelBatchRequest& request,
                              Done<kiln::v1::Batch> done) {
  if (absl::Status refused = store_->sticky_error(); !refused.ok()) {
    done(refused);
    return;
  }
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
