// The scheduler's read-only views: tasks, jobs and batches by id.
#include <algorithm>

#include "common/entity_ids.h"
#include "coordinator/scheduler.h"
#include "coordinator/scheduler_internal.h"

namespace kiln {

int Scheduler::FindTask(const std::string& task_id) const {
  // "<job id>/<n>": the n-th task of the job.
  absl::string_view job_id;
  int n = -1;
  TaskId::Split(task_id, &job_id, &n);
  auto job = job_index_.find(std::string(job_id));
  if (job == job_index_.end() || n < 0 ||
      n >= static_cast<int>(jobs_[job->second].tasks.size())) {
    return -1;
  }
  return jobs_[job->second].tasks[n];
}

absl::optional<kiln::v1::TaskState> Scheduler::StateOf(
    const std::string& id) const {
  const int t = FindTask(id);
  if (t < 0) return absl::nullopt;
  return tasks_[t].state;
}

absl::optional<JobStatus> Scheduler::Job(const std::string& id) const {
  auto it = job_index_.find(id);
  if (it == job_index_.end()) return absl::nullopt;
  const JobRec& j = jobs_[it->second];
  JobStatus s;
  s.id = j.id;
  s.name = j.name;
  s.phase = j.phase;
  s.reason = j.reason;
  s.note = j.note;
  s.files_total = j.files_total;
  s.files_done = j.files_done;
  s.files_failed = j.files_failed;
  s.tasks_started = j.started;
  s.cost_usd = j.cost;
  return s;
}

std::vector<std::string> Scheduler::JobIds(const std::string& batch_id) const {
  std::vector<std::string> out;
  auto it = batch_index_.find(batch_id);
  if (it == batch_index_.end()) return out;
  for (int j : batches_[it->second].jobs) out.push_back(jobs_[j].id);
  return out;
}

absl::optional<BatchTotals> Scheduler::Batch(const std::string& id) const {
  auto it = batch_index_.find(id);
  if (it == batch_index_.end()) return absl::nullopt;
  return batches_[it->second].totals;
}

std::vector<std::string> Scheduler::TaskIds(const std::string& job_id) const {
  std::vector<std::string> out;
  auto it = job_index_.find(job_id);
  if (it == job_index_.end()) return out;
  for (int t : jobs_[it->second].tasks) out.push_back(tasks_[t].id);
  return out;
}

absl::optional<TaskInfo> Scheduler::Task(const std::string& task_id) const {
  const int t = FindTask(task_id);
  if (t < 0) return absl::nullopt;
  const TaskRec& task = tasks_[t];
  TaskInfo info;
  info.id = task.id;
  info.job_id = jobs_[task.job].id;
  info.kind = task.node.kind;
  info.path = task.node.path;
  info.model = task.node.model;
  info.prefix_key = task.node.prefix_key;
  info.state = task.state;
  info.attempt = task.attempt;
  info.repair_round = task.repair_round;
  info.max_output_tokens = task.node.max_output_tokens;
  for (int d : task.node.deps) info.deps.push_back(tasks_[d].id);
  if (task.repairs >= 0) info.repairs = tasks_[task.repairs].id;
  return info;
}

const kiln::v1::JobSpec* Scheduler::JobSpecOf(const std::string& job_id) const {
  auto it = job_index_.find(job_id);
  return it == job_index_.end() ? nullptr : &jobs_[it->second].spec;
}

std::string Scheduler::TaskModel(const std::string& task_id) const {
  const int t = FindTask(task_id);
  return t < 0 ? "" : tasks_[t].node.model;
}

absl::Duration Scheduler::LowerBound(const std::string& batch_id) const {
  absl::Duration best = absl::ZeroDuration();
  auto it = batch_index_.find(batch_id);
  if (it == batch_index_.end()) return best;
  for (int j : batches_[it->second].jobs) {
    best = std::max(best, jobs_[j].lower_bound);
  }
  return best;
}

}  // namespace kiln
