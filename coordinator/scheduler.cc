#include "coordinator/scheduler.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/status.h"
#include "common/token_bucket.h"
#include "common/yaml_reader.h"
#include "coordinator/scheduler_internal.h"
#include "spec/spec_validator.h"

namespace kiln {

using kiln::v1::TaskKind;

Scheduler::Scheduler(const Clock* clock, const ModelCatalog* models,
                     SchedulerOptions options)
    : clock_(clock),
      models_(models),
      options_(options),
      cost_(models, options.cost),
      limiter_(models, options.requests_per_minute_cap,
               options.time_scale * options.pacing_headroom),
      rng_(options.random_seed) {}

Scheduler::~Scheduler() = default;

absl::Status Scheduler::AddBatch(const std::string& batch_id,
                                 const kiln::v1::BatchSpec& spec,
                                 const SpecLocations& locations) {
  absl::Status s = Admit(batch_id, spec, locations);
  if (s.ok()) ExpandAll(batch_id);
  return s;
}

absl::Status Scheduler::Validate(const kiln::v1::BatchSpec& spec,
                                 const ModelCatalog& models,
                                 const SpecLocations& locations) {
  ValidateOptions vo;
  // A problem at a field the client sent no location for still names the
  // client's file.
  vo.file = "the submitted spec";
  for (const auto& [field, loc] : locations) {
    if (!loc.file().empty()) {
      vo.file = loc.file();
      break;
    }
  }
  return ProblemsToStatus(ValidateBatch(spec, models, locations, vo));
}

absl::Status Scheduler::Admit(const std::string& batch_id,
                              const kiln::v1::BatchSpec& spec,
                              const SpecLocations& locations, bool validate) {
  if (batch_index_.count(batch_id)) {
    return absl::AlreadyExistsError(absl::StrCat("batch ", batch_id, " exists"));
  }
  if (validate) KILN_RETURN_IF_ERROR(Validate(spec, *models_, locations));

  const int b = static_cast<int>(batches_.size());
  batches_.emplace_back();
  BatchRec& batch = batches_[b];
  batch.id = batch_id;
  batch.policy = spec.policy();
  batch.spec = spec;
  batch.jobs_total = CountJobs(spec);
  batch.open_jobs = batch.jobs_total;
  batch_index_[batch_id] = b;
  if (batch.jobs_total == 0) {
    batch.totals.done = true;
  } else {
    expanding_.push_back(b);
  }
  return absl::OkStatus();
}

int Scheduler::ExpandJob(int b, int k, std::vector<int>* roots) {
  const MonotonicTime now = clock_->MonotonicNow();
  const int j = static_cast<int>(jobs_.size());
  jobs_.emplace_back();
  JobRec& job = jobs_[j];
  job.spec = ExpandJobAt(batches_[b].spec, k);
  job.id = absl::StrCat(batches_[b].id, "/", job.spec.name());
  job.name = job.spec.name();
  job.batch = b;
  job.seq = j;
  job.files_total = job.spec.files_size();
  job_index_[job.id] = j;
  batches_[b].jobs.push_back(j);

  JobDag dag = BuildJobDag(jobs_[j].spec, cost_);
  jobs_[j].lower_bound = CriticalPathLowerBound(dag, cost_);
  std::vector<int> global(dag.tasks.size());
  for (size_t i = 0; i < dag.tasks.size(); ++i) {
    TaskNode n = std::move(dag.tasks[i]);
    for (int& d : n.deps) d = global[d];  // deps come earlier (topological)
    n.dependents.clear();
    global[i] = AddTask(j, std::move(n));
  }
  if (dag.build_task >= 0) jobs_[j].build_task = global[dag.build_task];
  if (dag.land_task >= 0) jobs_[j].land_task = global[dag.land_task];
  const absl::Duration deadline =
      DurationFromProto(jobs_[j].spec.limits().deadline());
  if (deadline > absl::ZeroDuration()) deadlines_.insert({now + deadline, j});
  if (batches_[b].cancelled) {
    CancelJob(j, JobPhase::kCancelled, batches_[b].cancel_reason);
  } else {
    for (int g : global) {
      if (tasks_[g].pending == 0) roots->push_back(g);
    }
  }
  return static_cast<int>(global.size());
}

void Scheduler::StartExpanded(const std::vector<int>& roots, int first_job) {
  // Ready once the slice's tasks have all joined their cache groups, so the
  // groups' sizes (seeding) count the whole slice.
  for (int t : roots) MakeReady(t);
  for (int j = first_job; j < static_cast<int>(jobs_.size()); ++j) CheckJobDone(j);
}

int Scheduler::Expand(int max_tasks) {
  int jobs = 0;
  int tasks = 0;
  const int first_job = static_cast<int>(jobs_.size());
  std::vector<int> roots;
  while (!expanding_.empty() && (jobs == 0 || tasks < max_tasks)) {
    const int b = expanding_.front();
    tasks += ExpandJob(b, batches_[b].expanded++, &roots);
    ++jobs;
    if (batches_[b].expanded == batches_[b].jobs_total) {
      batches_[b].spec.Clear();
      expanding_.pop_front();
    }
  }
  StartExpanded(roots, first_job);
  return jobs;
}

void Scheduler::ExpandAll(const std::string& batch_id) {
  auto it = batch_index_.find(batch_id);
  if (it == batch_index_.end()) return;
  const int b = it->second;
  const int first_job = static_cast<int>(jobs_.size());
  std::vector<int> roots;
  while (batches_[b].expanded < batches_[b].jobs_total) {
    ExpandJob(b, batches_[b].expanded++, &roots);
  }
  StartExpanded(roots, first_job);
  batches_[b].spec.Clear();
  expanding_.erase(std::remove(expanding_.begin(), expanding_.end(), b),
                   expanding_.end());
}

std::pair<int, int> Scheduler::Expansion(const std::string& batch_id) const {
  auto it = batch_index_.find(batch_id);
  if (it == batch_index_.end()) return {0, 0};
  const BatchRec& b = batches_[it->second];
  return {b.expanded, b.jobs_total};
}

int Scheduler::AddTask(int j, TaskNode node) {
  const int t = static_cast<int>(tasks_.size());
  JobRec& job = jobs_[j];
  tasks_.emplace_back();
  TaskRec& task = tasks_[t];
  task.id = absl::StrCat(job.id, "/", job.tasks.size());
  task.job = j;
  node.index = t;
  task.pending = static_cast<int>(node.deps.size());
  task.node = std::move(node);
  for (int d : task.node.deps) tasks_[d].node.dependents.push_back(t);
  job.tasks.push_back(t);
  job.open++;
  GroupJoin(t);
  events_.push_back({t, task.state, 0, {}});
  return t;
}

void Scheduler::GroupJoin(int t) {
  if (!UsesLlm(tasks_[t].node.kind)) return;
  groups_.Join(tasks_[t].node.prefix_key);
}

void Scheduler::GroupLeave(int t) {
  const TaskRec& task = tasks_[t];
  if (!UsesLlm(task.node.kind)) return;
  ReleaseHeld(groups_.Leave(task.node.prefix_key, t));  // a seed's role is lost
}

void Scheduler::SetState(int t, kiln::v1::TaskState s, std::string reason) {
  TaskRec& task = tasks_[t];
  if (task.state == kiln::v1::TASK_STATE_LEASED && s != task.state) {
    batches_[jobs_[task.job].batch].leased--;
    leased_count_--;
  }
  task.state = s;
  events_.push_back({t, s, task.attempt, std::move(reason)});
}

void Scheduler::InsertJobOrder(int j) {
  JobRec& job = jobs_[j];
  if (job.in_order || job.ready.empty()) return;
  job_order_.insert({job.started, job.seq});
  job.in_order = true;
}

void Scheduler::EraseJobOrder(int j) {
  JobRec& job = jobs_[j];
  if (!job.in_order) return;
  job_order_.erase({job.started, job.seq});
  job.in_order = false;
}

void Scheduler::MakeReady(int t) {
  SetState(t, kiln::v1::TASK_STATE_READY);
  EnqueueReady(t);
}

void Scheduler::EnqueueReady(int t) {
  TaskRec& task = tasks_[t];
  if (task.in_ready) return;
  JobRec& job = jobs_[task.job];
  job.ready.insert(
      {-absl::ToInt64Milliseconds(task.node.remaining_critical_path), t});
  task.in_ready = true;
  ready_count_++;
  InsertJobOrder(task.job);
}

void Scheduler::RemoveReady(int t) {
  TaskRec& task = tasks_[t];
  if (!task.in_ready) return;
  JobRec& job = jobs_[task.job];
  job.ready.erase(
      {-absl::ToInt64Milliseconds(task.node.remaining_critical_path), t});
  task.in_ready = false;
  ready_count_--;
  if (job.ready.empty()) EraseJobOrder(task.job);
}

absl::Duration Scheduler::CacheTtl(const std::string& model) const {
  const ModelProfile* p = models_->Find(model);
  const absl::Duration ttl = p != nullptr ? p->cache_ttl : absl::Minutes(5);
  return options_.time_scale > 0 ? ttl / options_.time_scale : ttl;
}

bool Scheduler::NeedsSeeding(const TaskRec& task) const {
  const auto& policy = batches_[jobs_[task.job].batch].policy;
  if (policy.seed() == kiln::v1::SEED_MODE_NEVER) return false;
  if (groups_.open(task.node.prefix_key) < 2) return false;  // groups of one are never held
  if (policy.seed() == kiln::v1::SEED_MODE_ALWAYS) return true;
  const ModelProfile* p = models_->Find(task.node.model);
  return p != nullptr && task.node.stable_prompt_tokens >= p->cache_min_tokens;
}

void Scheduler::Hold(int t) {
  SetState(t, kiln::v1::TASK_STATE_HELD, "waiting for the cache seed");
  groups_.Hold(tasks_[t].node.prefix_key, t);
}

void Scheduler::ReleaseHeld(const std::vector<int>& held) {
  for (int t : held) {
    if (tasks_[t].state == kiln::v1::TASK_STATE_HELD) MakeReady(t);
  }
}

void Scheduler::MakeWarm(int seed, MonotonicTime now) {
  const TaskRec& task = tasks_[seed];
  ReleaseHeld(groups_.MakeWarm(task.node.prefix_key, now + CacheTtl(task.node.model)));
}

void Scheduler::SeedLost(int t) {
  // The next dispatch picks a new seed among the released tasks.
  ReleaseHeld(groups_.SeedLost(tasks_[t].node.prefix_key, t));
}

std::vector<Dispatched> Scheduler::Dispatch(int slots, const DispatchFilter& filter) {
  Tick();
  const MonotonicTime now = clock_->MonotonicNow();
  rate_wakeup_.reset();
  std::vector<Dispatched> out;
  std::vector<int> skipped;
  int filled = 0;  // leases that take one of the worker's slots
  while (filled < slots && !job_order_.empty()) {
    const int j = job_order_.begin()->second;
    EraseJobOrder(j);
    JobRec& job = jobs_[j];
    BatchRec& batch = batches_[job.batch];
    if (batch.policy.max_concurrency() > 0 &&
        batch.leased >= batch.policy.max_concurrency()) {
      skipped.push_back(j);
      continue;
    }
    const int t = job.ready.begin()->second;
    TaskRec& task = tasks_[t];
    if (filter.runs_model && !filter.runs_model(task.node.model)) {
      skipped.push_back(j);  // another worker takes it; nothing was spent
      continue;
    }
    const bool without_llm =
        filter.answered_without_llm && filter.answered_without_llm(task.id);
    bool seed = false;
    if (UsesLlm(task.node.kind) && !without_llm) {
      const std::string& key = task.node.prefix_key;
      const ModelProfile* p = models_->Find(task.node.model);
      const CacheGroups::State group = groups_.StateAt(key, now);
      if (NeedsSeeding(task)) {
        if (group == CacheGroups::State::kSeeding) {
          RemoveReady(t);
          Hold(t);
          InsertJobOrder(j);
          continue;
        }
        seed = group == CacheGroups::State::kCold;
      }
      // Where cache reads do not count toward input-token limits, a warm
      // group's requests only spend their variable part.
      const bool reads_free = p != nullptr && !p->itpm_counts_cache_reads &&
                              group == CacheGroups::State::kWarm && !seed;
      const RequestCost rc{
          task.node.variable_prompt_tokens +
              (reads_free ? 0 : task.node.stable_prompt_tokens),
          task.node.expected_output_tokens};
      if (!batch.policy.unpaced()) {
        TokenBucket* own = nullptr;
        if (batch.policy.requests_per_minute() > 0) {
          own = &batch.rpm
                     .try_emplace(task.node.model, batch.policy.requests_per_minute(),
                                  options_.time_scale * options_.pacing_headroom)
                     .first->second;
        }
        absl::Duration wait = own != nullptr ? own->Wait(1, now) : absl::ZeroDuration();
        if (wait <= absl::ZeroDuration() && !limiter_.TryAdmit(task.node.model, rc, now)) {
          wait = limiter_.Wait(task.node.model, rc, now);
        }
        if (wait > absl::ZeroDuration()) {
          const MonotonicTime at = now + wait;
          if (!rate_wakeup_ || at < *rate_wakeup_) rate_wakeup_ = at;
          skipped.push_back(j);
          continue;
        }
        if (own != nullptr) own->TryTake(1, now);
      }
      if (seed) {
        groups_.StartSeeding(key, t);
      } else {
        groups_.Touch(key, now + CacheTtl(task.node.model));
      }
    }
    RemoveReady(t);
    task.attempt++;
    SetState(t, kiln::v1::TASK_STATE_LEASED);
    batch.leased++;
    leased_count_++;
    job.started++;
    Dispatched d;
    d.task_id = task.id;
    d.attempt = task.attempt;
    d.kind = task.node.kind;
    d.batch_id = batch.id;
    d.job_id = job.id;
    d.path = task.node.path;
    d.model = task.node.model;
    d.prefix_key = task.node.prefix_key;
    d.max_output_tokens = task.node.max_output_tokens;
    d.stable_prompt_tokens = task.node.stable_prompt_tokens;
    d.variable_prompt_tokens = task.node.variable_prompt_tokens;
    d.expected_output_tokens = task.node.expected_output_tokens;
    d.repair_round = task.repair_round;
    d.seed = seed;
    d.without_llm = without_llm;
    out.push_back(std::move(d));
    if (!without_llm) ++filled;
    InsertJobOrder(j);
  }
  for (int j : skipped) InsertJobOrder(j);
  return out;
}

absl::Status Scheduler::Fence(const std::string& task_id, int64_t attempt,
                              int* t) const {
  const int index = FindTask(task_id);
  if (index < 0) return absl::NotFoundError(absl::StrCat("no task ", task_id));
  const TaskRec& task = tasks_[index];
  if (task.state != kiln::v1::TASK_STATE_LEASED || task.attempt != attempt) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "stale attempt %d of task %s (current attempt %d, %s)", attempt,
        task_id, task.attempt, kiln::v1::TaskState_Name(task.state)));
  }
  *t = index;
  return absl::OkStatus();
}

absl::Status Scheduler::OnFirstToken(const std::string& task_id,
                                     int64_t attempt) {
  int t = 0;
  if (absl::Status s = Fence(task_id, attempt, &t); !s.ok()) return s;
  const TaskRec& task = tasks_[t];
  const MonotonicTime now = clock_->MonotonicNow();
  const auto release = batches_[jobs_[task.job].batch].policy.release();
  if (groups_.IsSeed(task.node.prefix_key, t)) {
    if (release != kiln::v1::RELEASE_MODE_COMPLETION) MakeWarm(t, now);
  } else {
    groups_.Touch(task.node.prefix_key, now + CacheTtl(task.node.model));
  }
  return absl::OkStatus();
}

void Scheduler::Account(int t, const AttemptReport& r) {
  TaskRec& task = tasks_[t];
  JobRec& job = jobs_[task.job];
  BatchTotals& totals = batches_[job.batch].totals;
  job.cost += r.cost_usd;
  totals.cost_usd += r.cost_usd;
  totals.uncached_cost_usd += r.uncached_cost_usd;
  totals.usage += r.usage;
  if (UsesLlm(task.node.kind)) totals.llm_requests++;
  if (r.outcome == AttemptOutcome::kCapacity) totals.capacity_errors++;
}

absl::Status Scheduler::OnResult(const std::string& task_id, int64_t attempt,
                                 const AttemptReport& report) {
  int t = 0;
  if (absl::Status s = Fence(task_id, attempt, &t); !s.ok()) return s;
  Account(t, report);
  TaskRec& task = tasks_[t];
  const int j = task.job;
  switch (report.outcome) {
    case AttemptOutcome::kSucceeded:
      task.capacity_failures = 0;
      if (task.node.kind == kiln::v1::TASK_KIND_PLAN ||
          task.node.kind == kiln::v1::TASK_KIND_SELECT) {
        ExpandPlan(t, report.plan_files, report.commit);
        break;
      }
      if (WritesFile(task.node.kind)) jobs_[j].files_done++;
      Finish(t, kiln::v1::TASK_STATE_SUCCEEDED, "");
      CompleteDep(t);
      break;
    case AttemptOutcome::kRetryable:
      Retry(t, /*capacity=*/false, report.error);
      break;
    case AttemptOutcome::kCapacity:
      Retry(t, /*capacity=*/true, report.error);
      break;
    case AttemptOutcome::kFailed:
      FailTask(t, report.error);
      break;
    case AttemptOutcome::kCheckFailed:
      if (WritesFile(task.node.kind)) {
        // The request completed, so its prefix is cached.
        if (groups_.IsSeed(task.node.prefix_key, t)) MakeWarm(t, clock_->MonotonicNow());
        Repair(t);
      } else {
        FailTask(t, report.error.empty() ? "build failed" : report.error);
      }
      break;
  }
  JobRec& job = jobs_[j];
  const double budget = job.spec.limits().budget_usd();
  if (budget > 0 && job.cost >= budget && job.phase == JobPhase::kRunning &&
      job.open > 0) {
    CancelJob(j, JobPhase::kFailed,
              absl::StrFormat("budget_usd reached: spent $%.4f of $%.4f",
                              job.cost, budget));
  }
  CheckJobDone(j);
  return absl::OkStatus();
}

absl::Status Scheduler::Adopt(const std::string& task_id, int64_t attempt) {
  const int t = FindTask(task_id);
  if (t < 0) return absl::NotFoundError(absl::StrCat("no task ", task_id));
  TaskRec& task = tasks_[t];
  if ((task.state != kiln::v1::TASK_STATE_READY &&
       task.state != kiln::v1::TASK_STATE_HELD) ||
      attempt < task.attempt) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "cannot adopt attempt %d of task %s (attempt %d, %s)", attempt,
        task_id, task.attempt, kiln::v1::TaskState_Name(task.state)));
  }
  if (task.state == kiln::v1::TASK_STATE_HELD) groups_.Unhold(task.node.prefix_key, t);
  const int j = task.job;
  EraseJobOrder(j);
  RemoveReady(t);
  task.attempt = attempt;
  SetState(t, kiln::v1::TASK_STATE_LEASED);
  batches_[jobs_[j].batch].leased++;
  leased_count_++;
  jobs_[j].started++;
  InsertJobOrder(j);
  return absl::OkStatus();
}

absl::Status Scheduler::Requeue(const std::string& task_id, int64_t attempt) {
  int t = 0;
  if (absl::Status s = Fence(task_id, attempt, &t); !s.ok()) return s;
  SeedLost(t);
  MakeReady(t);
  return absl::OkStatus();
}

absl::Status Scheduler::OnLeaseLost(const std::string& task_id, int64_t attempt,
                                    const AttemptReport& spent) {
  int t = 0;
  if (absl::Status s = Fence(task_id, attempt, &t); !s.ok()) return s;
  const TokenCounts& u = spent.usage;
  if (u.input + u.cache_read + u.cache_write + u.output > 0 || spent.cost_usd > 0) {
    Account(t, spent);
  }
  Retry(t, /*capacity=*/false, "lease lost");
  return absl::OkStatus();
}

absl::Duration Scheduler::Backoff(int failures) {
  const double exp = std::ldexp(1.0, std::min(failures - 1, 30));
  absl::Duration d = std::min(options_.backoff_base * exp, options_.backoff_max);
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  return std::min(d * jitter(rng_), options_.backoff_max);
}

void Scheduler::Retry(int t, bool capacity, const std::string& reason) {
  TaskRec& task = tasks_[t];
  JobRec& job = jobs_[task.job];
  task.failures++;
  if (task.failures >= options_.max_attempts) {
    FailTask(t, absl::StrCat("gave up after ", task.failures, " attempts: ", reason));
    return;
  }
  SeedLost(t);
  std::string why = reason;
  if (capacity) {
    task.capacity_failures++;
    const auto& fallback = job.spec.model().fallback();
    if (task.capacity_failures >= options_.capacity_errors_before_fallback &&
        task.fallback_next < fallback.size()) {
      GroupLeave(t);
      const std::string from = task.node.model;
      task.node.model = fallback[task.fallback_next++];
      task.node.prefix_key = PrefixKeyFor(job.spec, task.node.model);
      GroupJoin(t);
      task.capacity_failures = 0;
      why = absl::StrCat(reason, "; falling back from ", from, " to ",
                         task.node.model);
    }
  } else {
    task.capacity_failures = 0;
  }
  task.not_before = clock_->MonotonicNow() + Backoff(task.failures);
  SetState(t, kiln::v1::TASK_STATE_READY, why);
  delayed_.push({task.not_before, t});
}

void Scheduler::Finish(int t, kiln::v1::TaskState s, std::string reason) {
  TaskRec& task = tasks_[t];
  if (IsTerminal(task.state)) return;
  RemoveReady(t);
  if (UsesLlm(task.node.kind) &&
      groups_.IsSeed(task.node.prefix_key, t) && s == kiln::v1::TASK_STATE_SUCCEEDED) {
    MakeWarm(t, clock_->MonotonicNow());
  }
  SetState(t, s, std::move(reason));
  GroupLeave(t);  // a seed that did not succeed hands its role on
  jobs_[task.job].open--;
}

void Scheduler::FailTask(int t, std::string reason) {
  TaskRec& task = tasks_[t];
  JobRec& job = jobs_[task.job];
  job.any_failed = true;
  if (WritesFile(task.node.kind)) job.files_failed++;
  Finish(t, kiln::v1::TASK_STATE_FAILED, std::move(reason));
  CancelDependents(t, absl::StrCat("dependency ", task.id, " failed"));
}

void Scheduler::CompleteDep(int t) {
  for (int d : tasks_[t].node.dependents) {
    TaskRec& dep = tasks_[d];
    if (dep.state != kiln::v1::TASK_STATE_PENDING) continue;
    if (--dep.pending == 0) MakeReady(d);
  }
}

void Scheduler::Cancel(int t, const std::string& reason) {
  const TaskRec& task = tasks_[t];
  if (task.state == kiln::v1::TASK_STATE_LEASED) {
    // The worker must be told to stop.
    Dispatched c;
    c.task_id = task.id;
    c.attempt = task.attempt;
    cancelled_leases_.push_back(c);
  }
  Finish(t, kiln::v1::TASK_STATE_CANCELLED, reason);
}

void Scheduler::CancelDependents(int t, const std::string& reason) {
  std::vector<int> stack(tasks_[t].node.dependents);
  while (!stack.empty()) {
    const int d = stack.back();
    stack.pop_back();
    if (IsTerminal(tasks_[d].state)) continue;
    Cancel(d, reason);
    for (int e : tasks_[d].node.dependents) stack.push_back(e);
  }
}

void Scheduler::CancelJob(int j, JobPhase phase, const std::string& reason) {
  JobRec& job = jobs_[j];
  if (job.phase != JobPhase::kRunning) return;
  job.phase = phase;
  job.reason = reason;
  for (int t : job.tasks) {
    if (!IsTerminal(tasks_[t].state)) Cancel(t, reason);
  }
  CheckJobDone(j);
}

void Scheduler::CheckJobDone(int j) {
  JobRec& job = jobs_[j];
  if (job.open > 0 || job.finalized) return;
  job.finalized = true;
  if (job.phase == JobPhase::kRunning) {
    job.phase = job.any_failed ? JobPhase::kFailed : JobPhase::kSucceeded;
  }
  BatchRec& b = batches_[job.batch];
  if (--b.open_jobs == 0) b.totals.done = true;
}

absl::Status Scheduler::CancelBatch(const std::string& batch_id,
                                    const std::string& reason) {
  auto it = batch_index_.find(batch_id);
  if (it == batch_index_.end()) {
    return absl::NotFoundError(absl::StrCat("no batch ", batch_id));
  }
  BatchRec& b = batches_[it->second];
  if (!b.cancelled && b.expanded < b.jobs_total) {
    b.cancelled = true;
    b.cancel_reason = reason;
  }
  for (int j : b.jobs) {
    CancelJob(j, JobPhase::kCancelled, reason);
  }
  return absl::OkStatus();
}

void Scheduler::Tick() {
  const MonotonicTime now = clock_->MonotonicNow();
  while (!delayed_.empty() && delayed_.top().first <= now) {
    const auto [at, t] = delayed_.top();
    delayed_.pop();
    if (tasks_[t].state == kiln::v1::TASK_STATE_READY &&
        tasks_[t].not_before == at) {
      EnqueueReady(t);
    }
  }
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const int j = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    CancelJob(j, JobPhase::kFailed, "deadline exceeded");
  }
}

absl::optional<MonotonicTime> Scheduler::NextWakeup() const {
  absl::optional<MonotonicTime> next = rate_wakeup_;
  auto consider = [&next](MonotonicTime t) {
    if (!next || t < *next) next = t;
  };
  if (!delayed_.empty()) consider(delayed_.top().first);
  for (const auto& [at, j] : deadlines_) {
    if (jobs_[j].phase == JobPhase::kRunning) {
      consider(at);
      break;
    }
  }
  return next;
}

std::vector<Dispatched> Scheduler::TakeCancelledLeases() {
  std::vector<Dispatched> out;
  out.swap(cancelled_leases_);
  return out;
}

std::vector<TaskEvent> Scheduler::TakeEvents() {
  std::vector<TaskEvent> out;
  out.reserve(events_.size());
  for (PendingEvent& e : events_) {
    out.push_back({tasks_[e.task].id, e.state, e.attempt, std::move(e.reason),
                   e.repaired_by >= 0 ? tasks_[e.repaired_by].id : std::string()});
  }
  events_.clear();
  return out;
}

}  // namespace kiln
