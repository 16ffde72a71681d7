#include "cli/plan.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "cli/format.h"
#include "common/states.h"
#include "edit/edit_format.h"
#include "edit/select.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {
namespace {

std::string NodeLabel(const TaskNode& t) { return TaskLabel(t.kind, t.path); }

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

// With a local repo, edits are estimated from the files as they are: a
// selection is expanded (as a worker would, but over the working tree), and
// each file that exists is quoted in its prompt and sized by its format.
// True when the repo was looked at.
bool EstimateEditsLocally(kiln::v1::JobSpec* job, std::string* note) {
  if (job->repo().source_case() != kiln::v1::RepoSpec::kPath) return false;
  const std::filesystem::path root(job->repo().path());
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) return false;
  if (job->has_select()) {
    std::set<std::string> listed;
    for (const auto& f : job->files()) listed.insert(f.path());
    absl::StatusOr<std::vector<SelectedFile>> found =
        SelectFiles(root.string(), job->select(), listed);
    if (!found.ok()) {
      *note = std::string(found.status().message());
      return true;
    }
    for (auto& f : SelectedFileSpecs(*job, *found)) *job->add_files() = std::move(f);
    *note = found->empty() ? "no matching files"
                           : absl::StrCat(found->size(), " files selected in ", job->repo().path());
  }
  for (auto& f : *job->mutable_files()) {
    if (f.mode() == kiln::v1::FILE_MODE_CREATE || f.base_bytes() > 0) continue;
    const auto size = std::filesystem::file_size(root / f.path(), ec);
    if (ec) continue;
    f.set_base_bytes(static_cast<int64_t>(size));
    if (f.expected_tokens() == 0) {
      const auto format = ResolveEditFormat(f.edit_format(), job->edit_format(),
                                            static_cast<int64_t>(size));
      f.set_expected_tokens(
          static_cast<int32_t>(ExpectedEditTokens(static_cast<int64_t>(size), format)));
    }
  }
  return true;
}

PlanSummary SummarizePlan(const kiln::v1::BatchSpec& batch, const CostModel& cost) {
  PlanSummary plan;
  std::set<std::string> warm;  // prefix keys already written
  for (kiln::v1::JobSpec job : ExpandJobs(batch)) {
    PlannedJob pj;
    pj.name = job.name();
    const bool selects = job.has_select();
    pj.selected_at_run_time = !EstimateEditsLocally(&job, &pj.note) && selects;
    pj.dag = BuildJobDag(job, cost);
    pj.planned_at_run_time = pj.dag.plan_task >= 0;
    pj.lower_bound = CriticalPathLowerBound(pj.dag, cost);
    pj.critical_path = LongestChain(pj.dag, cost);
    plan.lower_bound = std::max(plan.lower_bound, pj.lower_bound);
    for (const TaskNode& t : pj.dag.tasks) {
      if (!UsesLlm(t.kind)) continue;
      pj.prefix_tokens = t.stable_prompt_tokens;
      if (const ModelProfile* p = cost.models().Find(t.model)) {
        pj.cache_min_tokens = p->cache_min_tokens;
      }
      break;
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
    for (int i : j.critical_path) chain.push_back(NodeLabel(j.dag.tasks[i]));
    absl::StrAppend(&out, "job ", j.name, ": ", j.dag.tasks.size(), " tasks, lower bound ",
                    Seconds(j.lower_bound),
                    j.planned_at_run_time ? " (files are decided by its PLAN task)" : "",
                    j.selected_at_run_time ? " (files are selected on the worker)" : "",
                    j.note.empty() ? "" : absl::StrCat(" (", j.note, ")"), "\n");
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
        for (int d : t.deps) {
          // Every task waits for the checkout: not worth a mention.
          if (j.dag.tasks[d].kind != kiln::v1::TASK_KIND_SELECT) {
            deps.push_back(NodeLabel(j.dag.tasks[d]));
          }
        }
        std::string after;
        if (deps.size() > 3) {
          after = absl::StrCat(" after ", deps.size(), " files");
        } else if (!deps.empty()) {
          after = absl::StrCat(" after ", absl::StrJoin(deps, ", "));
        }
        absl::StrAppendFormat(&out, "  %s %-9s %-28s %-18s %6d tok  ~%-7s%s\n",
                              hot.count(t.index) ? "*" : " ", Name(t.kind), NodeLabel(t),
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
                      absl::StrReplaceAll(NodeLabel(t), {{"\"", "\\\""}}), "\\n",
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
