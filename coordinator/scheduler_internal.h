// The scheduler's records of tasks, jobs and batches, shared by its sources
// (scheduler.cc: dispatch and outcomes; scheduler_queries.cc: the read-only
// views). Internal to //coordinator:scheduler.
#ifndef KILN_COORDINATOR_SCHEDULER_INTERNAL_H_
#define KILN_COORDINATOR_SCHEDULER_INTERNAL_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/token_bucket.h"
#include "coordinator/scheduler.h"

namespace kiln {

struct Scheduler::TaskRec {
  std::string id;
  int job = 0;
  TaskNode node;  // deps and dependents hold global task indices
  kiln::v1::TaskState state = kiln::v1::TASK_STATE_PENDING;
  int64_t attempt = 0;
  int failures = 0;
  int capacity_failures = 0;
  int fallback_next = 0;
  int pending = 0;  // unfinished deps
  int repair_round = 0;
  int repairs = -1;  // REPAIR: the task whose file it rewrites
  bool in_ready = false;
  MonotonicTime not_before;
};

struct Scheduler::JobRec {
  std::string id;
  std::string name;
  int batch = 0;
  int seq = 0;
  kiln::v1::JobSpec spec;
  JobPhase phase = JobPhase::kRunning;
  std::string reason;
  std::string note;  // a success that changed nothing: "no matching files"
  bool any_failed = false;
  bool finalized = false;
  std::vector<int> tasks;
  std::set<ReadyKey> ready;
  bool in_order = false;
  int started = 0;
  int open = 0;
  int files_total = 0;
  int files_done = 0;
  int files_failed = 0;
  double cost = 0;
  int build_task = -1;
  int land_task = -1;
  absl::Duration lower_bound;
  std::map<std::string, int> repairs;  // path -> repairs so far
};

struct Scheduler::BatchRec {
  std::string id;
  kiln::v1::SchedulingPolicy policy;
  // policy.requests_per_minute, per model (the profiles' limits are the
  // scheduler-wide limiter_'s).
  std::map<std::string, TokenBucket> rpm;
  std::vector<int> jobs;
  int leased = 0;
  // Jobs not finished, counting those not expanded yet.
  int open_jobs = 0;
  BatchTotals totals;
  // Admission in slices: the spec, how many jobs it has and how many are
  // expanded into tasks so far. The spec is dropped once all are.
  kiln::v1::BatchSpec spec;
  int jobs_total = 0;
  int expanded = 0;
  // Set by CancelBatch: jobs expanded later start cancelled.
  bool cancelled = false;
  std::string cancel_reason;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_SCHEDULER_INTERNAL_H_
