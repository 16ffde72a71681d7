#include "cli/plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/format.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {
namespace {

std::string TaskLabel(const TaskNode& t) {
  return t.path.empty() ? Name(t.kind) : t.path;
}

// The chain that CriticalPathLowerBound measures, first to last.
std::vector<int> LongestChain(const JobDag& dag, const CostModel& cost) {
  const size_t n = dag.tasks.size();
  std::vector<absl::Duration> finish(n);
  std::vector<int> from(n, -1);
  int last = -1;
  for (const TaskNode& t : dag.tasks) {
    absl::Duration start = absl::ZeroDuration();
    for (int d : t.deps) {
      if (from[t.index] < 0 || finish[d] > start) {
        start = finish[d];
        from[t.index] = d;
      }
    }
    finish[t.index] = start + (t.deps.empty() ? cost.ColdEstimate(t) : cost.Estimate(t));
    if (last < 0 || finish[t.index] > finish[last]) last = t.index;
  }
  std::vector<int> chain;
  for (int i = last; i >= 0; i = from[i]) chain.push_back(i);
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace

PlanSummary SummarizePlan(const kiln::v1::BatchSpec& batch, const CostModel& cost) {
  PlanSummary plan;
  std::set<std::string> warm;  // prefix keys already written
  for (const kiln::v1::JobSpec& job : ExpandJobs(batch)) {
    PlannedJob pj;
    pj.name = job.name();
    pj.dag = BuildJobDag(job, cost);
    pj.planned_at_run_time = pj.dag.plan_task >= 0;
    pj.lower_bound = CriticalPathLowerBound(pj.dag, cost);
    pj.critical_path = LongestChain(pj.dag, cost);
    plan.lower_bound = std::max(plan.lower_bound, pj.lower_bound);
    if (!pj.dag.tasks.empty()) {
      pj.prefix_tokens = pj.dag.tasks[0].stable_prompt_tokens;
      if (const ModelProfile* p = cost.models().Find(pj.dag.tasks[0].model)) {
        pj.cache_min_tokens = p->cache_min_tokens;
      }
    }
    for (const TaskNode& t : pj.dag.tasks) {
      ++plan.tasks;
      if (t.kind == kiln::v1::TASK_KIND_GENERATE) ++plan.files;
      const ModelProfile* p = cost.models().Find(t.model);
      if (p == nullptr) continue;  // BUILD: no LLM request
      TokenCounts tc;
      tc.output = t.expected_output_tokens;
      tc.input = t.variable_prompt_tokens;
      const bool cacheable = t.stable_prompt_tokens >= p->cache_min_tokens;
      if (cacheable && warm.count(t.prefix_key)) {
        tc.cache_read = t.stable_prompt_tokens;
      } else if (cacheable && p->explicit_cache_breakpoints) {
        tc.cache_write = t.stable_prompt_tokens;
      } else {
        tc.input += t.stable_prompt_tokens;
      }
      if (cacheable) warm.insert(t.prefix_key);
      plan.tokens += tc;
      plan.cost_usd += p->Cost(tc);
      plan.uncached_cost_usd += p->UncachedCost(tc);
    }
    plan.jobs.push_back(std::move(pj));
  }
  return plan;
}

std::string FormatPlan(const PlanSummary& plan, int max_task_rows) {
  std::string out;
  const bool rows = plan.tasks <= max_task_rows;
  for (const PlannedJob& j : plan.jobs) {
    std::vector<std::string> chain;
    for (int i : j.critical_path) chain.push_back(TaskLabel(j.dag.tasks[i]));
    absl::StrAppend(&out, "job ", j.name, ": ", j.dag.tasks.size(), " tasks, lower bound ",
                    Seconds(j.lower_bound),
                    j.planned_at_run_time ? " (files are decided by its PLAN task)" : "", "\n");
    absl::StrAppend(&out, "  shared prompt prefix ~", Grouped(j.prefix_tokens), " tokens",
                    j.prefix_tokens >= j.cache_min_tokens
                        ? ", cached once"
                        : absl::StrCat(", too short to cache (the model caches from ",
                                       Grouped(j.cache_min_tokens), ")"),
                    "\n");
    if (rows) {
      std::set<int> hot(j.critical_path.begin(), j.critical_path.end());
      for (const TaskNode& t : j.dag.tasks) {
        std::vector<std::string> deps;
        for (int d : t.deps) deps.push_back(TaskLabel(j.dag.tasks[d]));
        std::string after;
        if (deps.size() > 3) {
          after = absl::StrCat(" after ", deps.size(), " files");
        } else if (!deps.empty()) {
          after = absl::StrCat(" after ", absl::StrJoin(deps, ", "));
        }
        absl::StrAppendFormat(&out, "  %s %-9s %-28s %-18s %6d tok  ~%-7s%s\n",
                              hot.count(t.index) ? "*" : " ", Name(t.kind), TaskLabel(t),
                              t.model.empty() ? "-" : t.model, t.expected_output_tokens,
                              Seconds(t.estimate), after);
      }
    }
    absl::StrAppend(&out, "  critical path: ", absl::StrJoin(chain, " -> "), "\n");
  }
  absl::StrAppend(&out, "\n", plan.jobs.size(), plan.jobs.size() == 1 ? " job, " : " jobs, ",
                  plan.files, " files, ", plan.tasks, " tasks",
                  rows ? " (* marks the critical path)" : "", "\n");
  absl::StrAppend(&out, "lower bound  ", Seconds(plan.lower_bound),
                  " (longest job; rate limits and worker slots not counted)\n");
  absl::StrAppend(&out, "tokens       ", Grouped(plan.tokens.input), " full price, ",
                  Grouped(plan.tokens.cache_read), " cache read, ",
                  Grouped(plan.tokens.cache_write), " cache write, ",
                  Grouped(plan.tokens.output), " output (estimates)\n");
  absl::StrAppend(&out, "cost         ~", Usd(plan.cost_usd), " (~", Usd(plan.uncached_cost_usd),
                  " without prompt caching; repairs not included)\n");
  return out;
}

std::string PlanDot(const PlanSummary& plan) {
  std::string out = "digraph kiln {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n";
  int cluster = 0;
  for (const PlannedJob& j : plan.jobs) {
    const std::string prefix = absl::StrCat("j", cluster, "_");
    absl::StrAppend(&out, "  subgraph cluster_", cluster++, " {\n    label=\"",
                    absl::StrReplaceAll(j.name, {{"\"", "\\\""}}), "\";\n");
    std::set<int> hot(j.critical_path.begin(), j.critical_path.end());
    for (const TaskNode& t : j.dag.tasks) {
      absl::StrAppend(&out, "    ", prefix, t.index, " [label=\"",
                      absl::StrReplaceAll(TaskLabel(t), {{"\"", "\\\""}}), "\\n",
                      t.model.empty() ? Name(t.kind) : t.model, " ~", Seconds(t.estimate),
                      "\"", hot.count(t.index) ? ", color=red, penwidth=2" : "", "];\n");
    }
    for (const TaskNode& t : j.dag.tasks) {
      for (int d : t.deps) {
        absl::StrAppend(&out, "    ", prefix, d, " -> ", prefix, t.index,
                        hot.count(d) && hot.count(t.index) ? " [color=red, penwidth=2]" : "",
                        ";\n");
      }
    }
    out += "  }\n";
  }
  out += "}\n";
  return out;
}

}  // namespace cli
}  // namespace kiln
