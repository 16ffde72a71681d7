// The scheduler core: which task runs next, and what happens when it ends.
//
// Event-loop-only: a plain class with no threads or locks; the coordinator
// calls it from its single event loop (gRPC handlers post there) and tests
// and the strategy simulator drive it with a FakeClock. Time comes only from
// the injected Clock.
//
// Policy (DESIGN.md "Scheduling"):
//   - Ready tasks are dispatched fairly across jobs (the job with the fewest
//     tasks started so far goes first, so every job starts one task before
//     any starts a second), and by priority within a job (remaining critical
//     path), ties by age.
//   - Cache groups: tasks with the same prefix key share a provider cache
//     entry. A cold group dispatches ONE seed (its best ready task) and holds
//     the group's other tasks until the seed reports its first token (or its
//     completion, per the batch's release policy); the group is then warm
//     until the profile's TTL lapses after its last use. A failed seed hands
//     the role to the next task. Groups of one, SEED_MODE_NEVER, and prefixes
//     under the model's cache minimum (SEED_MODE_AUTO) are never held.
//   - Provider capacity: per-model token buckets (RateLimiter).
//   - Retries: retryable failures go back to READY after jittered
//     exponential backoff; after `capacity_errors_before_fallback`
//     consecutive capacity errors a task moves to the job's next fallback.
//   - A failed check schedules a REPAIR of the file (up to the job's
//     max_repairs); its dependents then wait for the repair.
//   - Cancellation, job deadlines and budgets cancel the remaining tasks;
//     leased ones are reported through TakeCancelledLeases().
#ifndef KILN_COORDINATOR_SCHEDULER_H_
#define KILN_COORDINATOR_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "coordinator/cache_groups.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "llm/model_profile.h"
#include "llm/rate_limiter.h"
#include "spec/dag.h"
#include "spec/spec_parser.h"

namespace kiln {

struct SchedulerOptions {
  CostModelOptions cost;
  // Retryable failures (including capacity errors and lost leases) a task may
  // have before it fails for good.
  int max_attempts = 8;
  absl::Duration backoff_base = absl::Seconds(1);
  absl::Duration backoff_max = absl::Seconds(60);
  // Consecutive capacity errors (429 after the worker's own retries) before
  // a task switches to the job's next fallback model.
  int capacity_errors_before_fallback = 3;
  // Seeds the backoff jitter (deterministic runs).
  uint64_t random_seed = 1;
  // Cluster-wide requests per minute per model on top of profile limits
  // (0: profile limits only).
  int64_t requests_per_minute_cap = 0;
  // The provider runs this many times faster than the scheduler's clock (a
  // simulator at a time scale): rate limits refill and cache TTLs lapse
  // that many times faster (TokenBucket).
  double time_scale = 1;
  // Pace at this share of each rate limit's refill rate: requests reach the
  // provider with jitter (dispatch, prompt assembly, the network), and a
  // provider's bucket measured at the edge would answer some of them 429
  // at 100%.
  double pacing_headroom = 0.97;
};

// How an attempt ended, as the worker reports it.
enum class AttemptOutcome {
  kSucceeded,
  // Transient: 5xx, network, stall. Retried with backoff.
  kRetryable,
  // The provider is over capacity (429s outlasted the worker's retries).
  kCapacity,
  // Will not succeed on retry (bad request, quota, auth, invalid plan).
  kFailed,
  // The file was written but its checks (or the job's build) failed.
  kCheckFailed,
};

struct AttemptReport {
  AttemptOutcome outcome = AttemptOutcome::kSucceeded;
  TokenCounts usage;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
  std::string error;
  // PLAN successes: the planned files (validated like a user's spec).
  std::vector<kiln::v1::FileSpec> plan_files;
  // SELECT successes: the commit the job's ref resolved to.
  std::string commit;
};

// A task leased by Dispatch().
struct Dispatched {
  std::string task_id;
  int64_t attempt = 0;
  kiln::v1::TaskKind kind = kiln::v1::TASK_KIND_UNSPECIFIED;
  std::string batch_id;
  std::string job_id;
  std::string path;
  std::string model;
  std::string prefix_key;
  int max_output_tokens = 0;
  // Size estimates: prompt tokens (stable prefix, variable rest) and the
  // expected output.
  int64_t stable_prompt_tokens = 0;
  int64_t variable_prompt_tokens = 0;
  int expected_output_tokens = 0;
  int repair_round = 0;
  // This attempt seeds its cache group: report its first token.
  bool seed = false;
  // DispatchFilter::answered_without_llm said so: leased unpaced, no slot.
  bool without_llm = false;
};

// What the worker being filled can take, asked before anything is spent on
// a task (rate-limit tokens, its attempt number, its job's start count, a
// cache group's seed role).
struct DispatchFilter {
  // Whether the worker runs `model` ("" for a BUILD, which calls no LLM).
  // A task it cannot run stays READY for another worker. Null: any.
  std::function<bool(const std::string& model)> runs_model;
  // Whether the task will be answered without an LLM call (the result
  // cache holds its outcome, or an identical call is in flight). Such a
  // task is leased unpaced, never seeds or waits for a seed, and does not
  // count against `slots`. Null: none is.
  std::function<bool(const std::string& task_id)> answered_without_llm;
};

// A state change, for persistence and watchers.
struct TaskEvent {
  std::string task_id;
  kiln::v1::TaskState state = kiln::v1::TASK_STATE_UNSPECIFIED;
  int64_t attempt = 0;
  std::string reason;
  // FAILED because a check failed: the REPAIR task that takes over the file.
  std::string repaired_by;
};

enum class JobPhase { kRunning, kSucceeded, kFailed, kCancelled };

// Read-only view of a task.
struct TaskInfo {
  std::string id;
  std::string job_id;
  kiln::v1::TaskKind kind = kiln::v1::TASK_KIND_UNSPECIFIED;
  std::string path;
  std::string model;
  std::string prefix_key;
  kiln::v1::TaskState state = kiln::v1::TASK_STATE_UNSPECIFIED;
  int64_t attempt = 0;
  int repair_round = 0;
  int max_output_tokens = 0;
  // Ids of the tasks it waits for (after repairs took their place).
  std::vector<std::string> deps;
  // REPAIR: the task whose file it rewrites.
  std::string repairs;
};

// Read-only view of a job.
struct JobStatus {
  std::string id;
  std::string name;
  JobPhase phase = JobPhase::kRunning;
  std::string reason;  // why it failed or was cancelled
  std::string note;    // why a job that succeeded changed nothing
  int files_total = 0;
  int files_done = 0;
  int files_failed = 0;
  int tasks_started = 0;
  double cost_usd = 0;
};

// Totals of a batch.
struct BatchTotals {
  TokenCounts usage;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
  int64_t llm_requests = 0;
  int64_t capacity_errors = 0;
  bool done = false;
};

class Scheduler {
 public:
  // `clock` and `models` are not owned and must outlive the scheduler.
  Scheduler(const Clock* clock, const ModelCatalog* models,
            SchedulerOptions options = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Admits a batch: validates it and queues its jobs for expansion.
  // Expand() then builds the jobs' DAGs and makes tasks without dependencies
  // READY, a slice at a time, so that a huge matrix never holds the caller
  // for long. INVALID_ARGUMENT (every problem, with the file:line:column of
  // `locations` where it has the field) when the spec is invalid;
  // ALREADY_EXISTS for a known batch id. Job ids are
  // "<batch_id>/<job name>", task ids "<job id>/<n>".
  // `validate` false: Validate passed already.
  absl::Status Admit(const std::string& batch_id, const kiln::v1::BatchSpec& spec,
                     const SpecLocations& locations = {}, bool validate = true);
  // Admit's validation alone. Thread-safe (reads only `models`).
  static absl::Status Validate(const kiln::v1::BatchSpec& spec,
                               const ModelCatalog& models,
                               const SpecLocations& locations);
  // Admit, then expand all of the batch's jobs at once.
  absl::Status AddBatch(const std::string& batch_id, const kiln::v1::BatchSpec& spec,
                        const SpecLocations& locations = {});
  // Expands queued jobs, oldest batch first, until about `max_tasks` tasks
  // were added (at least one job); returns the jobs expanded. A batch is
  // done only when all its jobs are expanded and finished.
  int Expand(int max_tasks);
  // Expands every queued job of `batch_id` (replay after a restart).
  void ExpandAll(const std::string& batch_id);
  // Whether some batch has jobs left to expand.
  bool expanding() const { return !expanding_.empty(); }
  // Jobs of the batch expanded so far, and in all.
  std::pair<int, int> Expansion(const std::string& batch_id) const;

  // Leases up to `slots` tasks, best first. Tasks whose cache group is being
  // seeded become HELD instead; tasks whose model is out of capacity wait;
  // tasks `filter` says the worker cannot run are left READY untouched.
  std::vector<Dispatched> Dispatch(int slots, const DispatchFilter& filter = {});

  // The attempt streamed its first token: releases the held tasks of its
  // group when it is the seed (release = first token) and refreshes a warm
  // group's TTL. FAILED_PRECONDITION for a stale attempt; NOT_FOUND.
  absl::Status OnFirstToken(const std::string& task_id, int64_t attempt);

  // The attempt ended. FAILED_PRECONDITION for a stale attempt (not the
  // task's current lease, or the task is no longer LEASED: fencing);
  // NOT_FOUND for an unknown task.
  absl::Status OnResult(const std::string& task_id, int64_t attempt,
                        const AttemptReport& report);

  // The attempt's lease expired or its worker vanished: retried like a
  // retryable failure; what it had spent (`spent`, as its worker reported
  // it) counts in the batch's totals. Same errors as OnResult.
  absl::Status OnLeaseLost(const std::string& task_id, int64_t attempt,
                           const AttemptReport& spent = {});

  // Leases a READY or HELD task to an attempt number the caller chooses:
  // used to replay durable results after a restart, and to keep an attempt
  // a reconnecting worker still runs. The task's attempt counter becomes
  // `attempt`. FAILED_PRECONDITION when the task is not READY or HELD, or
  // `attempt` is below its counter; NOT_FOUND for an unknown task.
  absl::Status Adopt(const std::string& task_id, int64_t attempt);

  // Puts a leased task back in the ready queue without counting a failure
  // (no worker can run it now, or the call it waited on was abandoned).
  // Same errors as OnResult.
  absl::Status Requeue(const std::string& task_id, int64_t attempt);

  // Cancels every unfinished task of the batch. NOT_FOUND for an unknown
  // batch; OK (no-op) when it already finished.
  absl::Status CancelBatch(const std::string& batch_id,
                           const std::string& reason);

  // Applies what time alone changes: backoffs that ended, job deadlines.
  // Dispatch() calls it too.
  void Tick();

  // When Tick() or Dispatch() could next change something without an event
  // (a backoff ends, a deadline passes, a rate-limit bucket refills);
  // nullopt when nothing is waiting on time.
  absl::optional<MonotonicTime> NextWakeup() const;

  // Leases the coordinator must tell workers to stop (cancelled tasks).
  std::vector<Dispatched> TakeCancelledLeases();
  // State changes since the last call, in order.
  std::vector<TaskEvent> TakeEvents();

  // Introspection. NOT_FOUND / nullopt for unknown ids.
  absl::optional<kiln::v1::TaskState> StateOf(const std::string& task_id) const;
  absl::optional<JobStatus> Job(const std::string& job_id) const;
  std::vector<std::string> JobIds(const std::string& batch_id) const;
  absl::optional<BatchTotals> Batch(const std::string& batch_id) const;
  // Task ids of a job in creation order.
  std::vector<std::string> TaskIds(const std::string& job_id) const;
  absl::optional<TaskInfo> Task(const std::string& task_id) const;
  // The job's spec as it is now (with its planned files once planned);
  // nullptr for an unknown job.
  const kiln::v1::JobSpec* JobSpecOf(const std::string& job_id) const;
  // The model a task uses now (after any fallback).
  std::string TaskModel(const std::string& task_id) const;
  // Max over the batch's jobs of CriticalPathLowerBound.
  absl::Duration LowerBound(const std::string& batch_id) const;

  int ready_count() const { return ready_count_; }
  int leased_count() const { return leased_count_; }

 private:
  struct TaskRec;
  struct JobRec;
  struct BatchRec;

  // Job order key: (tasks started, job sequence number).
  using JobKey = std::pair<int, int>;
  // Ready order key within a job: (-priority in ms, task index).
  using ReadyKey = std::pair<int64_t, int>;

  int AddTask(int job, TaskNode node);
  // Expands job `k` of batch `b`; returns its tasks and adds those without
  // dependencies to `roots`.
  int ExpandJob(int b, int k, std::vector<int>* roots);
  // Makes an expanded slice's roots READY; finishes its empty jobs.
  void StartExpanded(const std::vector<int>& roots, int first_job);
  void MakeReady(int t);
  void EnqueueReady(int t);
  void RemoveReady(int t);
  void InsertJobOrder(int j);
  void EraseJobOrder(int j);
  // Cache-group seeding (the groups' state is in CacheGroups): order ->
  // seed -> pace -> lease.
  void Hold(int t);
  void ReleaseHeld(const std::vector<int>& held);
  // `seed`'s entry is cached: its group is warm, its held tasks go.
  void MakeWarm(int seed, MonotonicTime now);
  void SeedLost(int t);
  // Whether the task's group is held behind one seed (policy, group size,
  // the model's cache minimum).
  bool NeedsSeeding(const TaskRec& t) const;
  // The model's prompt-cache TTL (5 minutes for unknown models).
  absl::Duration CacheTtl(const std::string& model) const;
  void SetState(int t, kiln::v1::TaskState s, std::string reason = "");
  void Finish(int t, kiln::v1::TaskState s, std::string reason);
  // Fails a task for good (counting a file it should have written) and
  // cancels what depends on it.
  void FailTask(int t, std::string reason);
  void CompleteDep(int t);
  // Cancels one unfinished task (reporting its lease if it has one).
  void Cancel(int t, const std::string& reason);
  void CancelDependents(int t, const std::string& reason);
  void Retry(int t, bool capacity, const std::string& reason);
  void Repair(int t);
  void ExpandPlan(int t, const std::vector<kiln::v1::FileSpec>& files,
                  const std::string& commit);
  void CancelJob(int j, JobPhase phase, const std::string& reason);
  void CheckJobDone(int j);
  void Account(int t, const AttemptReport& r);
  void GroupJoin(int t);
  void GroupLeave(int t);
  absl::Status Fence(const std::string& task_id, int64_t attempt, int* t) const;
  // Index of a task id, or -1.
  int FindTask(const std::string& task_id) const;
  absl::Duration Backoff(int failures);

  const Clock* clock_;
  const ModelCatalog* models_;
  SchedulerOptions options_;
  CostModel cost_;
  RateLimiter limiter_;
  std::mt19937_64 rng_;

  // Deques: growing them never moves what they hold (a vector's
  // reallocation moved every record in one admission turn).
  std::deque<TaskRec> tasks_;
  std::deque<JobRec> jobs_;
  std::deque<BatchRec> batches_;
  // Batches with jobs left to expand, oldest first.
  std::deque<int> expanding_;
  std::unordered_map<std::string, int> job_index_;
  std::unordered_map<std::string, int> batch_index_;
  CacheGroups groups_;

  std::set<JobKey> job_order_;  // jobs with ready tasks
  // Retries waiting for their backoff: (not_before, task).
  std::priority_queue<std::pair<MonotonicTime, int>,
                      std::vector<std::pair<MonotonicTime, int>>,
                      std::greater<>>
      delayed_;
  std::set<std::pair<MonotonicTime, int>> deadlines_;  // (deadline, job)
  absl::optional<MonotonicTime> rate_wakeup_;

  std::vector<Dispatched> cancelled_leases_;
  // Events with task indices; ids are filled in by TakeEvents().
  struct PendingEvent {
    int task;
    kiln::v1::TaskState state;
    int64_t attempt;
    std::string reason;
    int repaired_by = -1;  // the REPAIR task that took over the file
  };
  std::vector<PendingEvent> events_;
  int ready_count_ = 0;
  int leased_count_ = 0;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_SCHEDULER_H_
