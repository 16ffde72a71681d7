#include "coordinator/batch_states.h"

#include "common/states.h"

namespace kiln {

kiln::v1::JobState JobStateOf(JobPhase phase) {
  switch (phase) {
    case JobPhase::kSucceeded:
      return kiln::v1::JOB_STATE_SUCCEEDED;
    case JobPhase::kFailed:
      return kiln::v1::JOB_STATE_FAILED;
    case JobPhase::kCancelled:
      return kiln::v1::JOB_STATE_CANCELLED;
    default:
      return kiln::v1::JOB_STATE_QUEUED;
  }
}

kiln::v1::JobState JobStateWhileRunning(kiln::v1::TaskKind kind) {
  switch (kind) {
    case kiln::v1::TASK_KIND_PLAN:
    case kiln::v1::TASK_KIND_SELECT:  // choosing its files, as a plan does
      return kiln::v1::JOB_STATE_PLANNING;
    case kiln::v1::TASK_KIND_BUILD:
      return kiln::v1::JOB_STATE_BUILDING;
    case kiln::v1::TASK_KIND_LAND:
      return kiln::v1::JOB_STATE_LANDING;
    default:
      return kiln::v1::JOB_STATE_GENERATING;
  }
}

kiln::v1::Job JobProto(const std::string& job_id, const std::string& batch_id,
                       kiln::v1::JobState state, const JobStatus& status) {
  kiln::v1::Job j;
  j.set_id(job_id);
  j.set_batch_id(batch_id);
  j.set_state(state);
  j.set_files_total(status.files_total);
  j.set_files_done(status.files_done);
  j.set_files_failed(status.files_failed);
  j.set_cost_usd(status.cost_usd);
  if (!status.reason.empty()) j.mutable_error()->set_message(status.reason);
  j.set_note(status.note);
  return j;
}

kiln::v1::Event JobChangedEvent(const kiln::v1::Job& job, const std::string& job_name) {
  kiln::v1::Event e;
  kiln::v1::JobStateChanged* c = e.mutable_job();
  c->set_job_id(job.id());
  c->set_job_name(job_name);
  c->set_state(job.state());
  c->set_files_total(job.files_total());
  c->set_files_done(job.files_done());
  if (IsTerminal(job.state()) && job.has_error()) *c->mutable_error() = job.error();
  c->set_note(job.note());
  return e;
}

void JobsSummary::Add(kiln::v1::JobState state) {
  if (state != kiln::v1::JOB_STATE_QUEUED) any_started = true;
  if (IsTerminal(state)) done++;
  if (state == kiln::v1::JOB_STATE_FAILED) any_failed = true;
  if (state == kiln::v1::JOB_STATE_CANCELLED) any_cancelled = true;
}

kiln::v1::BatchState NextBatchState(kiln::v1::BatchState current, const JobsSummary& jobs,
                                    bool all_tasks_done, bool cancel_requested) {
  kiln::v1::BatchState next = current;
  if (next == kiln::v1::BATCH_STATE_QUEUED && jobs.any_started) {
    next = kiln::v1::BATCH_STATE_RUNNING;
  }
  if (all_tasks_done && !IsTerminal(next)) {
    next = (cancel_requested || jobs.any_cancelled)
               ? kiln::v1::BATCH_STATE_CANCELLED
               : (jobs.any_failed ? kiln::v1::BATCH_STATE_FAILED
                                  : kiln::v1::BATCH_STATE_SUCCEEDED);
  }
  return next;
}

}  // namespace kiln
