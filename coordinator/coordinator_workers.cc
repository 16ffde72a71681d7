// The coordinator's side of the worker sessions: registration and fencing,
// heartbeats and progress, dispatch (result cache and in-flight dedup
// first), assignments, results, and lost and expired leases.
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
#include "common/usage.h"
#include "coordinator/assignment.h"
#include "coordinator/batch_states.h"
#include "coordinator/coordinator_internal.h"
#include "coordinator/report.h"
#include "coordinator/store_keys.h"
#include "coordinator/trace_spans.h"

namespace kiln {

using coordinator_internal::JobOf;
using coordinator_internal::ToReport;
using kiln::v1::TaskResult;

kiln::v1::Lease Coordinator::LeaseProto(const std::string& task_id,
                                        const LeaseRec& l) const {
  return LeaseToProto(task_id, l, clock_->Now(), clock_->MonotonicNow());
}

absl::StatusOr<std::string> Coordinator::OpenSession(
    const kiln::v1::Register& request, SessionSink* sink) {
  KILN_RETURN_IF_ERROR(store_->sticky_error());
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
  leases_.RecordProgress(p.lease().task_id(), p);
  // Kept with the lease, so a restarted coordinator still bills the attempt
  // if its worker never comes back.
  if (p.has_usage()) {
    batch_.Put(store_->cf(Cf::kMeta), SpendKey(p.lease().task_id()), p.SerializeAsString());
  }
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
  // A selection reads the repo as it is now; it is never answered from the
  // cache (its files' edits are, keyed on each file's content).
  if (info.kind == kiln::v1::TASK_KIND_SELECT || info.kind == kiln::v1::TASK_KIND_LAND) {
    return "";  // landing changes a repository: never answered from the cache
  }
  ActionInputs in;
  in.job = &spec;
  auto jd = job_digest_.find(info.job_id);
  if (jd == job_digest_.end() || jd->second.files != spec.files_size() ||
      jd->second.commit != spec.repo().commit()) {
    jd = job_digest_.insert_or_assign(
        info.job_id, JobDigest{spec.files_size(), spec.repo().commit(), JobInputsDigest(spec)})
             .first;
  }
  in.job_digest = jd->second.digest;
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
  // After a storage error nothing can be leased or requeued durably.
  if (!store_->sticky_error().ok()) return;
  // Admission's second half: a slice of the queued jobs per turn.
  if (scheduler_.expanding()) scheduler_.Expand(options_.admission_slice_tasks);
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
  const SessionSlots* slots = leases_.Slots(s.id);
  if (!slots->has_free_slot() || max <= 0) return false;
  // The scheduler asks before it spends anything on a task: whether this
  // worker runs its model, and whether the result cache or a call in flight
  // answers it (those are leased unpaced and take no slot).
  // The task's action key and cached outcome, looked up once per call:
  // asked for in the filter, used below.
  struct Looked {
    std::string key;
    absl::optional<kiln::v1::CachedResult> cached;
  };
  std::unordered_map<std::string, Looked> looked;
  auto look = [this, &looked](const std::string& task_id) -> const Looked& {
    auto it = looked.find(task_id);
    if (it != looked.end()) return it->second;
    Looked l;
    ReadyKey& rk = ready_keys_[task_id];
    const std::string model = scheduler_.TaskModel(task_id);
    if (rk.key.empty() || rk.model != model) {
      const absl::optional<TaskInfo> info = scheduler_.Task(task_id);
      rk = ReadyKey{model, KeyFor(*info, *scheduler_.JobSpecOf(info->job_id)), 0};
    }
    l.key = rk.key;
    // A miss stays a miss until a commit adds results to the cache.
    if (!l.key.empty() && rk.missed_in != cache_generation_) {
      l.cached = cache_.Lookup(l.key);
      if (!l.cached) rk.missed_in = cache_generation_;
    }
    return looked.emplace(task_id, std::move(l)).first->second;
  };
  DispatchFilter filter;
  filter.runs_model = [this, &s](const std::string& model) { return Supports(s, model); };
  filter.answered_without_llm = [this, &look](const std::string& task_id) {
    const Looked& l = look(task_id);
    return l.cached.has_value() || (!l.key.empty() && cache_.InFlight(l.key));
  };
  std::vector<Dispatched> ds =
      scheduler_.Dispatch(std::min(max, slots->slots - slots->assigned), filter);
  bool assigned = false;
  for (const Dispatched& d : ds) {
    const Looked& l = look(d.task_id);
    ready_keys_.erase(d.task_id);  // leased: its next attempt asks afresh
    const absl::optional<TaskInfo> info = scheduler_.Task(d.task_id);
    const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(d.job_id);
    const std::string& key = l.key;
    if (l.cached) {
      CompleteFromCache(d.task_id, d.attempt, *l.cached, /*dedup=*/false);
      continue;
    }
    if (key.empty()) {  // never cached
      Assign(s, d, *info, *spec);
      assigned = true;
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
    assigned = true;
  }
  return assigned || !ds.empty();
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
  l.model = d.model;
  l.estimated_prompt_tokens = d.stable_prompt_tokens + d.variable_prompt_tokens;
  l.estimated_output_tokens = d.expected_output_tokens;
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
  if (info.kind == kiln::v1::TASK_KIND_LAND) PrepareLand(d.job_id, msg.mutable_assignment());
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
  batch_.Delete(store_->cf(Cf::kMeta), SpendKey(task_id));
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
  if (record.has_edit()) *cached.mutable_edit() = record.edit();
  cached.set_cost_usd(logged.cost_usd());
  cached.set_task_id(task_id);
  cache_.AddTo(&batch_, key, cached);
  cache_added_ = true;
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
  if (cached.has_edit()) *record.mutable_edit() = cached.edit();
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
  logged.set_capacity(result.outcome() == TaskResult::OUTCOME_CAPACITY);
  *logged.mutable_plan_files() = result.plan().files();
  logged.set_commit(result.plan().commit());
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
  // A landing is kept whatever the outcome (a rejected push keeps its
  // patch), once its patch is stored.
  if (result.has_land() && logged.outcome() != TaskResult::OUTCOME_RETRYABLE &&
      (!result.land().has_patch() || blobs_.FindMissing({result.land().patch()}).empty())) {
    RecordLanding(task_id, result.land());
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
  const kiln::v1::LoggedAttempt lost = LostSpend(task_id, l);
  if (!scheduler_.OnLeaseLost(task_id, l.attempt, coordinator_internal::LostReport(lost)).ok()) return;
  kiln::v1::LogEntry entry;
  *entry.mutable_lease_lost() = lost;
  Log(BatchOf(task_id), entry);
  kiln::v1::Task& rec = TaskRecord(task_id);
  kiln::v1::AttemptRecord* a = rec.add_attempts();
  a->set_attempt(l.attempt);
  a->set_worker_id(l.worker_id);
  a->set_model(l.model);
  TimeToProto(l.start, a->mutable_start_time());
  TimeToProto(clock_->Now(), a->mutable_end_time());
  a->set_lost(true);
  *a->mutable_usage() = lost.usage();
  a->set_cost_usd(lost.cost_usd());
  a->set_uncached_cost_usd(lost.uncached_cost_usd());
  a->set_usage_estimated(lost.estimated());
  a->set_estimated_cost_usd(lost.estimated_cost_usd());
  a->mutable_error()->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
  a->mutable_error()->set_message(why);
  a->mutable_error()->set_retryable(true);
  AbandonFlight(task_id, l.attempt);
}

kiln::v1::LoggedAttempt Coordinator::LostSpend(const std::string& task_id,
                                               const LeaseRec& l) const {
  kiln::v1::LoggedAttempt out;
  out.set_task_id(task_id);
  out.set_attempt(l.attempt);
  *out.mutable_usage() = l.spent;
  out.set_cost_usd(l.spent_cost_usd);
  out.set_uncached_cost_usd(l.spent_uncached_cost_usd);
  if (!l.request_open) return out;
  // A request was sent and its usage never came back: its prompt at the
  // full input price, and what it streamed (else what it was expected to).
  TokenCounts guess;
  guess.input = l.estimated_prompt_tokens;
  guess.output = l.output_tokens_so_far > 0 ? l.output_tokens_so_far
                                            : l.estimated_output_tokens;
  kiln::v1::Usage u = ToUsage(guess);
  u.set_requests(1);
  AddUsage(u, out.mutable_usage());
  if (const ModelProfile* p = models_->Find(l.model)) {
    const double cost = p->Cost(guess);
    out.set_cost_usd(out.cost_usd() + cost);
    out.set_estimated_cost_usd(cost);
    out.set_uncached_cost_usd(out.uncached_cost_usd() + p->UncachedCost(guess));
  }
  out.set_estimated(true);
  return out;
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
  if (scheduler_.expanding()) return clock_->MonotonicNow();
  auto consider = [&next](MonotonicTime t) {
    if (!next || t < *next) next = t;
  };
  if (auto l = leases_.NextExpiry()) consider(*l);
  if (auto s = semaphores_.NextExpiry()) consider(*s);
  return next;
}

}  // namespace kiln
