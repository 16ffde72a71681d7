// Semantic validation of batch specs, shared by the CLI (before submitting)
// and the coordinator (SubmitBatch), plus matrix expansion.
#ifndef KILN_SPEC_SPEC_VALIDATOR_H_
#define KILN_SPEC_SPEC_VALIDATOR_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/yaml_reader.h"
#include "kiln/v1/spec.pb.h"
#include "llm/model_profile.h"
#include "spec/spec_parser.h"

namespace kiln {

struct ValidateOptions {
  // Names fields of jobs[0] without the "jobs[0]." prefix (job files).
  bool single_job = false;
  // File name used for problems whose field has no recorded location.
  std::string file;
};

// Every problem of `batch`, each naming its field and, when `locations` has
// it (or a parent of it), file:line. Empty when the batch is valid. Checks:
// job names (present, [A-Za-z0-9._-]{1,128}, unique after matrix expansion);
// repos; models known to `models` (default, routing, fallback, per file);
// sampling ranges; file paths (CheckRepoPath, unique); non-blank
// instructions; deps (known, not self, no cycles: the cycle is printed);
// files or task present; checks, build and limits ranges; policy ranges.
std::vector<InputProblem> ValidateBatch(const kiln::v1::BatchSpec& batch,
                                        const ModelCatalog& models,
                                        const SpecLocations& locations,
                                        const ValidateOptions& options);

// What only a client that sees the repos can check, before anything is
// spent: a repo given by a local path exists and is a directory, and no
// file path of its jobs (or of the matrix template, for each repo) names a
// directory in it. Problems as ValidateBatch's.
std::vector<InputProblem> ValidateLocalRepos(const kiln::v1::BatchSpec& batch,
                                             const SpecLocations& locations,
                                             const ValidateOptions& options);

// Parse + validate in one call: INVALID_ARGUMENT lists every problem, one
// per line, in file order.
absl::StatusOr<ParsedSpec> ParseAndValidate(absl::string_view yaml,
                                            absl::string_view filename,
                                            const ModelCatalog& models);

// The batch's jobs in order: explicit jobs, then one per matrix repo (the
// template with that repo, named by the entry or "<template>-<index>").
std::vector<kiln::v1::JobSpec> ExpandJobs(const kiln::v1::BatchSpec& batch);
// The number of jobs ExpandJobs returns, job `k` of them and its name,
// without expanding the others.
int CountJobs(const kiln::v1::BatchSpec& batch);
kiln::v1::JobSpec ExpandJobAt(const kiln::v1::BatchSpec& batch, int k);
std::string JobNameAt(const kiln::v1::BatchSpec& batch, int k);
// The tasks the batch has before any repair: a file task per file (a PLAN
// task for a job without files), a SELECT task per job with a select, and a
// BUILD task per job with a build.
int64_t CountTasks(const kiln::v1::BatchSpec& batch);

}  // namespace kiln

#endif  // KILN_SPEC_SPEC_VALIDATOR_H_
