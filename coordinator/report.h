// A batch's report: where its time and money went (DESIGN.md
// "Observability", `kiln report`).
#ifndef KILN_COORDINATOR_REPORT_H_
#define KILN_COORDINATOR_REPORT_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// Builds the report from the batch's task records (every attempt with its
// usage, cost and timings). `lower_bound` is the scheduler's critical-path
// lower bound of the batch; `job_names` maps job ids to names. The critical
// path is the run's longest dependency chain, each task counted from its
// first lease to its end; tasks on it are flagged.
kiln::v1::Report BuildReport(const std::string& batch_id,
                             kiln::v1::BatchState state,
                             const std::vector<kiln::v1::Task>& tasks,
                             absl::Duration lower_bound);

}  // namespace kiln

#endif  // KILN_COORDINATOR_REPORT_H_
