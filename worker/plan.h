// A PLAN task's reply: the YAML list of files a model proposes for a job's
// free-text task, parsed and validated exactly like a user's spec (paths,
// deps, cycles, models), with errors naming the field and the line of the
// plan.
#ifndef KILN_WORKER_PLAN_H_
#define KILN_WORKER_PLAN_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "llm/model_profile.h"

namespace kiln {

// The reply's first fenced block (or the whole reply) is read as
//   files:
//     - {path: src/a.py, instructions: "...", deps: [...]}
//   summary: "..."            (optional)
// INVALID_ARGUMENT listing every problem ("plan:3:13: files[0].path: ...")
// when it does not parse, has no files, or the job with these files would
// not be a valid spec.
absl::StatusOr<kiln::v1::Plan> ParsePlanReply(absl::string_view reply,
                                              const kiln::v1::JobSpec& job,
                                              const ModelCatalog& models);

}  // namespace kiln

#endif  // KILN_WORKER_PLAN_H_
