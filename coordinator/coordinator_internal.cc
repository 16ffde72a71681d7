#include "coordinator/coordinator_internal.h"

#include "common/entity_ids.h"

namespace kiln {
namespace coordinator_internal {

using kiln::v1::TaskResult;

namespace {

AttemptOutcome ToOutcome(const kiln::v1::LoggedResult& r) {
  switch (r.outcome()) {
    case TaskResult::OUTCOME_SUCCEEDED:
      return AttemptOutcome::kSucceeded;
    case TaskResult::OUTCOME_FAILED:
      return AttemptOutcome::kFailed;
    case TaskResult::OUTCOME_CHECK_FAILED:
      return AttemptOutcome::kCheckFailed;
    case TaskResult::OUTCOME_CAPACITY:
      return AttemptOutcome::kCapacity;
    default:
      return r.capacity() ? AttemptOutcome::kCapacity
                          : AttemptOutcome::kRetryable;
  }
}

}  // namespace

int TaskNumber(const std::string& task_id) {
  absl::string_view job;
  int n = -1;
  TaskId::Split(task_id, &job, &n);
  return n;
}

std::string JobOf(const std::string& task_id) {
  absl::string_view job;
  int n = -1;
  TaskId::Split(task_id, &job, &n);
  return std::string(job);
}

AttemptReport ToReport(const kiln::v1::LoggedResult& r) {
  AttemptReport rep;
  rep.outcome = ToOutcome(r);
  rep.usage = FromUsage(r.usage());
  rep.cost_usd = r.cost_usd();
  rep.uncached_cost_usd = r.uncached_cost_usd();
  rep.error = r.error();
  rep.plan_files.assign(r.plan_files().begin(), r.plan_files().end());
  rep.commit = r.commit();
  return rep;
}

AttemptReport LostReport(const kiln::v1::LoggedAttempt& a) {
  AttemptReport rep;
  rep.outcome = AttemptOutcome::kRetryable;
  rep.usage = FromUsage(a.usage());
  rep.cost_usd = a.cost_usd();
  rep.uncached_cost_usd = a.uncached_cost_usd();
  return rep;
}

}  // namespace coordinator_internal
}  // namespace kiln
