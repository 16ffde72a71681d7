// A job's task graph: PLAN / GENERATE / BUILD tasks with their dependencies,
// output limits, cache-prefix keys and priorities from a cost model.
//
// Pure functions and value types: no threads, no clock.
#ifndef KILN_SPEC_DAG_H_
#define KILN_SPEC_DAG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "llm/model_profile.h"

namespace kiln {

// Knobs of the duration and size estimates.
struct CostModelOptions {
  // Output tokens assumed for a file without expected_tokens.
  int default_expected_tokens = 800;
  // GENERATE's output cap = expected tokens x headroom (at least +256).
  double output_headroom = 1.5;
  int plan_max_tokens = 1200;
  int repair_max_tokens = 1500;
  // Prompt size guesses: bytes per token of spec text, and tokens per
  // context file (their contents are read by workers, not the coordinator).
  int bytes_per_token = 4;
  int context_file_tokens = 2000;
  // Time of a per-file check and of a job's build.
  absl::Duration check_time = absl::Seconds(1);
  absl::Duration build_time = absl::Seconds(20);
  // Time of a SELECT (a checkout and a walk of the repo).
  absl::Duration select_time = absl::Seconds(1);
  // Time of a LAND (a commit, and a push when asked).
  absl::Duration land_time = absl::Seconds(2);
};

// One task of a job's DAG. Indices refer to JobDag::tasks.
struct TaskNode {
  int index = 0;
  kiln::v1::TaskKind kind = kiln::v1::TASK_KIND_UNSPECIFIED;
  std::string path;   // GENERATE/REPAIR: the file
  std::string model;  // after routing; empty for BUILD
  std::vector<int> deps;
  std::vector<int> dependents;
  int expected_output_tokens = 0;
  int max_output_tokens = 0;
  // Prompt tokens in the stable prefix and in the variable rest.
  int64_t stable_prompt_tokens = 0;
  int64_t variable_prompt_tokens = 0;
  // Tasks with equal keys share a provider cache entry: hex SHA-256 of the
  // model and the stable blocks. Empty for BUILD.
  std::string prefix_key;
  // Estimated duration with a warm prefix cache, and the longest chain of
  // estimates from this task to the end of the job (its priority).
  absl::Duration estimate;
  absl::Duration remaining_critical_path;
};

struct JobDag {
  std::vector<TaskNode> tasks;  // topologically ordered
  int plan_task = -1;   // index, or -1
  int select_task = -1;  // index, or -1
  int land_task = -1;    // index, or -1
  int build_task = -1;  // index, or -1
};

// Turns durations and sizes into estimates. Holds a catalog it does not own.
class CostModel {
 public:
  CostModel(const ModelCatalog* models, CostModelOptions options = {});

  const CostModelOptions& options() const { return options_; }
  const ModelCatalog& models() const { return *models_; }

  // Tokens of `text` (bytes / bytes_per_token, rounded up).
  int64_t TokensOf(size_t bytes) const;

  // The task's duration when its stable prefix is already cached: TTFT,
  // prefill of the variable prompt, decoding, and checks (GENERATE) or the
  // build (BUILD). Unknown models count as zero LLM time.
  absl::Duration Estimate(const TaskNode& task) const;

  // The same with the stable prefix prefilled too (a cold cache).
  absl::Duration ColdEstimate(const TaskNode& task) const;

 private:
  const ModelCatalog* models_;
  CostModelOptions options_;
};

// The model that writes `path`: the file's own override, else the first
// routing rule whose glob matches, else the job's default.
std::string ModelForFile(const kiln::v1::JobSpec& job,
                         const kiln::v1::FileSpec& file);

// The cache-group key of `job`'s prompts to `model`: hex SHA-256 of the
// model and the stable blocks (system, shared instructions and, when the job
// puts repo files in the prefix, the repo and those files).
std::string PrefixKeyFor(const kiln::v1::JobSpec& job, const std::string& model);

// Whether a (validated) job starts with a SELECT task: it has a `select`,
// or its repo's commit is not pinned yet. The SELECT checks the ref out once, pins
// the commit every later task of the job checks out, and expands `select`.
bool NeedsSelect(const kiln::v1::JobSpec& job);

// The DAG of a validated job (ValidateBatch found no problem): a SELECT
// first when NeedsSelect (and `with_select`); a PLAN task when the job has a
// task and no files; otherwise a GENERATE per file (deps as declared); the
// PLAN and the GENERATEs wait for the SELECT; a BUILD after every other task
// when the job has a build command; a LAND after all of them when it has
// `land`. Priorities are filled in. `with_select` false: the tasks a PLAN
// or a SELECT adds to a running job.
JobDag BuildJobDag(const kiln::v1::JobSpec& job, const CostModel& cost,
                   bool with_select = true);

// Fills estimate and remaining_critical_path of every task.
void ComputePriorities(JobDag* dag, const CostModel& cost);

// The makespan no schedule can beat under the cost model: the longest chain
// of warm estimates, where each chain pays one cold prefill (its first
// task's prefix has to be written once).
absl::Duration CriticalPathLowerBound(const JobDag& dag, const CostModel& cost);

// The task-aware output cap for a REPAIR of a file.
int RepairMaxTokens(const CostModel& cost, const TaskNode& generate);

}  // namespace kiln

#endif  // KILN_SPEC_DAG_H_
