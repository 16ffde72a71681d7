// The tasks a running job gains: a REPAIR after a failed check, and the
// file tasks of a PLAN's plan or a SELECT's matching files.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/states.h"
#include "common/status.h"
#include "coordinator/scheduler.h"
#include "coordinator/scheduler_internal.h"
#include "spec/spec_validator.h"

namespace kiln {

void Scheduler::Repair(int t) {
  TaskRec& task = tasks_[t];
  JobRec& job = jobs_[task.job];
  const auto& limits = job.spec.limits();
  const int max_repairs =
      limits.no_repair() ? 0 : (limits.max_repairs() > 0 ? limits.max_repairs() : 2);
  const int round = ++job.repairs[task.node.path];
  if (round > max_repairs) {
    FailTask(t, absl::StrCat("checks still fail after ", max_repairs, " repairs"));
    return;
  }
  TaskNode n;
  n.kind = kiln::v1::TASK_KIND_REPAIR;
  n.path = task.node.path;
  n.model = task.node.model;
  n.expected_output_tokens = task.node.expected_output_tokens;
  n.max_output_tokens = RepairMaxTokens(cost_, task.node);
  n.stable_prompt_tokens = task.node.stable_prompt_tokens;
  // The previous code and its diagnostics join the variable part.
  n.variable_prompt_tokens = task.node.variable_prompt_tokens +
                             task.node.expected_output_tokens + 500;
  n.prefix_key = task.node.prefix_key;
  const std::vector<int> dependents = task.node.dependents;
  task.node.dependents.clear();
  const int r = AddTask(task.job, std::move(n));
  TaskRec& repair = tasks_[r];
  repair.repair_round = round;
  repair.repairs = t;
  repair.node.estimate = cost_.Estimate(repair.node);
  absl::Duration after = absl::ZeroDuration();
  for (int d : dependents) {
    for (int& dep : tasks_[d].node.deps) {
      if (dep == t) dep = r;
    }
    repair.node.dependents.push_back(d);
    after = std::max(after, tasks_[d].node.remaining_critical_path);
  }
  repair.node.remaining_critical_path = repair.node.estimate + after;
  Finish(t, kiln::v1::TASK_STATE_FAILED,
         absl::StrCat("checks failed; repaired by ", repair.id));
  events_.back().repaired_by = r;
  MakeReady(r);
}

void Scheduler::ExpandPlan(int t, const std::vector<kiln::v1::FileSpec>& files,
                           const std::string& commit) {
  TaskRec& plan = tasks_[t];
  const int j = plan.job;
  const bool select = plan.node.kind == kiln::v1::TASK_KIND_SELECT;
  // From here on every task of the job checks out this commit.
  if (select && !commit.empty()) jobs_[j].spec.mutable_repo()->set_commit(commit);
  if (files.empty() && !select) {
    FailTask(t, "the plan has no files");
    return;
  }
  if (files.empty()) {
    // Nothing (more) to edit in this repo.
    Finish(t, kiln::v1::TASK_STATE_SUCCEEDED, "");
    if (jobs_[j].spec.has_select() && jobs_[j].spec.files_size() == 0) {
      // The job succeeds without changing the repo.
      jobs_[j].note = "no matching files";
      for (int after : {jobs_[j].build_task, jobs_[j].land_task}) {
        if (after >= 0 && !IsTerminal(tasks_[after].state)) Cancel(after, "no matching files");
      }
      CheckJobDone(j);
      return;
    }
    CompleteDep(t);
    return;
  }
  kiln::v1::JobSpec planned = jobs_[j].spec;
  if (!select) planned.clear_task();
  for (const auto& f : files) *planned.add_files() = f;
  kiln::v1::BatchSpec check;
  *check.add_jobs() = planned;
  ValidateOptions vo;
  vo.file = absl::StrCat(select ? "selection of " : "plan of ", jobs_[j].id);
  const absl::Status valid =
      ProblemsToStatus(ValidateBatch(check, *models_, {}, vo));
  if (!valid.ok()) {
    FailTask(t, absl::StrCat(select ? "invalid selection: " : "invalid plan: ", valid.message()));
    return;
  }
  // The new files' tasks only (a selection's join the listed ones).
  kiln::v1::JobSpec added = planned;
  if (select) {
    added.clear_files();
    added.clear_select();
    for (const auto& f : files) *added.add_files() = f;
  }
  added.clear_land();  // the job has its LAND task
  JobDag dag = BuildJobDag(added, cost_, /*with_select=*/false);
  jobs_[j].lower_bound += CriticalPathLowerBound(dag, cost_);
  jobs_[j].files_total = planned.files_size();
  jobs_[j].spec = planned;
  const int build = jobs_[j].build_task;
  std::vector<int> global(dag.tasks.size(), -1);
  std::vector<int> roots;
  for (size_t i = 0; i < dag.tasks.size(); ++i) {
    TaskNode n = std::move(dag.tasks[i]);
    if (n.kind == kiln::v1::TASK_KIND_BUILD) continue;  // the job has one
    for (int& d : n.deps) d = global[d];
    n.dependents.clear();
    const int g = AddTask(j, std::move(n));
    global[i] = g;
    if (tasks_[g].pending == 0) roots.push_back(g);
    // The job's build and landing wait for the new files too.
    for (int after : {build, jobs_[j].land_task}) {
      if (after < 0) continue;
      tasks_[after].node.deps.push_back(g);
      tasks_[after].pending++;
      tasks_[g].node.dependents.push_back(after);
    }
  }
  Finish(t, kiln::v1::TASK_STATE_SUCCEEDED, "");
  CompleteDep(t);
  for (int r : roots) MakeReady(r);
}

}  // namespace kiln
