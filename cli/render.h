// Text views of batches and reports, as `kiln status`, `kiln list`,
// `kiln report` and the end of `kiln run` print them.
#ifndef KILN_CLI_RENDER_H_
#define KILN_CLI_RENDER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kiln/v1/batch.pb.h"

namespace kiln {
namespace cli {

// The batch (FULL view): state, task counts, usage and cost, then a table
// of its jobs with their errors. `now` dates the "ago" of its times.
// A job's landing state as shown: the landing's state, FAILED for a job
// with `land` that failed before it, "-" for one not landed (yet) or
// without `land`.
std::string LandingStateOf(const kiln::v1::Job& job);
// Whether the job's change did not land: it failed, or its landing failed
// or was rejected (what `kiln retry --failed` resubmits).
bool DidNotLand(const kiln::v1::Job& job);
// The per-repo landing table (header and one row per job), and the counts
// by state ("3 PUSHED, 1 UNCHANGED"); empty when no job has `land`.
std::vector<std::vector<std::string>> LandingRows(const kiln::v1::Batch& b);
std::string LandingCounts(const kiln::v1::Batch& b);

std::string FormatStatus(const kiln::v1::Batch& batch, absl::Time now);

// A table of batches (BASIC view), newest first.
std::string FormatList(const std::vector<kiln::v1::Batch>& batches, absl::Time now);

// Where the time and the money went: wall time against the lower bound,
// tokens by billing kind, cache-hit rate, cost against the uncached cost,
// time per phase, per model, the critical path, and the tasks that did not
// succeed. `batch` (FULL view) names the jobs. With a simulated provider
// running `time_scale` times faster than real time, the lower bound (in
// simulated time) is divided by it to compare with the wall time.
std::string FormatReport(const kiln::v1::Report& report, const kiln::v1::Batch& batch,
                         double time_scale = 1);

// The per-task table of a report: job, kind, path, state, model, attempts,
// worker, prompt tokens (full / cache read / cache write), output, cost,
// time.
std::string FormatReportTasks(const kiln::v1::Report& report);

// A task's time from its first lease to its end, "cached" when the result
// cache answered it, "-" when it has not run.
std::string TaskTime(const kiln::v1::TaskReport& task);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_RENDER_H_
