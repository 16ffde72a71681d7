// `kiln plan`: what a batch would do, without running it. Each job's DAG
// with model, output estimate and duration estimate per task, the critical
// path (the makespan no schedule can beat under the models' latency
// profiles) and the expected tokens and cost with one cache write per
// shared prefix, against the same requests uncached. Edits of a local repo
// are sized from its files (a `select` is expanded over its working tree).
#ifndef KILN_CLI_PLAN_H_
#define KILN_CLI_PLAN_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "kiln/v1/spec.pb.h"
#include "llm/model_profile.h"
#include "spec/dag.h"

namespace kiln {
namespace cli {

struct PlannedJob {
  std::string name;
  JobDag dag;
  // Task indices of the longest chain, first to last, and its length.
  std::vector<int> critical_path;
  absl::Duration lower_bound;
  // The job's files are decided by its PLAN task (unknown until it runs).
  bool planned_at_run_time = false;
  // The job's `select` runs on the worker (its repo is not local), or what
  // the local selection found.
  bool selected_at_run_time = false;
  std::string note;
  // Estimated tokens of the shared prompt prefix, and the smallest prefix
  // the job's model caches.
  int64_t prefix_tokens = 0;
  int64_t cache_min_tokens = 0;
};

struct PlanSummary {
  std::vector<PlannedJob> jobs;
  // The longest job's bound (rate limits and worker slots not counted).
  absl::Duration lower_bound;
  // Estimated tokens and cost: each prefix group's first request writes its
  // stable prefix, the others read it (when it is long enough to cache).
  TokenCounts tokens;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
  int tasks = 0;
  int files = 0;
};

// The summary of a validated batch.
PlanSummary SummarizePlan(const kiln::v1::BatchSpec& batch, const CostModel& cost);

// Human-readable: per job its task table (when the batch has at most
// `max_task_rows` tasks; otherwise one line per job), then the totals.
std::string FormatPlan(const PlanSummary& plan, int max_task_rows = 100);

// Graphviz: one cluster per job, an edge per dependency, the critical path
// in red.
std::string PlanDot(const PlanSummary& plan);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_PLAN_H_
