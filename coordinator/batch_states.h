// The batch state machine: how the scheduler's view of a job (JobStatus)
// and the tasks it runs become job states, and job states a batch state,
// and the records and events that say so. Pure functions; the coordinator
// applies them to each turn's scheduler events.
//
//   job:   QUEUED -> PLANNING | GENERATING | BUILDING (what it runs)
//                 -> SUCCEEDED | FAILED | CANCELLED (its scheduler phase)
//   batch: QUEUED -> RUNNING (a job started) -> SUCCEEDED | FAILED |
//          CANCELLED (all tasks done: cancelled if asked or a job was,
//          else failed if a job failed)
#ifndef KILN_COORDINATOR_BATCH_STATES_H_
#define KILN_COORDINATOR_BATCH_STATES_H_

#include <string>

#include "coordinator/scheduler.h"
#include "kiln/v1/batch.pb.h"

namespace kiln {

// A job's state once its scheduler phase ended (QUEUED while running).
kiln::v1::JobState JobStateOf(JobPhase phase);

// The state of a job whose task of `kind` was just leased.
kiln::v1::JobState JobStateWhileRunning(kiln::v1::TaskKind kind);

// The job as reported and stored: id, batch, state, file counts, cost and
// error (create and end times, spec and task counts are the caller's).
kiln::v1::Job JobProto(const std::string& job_id, const std::string& batch_id,
                       kiln::v1::JobState state, const JobStatus& status);

// The event that a job entered `job.state()`.
kiln::v1::Event JobChangedEvent(const kiln::v1::Job& job, const std::string& job_name);

// What the batch's jobs are doing.
struct JobsSummary {
  bool any_started = false;  // left QUEUED
  int done = 0;              // in a terminal state
  bool any_failed = false;
  bool any_cancelled = false;
  void Add(kiln::v1::JobState state);
};

// The batch's next state; `all_tasks_done` from the scheduler's totals.
kiln::v1::BatchState NextBatchState(kiln::v1::BatchState current, const JobsSummary& jobs,
                                    bool all_tasks_done, bool cancel_requested);

}  // namespace kiln

#endif  // KILN_COORDINATOR_BATCH_STATES_H_
