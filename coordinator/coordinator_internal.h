// Internals of the coordinator shared by its source files (coordinator.cc:
// loading, staging, commits, submissions and semaphores;
// coordinator_reads.cc: the read API; coordinator_workers.cc: sessions,
// dispatch, leases and results). Not part of its interface.
#ifndef KILN_COORDINATOR_COORDINATOR_INTERNAL_H_
#define KILN_COORDINATOR_COORDINATOR_INTERNAL_H_

#include <map>
#include <set>
#include <string>

#include "common/states.h"
#include "coordinator/batch_states.h"
#include "coordinator/coordinator.h"
#include "coordinator/scheduler.h"
#include "kiln/v1/store.pb.h"

namespace kiln {
namespace coordinator_internal {

// The n of a task id "<job id>/<n>" (for creation order).
int TaskNumber(const std::string& task_id);
// The job id of a task id.
std::string JobOf(const std::string& task_id);
// An accepted result as the scheduler takes it.
AttemptReport ToReport(const kiln::v1::LoggedResult& r);
// The spend of a lost attempt (a lease_lost entry), for the batch's totals.
AttemptReport LostReport(const kiln::v1::LoggedAttempt& a);

}  // namespace coordinator_internal

struct Coordinator::BatchState {
  kiln::v1::BatchRecord record;
  bool live = false;          // admitted to the scheduler
  bool cancel_requested = false;
  int64_t last_seq = 0;       // events staged
  int64_t committed_seq = 0;  // events durable
  int64_t log_seq = 0;
  std::map<std::string, kiln::v1::JobState> job_states;
  std::set<WatchSink*> watchers;
  // Jobs whose scheduler state may have changed since the last
  // UpdateJobAndBatchStates; every job when `rescan_jobs` (after loading).
  std::set<std::string> changed_jobs;
  bool rescan_jobs = true;
  // Jobs per state in job_states (a job not there is QUEUED).
  std::map<kiln::v1::JobState, int> job_counts;

  kiln::v1::JobState JobStateOf(const std::string& job) const {
    auto it = job_states.find(job);
    return it == job_states.end() ? kiln::v1::JOB_STATE_QUEUED : it->second;
  }
  void SetJobState(const std::string& job, kiln::v1::JobState state) {
    auto [it, inserted] = job_states.emplace(job, state);
    if (!inserted) {
      --job_counts[it->second];
      it->second = state;
    }
    ++job_counts[state];
  }
  // The jobs' summary, from job_counts (not a walk over every job).
  JobsSummary Summary() const {
    JobsSummary s;
    for (const auto& [state, n] : job_counts) {
      if (n <= 0) continue;
      s.Add(state);
      if (IsTerminal(state)) s.done += n - 1;
    }
    return s;
  }
};

struct Coordinator::SessionRec {
  std::string id;
  std::string worker_id;
  SessionSink* sink = nullptr;
  kiln::v1::Capabilities caps;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_COORDINATOR_INTERNAL_H_
