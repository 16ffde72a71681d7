#include "spec/dag.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/repo_path.h"

namespace kiln {
namespace {

constexpr int kMinHeadroomTokens = 256;
// Per-request framing around the variable blocks (role tags, file headers).
constexpr int64_t kPromptOverheadTokens = 50;

}  // namespace

std::string PrefixKeyFor(const kiln::v1::JobSpec& job,
                         const std::string& model) {
  Sha256 h;
  auto field = [&h](absl::string_view s) {
    h.Update(absl::StrCat(s.size(), ":"));
    h.Update(s);
  };
  field(model);
  field(job.context().system());
  field(job.context().instructions());
  // Repo files make the prefix repo-specific; without them jobs of a matrix
  // share one prefix across repos.
  if (job.context().files_size() > 0) {
    field(job.repo().path());
    field(job.repo().url());
    field(job.repo().ref());
    for (const auto& f : job.context().files()) field(f);
  }
  return h.FinishHex();
}

CostModel::CostModel(const ModelCatalog* models, CostModelOptions options)
    : models_(models), options_(options) {}

int64_t CostModel::TokensOf(size_t bytes) const {
  const int64_t per = std::max(1, options_.bytes_per_token);
  return (static_cast<int64_t>(bytes) + per - 1) / per;
}

absl::Duration CostModel::Estimate(const TaskNode& t) const {
  absl::Duration d = absl::ZeroDuration();
  if (const ModelProfile* p = models_->Find(t.model)) {
    d += p->RequestTime(t.variable_prompt_tokens, t.expected_output_tokens);
  }
  if (t.kind == kiln::v1::TASK_KIND_GENERATE ||
      t.kind == kiln::v1::TASK_KIND_REPAIR) {
    d += options_.check_time;
  }
  if (t.kind == kiln::v1::TASK_KIND_BUILD) d += options_.build_time;
  if (t.kind == kiln::v1::TASK_KIND_SELECT) d += options_.select_time;
  if (t.kind == kiln::v1::TASK_KIND_LAND) d += options_.land_time;
  return d;
}

absl::Duration CostModel::ColdEstimate(const TaskNode& t) const {
  absl::Duration d = Estimate(t);
  if (const ModelProfile* p = models_->Find(t.model)) {
    if (p->prefill_tps > 0) {
      d += absl::Seconds(static_cast<double>(t.stable_prompt_tokens) /
                         p->prefill_tps);
    }
  }
  return d;
}

std::string ModelForFile(const kiln::v1::JobSpec& job,
                         const kiln::v1::FileSpec& file) {
  if (!file.model().empty()) return file.model();
  for (const auto& rule : job.model().routing()) {
    if (GlobMatch(rule.match(), file.path())) return rule.model();
  }
  return job.model().model();
}

bool NeedsSelect(const kiln::v1::JobSpec& job) {
  // A validated job always has a repo.
  return job.has_select() || job.repo().commit().empty();
}

JobDag BuildJobDag(const kiln::v1::JobSpec& job, const CostModel& cost,
                   bool with_select) {
  const CostModelOptions& opt = cost.options();
  JobDag dag;
  if (with_select && NeedsSelect(job)) {
    // First: the checkout (and the selection) everything else reads.
    TaskNode sel;
    sel.index = 0;
    sel.kind = kiln::v1::TASK_KIND_SELECT;
    dag.select_task = 0;
    dag.tasks.push_back(std::move(sel));
  }
  const int64_t stable =
      cost.TokensOf(job.context().system().size()) +
      cost.TokensOf(job.context().instructions().size()) +
      static_cast<int64_t>(job.context().files_size()) * opt.context_file_tokens;

  if (job.files_size() == 0 && !job.has_select()) {
    TaskNode plan;
    plan.kind = kiln::v1::TASK_KIND_PLAN;
    plan.model = job.model().model();
    plan.max_output_tokens = opt.plan_max_tokens;
    plan.expected_output_tokens = opt.plan_max_tokens / 2;
    plan.stable_prompt_tokens = stable;
    plan.variable_prompt_tokens =
        cost.TokensOf(job.task().size()) + kPromptOverheadTokens;
    plan.prefix_key = PrefixKeyFor(job, plan.model);
    plan.index = static_cast<int>(dag.tasks.size());
    if (dag.select_task >= 0) plan.deps.push_back(dag.select_task);
    dag.plan_task = plan.index;
    dag.tasks.push_back(std::move(plan));
  } else {
    // Files in dependency order (the spec is acyclic after validation).
    std::map<std::string, int> file_index;
    for (int i = 0; i < job.files_size(); ++i) {
      file_index[job.files(i).path()] = i;
    }
    std::vector<int> order;
    std::vector<int> state(job.files_size(), 0);
    std::function<void(int)> visit = [&](int i) {
      if (state[i] != 0) return;
      state[i] = 1;
      for (const auto& d : job.files(i).deps()) {
        auto it = file_index.find(d);
        if (it != file_index.end()) visit(it->second);
      }
      state[i] = 2;
      order.push_back(i);
    };
    for (int i = 0; i < job.files_size(); ++i) visit(i);

    std::vector<int> task_of_file(job.files_size(), -1);
    std::map<std::string, std::string> prefix_of_model;  // hashed once each
    for (int fi : order) {
      const kiln::v1::FileSpec& f = job.files(fi);
      TaskNode t;
      t.index = static_cast<int>(dag.tasks.size());
      t.kind = kiln::v1::TASK_KIND_GENERATE;
      if (dag.select_task >= 0) t.deps.push_back(dag.select_task);
      t.path = f.path();
      t.model = ModelForFile(job, f);
      t.expected_output_tokens = f.expected_tokens() > 0
                                     ? f.expected_tokens()
                                     : opt.default_expected_tokens;
      if (f.max_tokens() > 0) {
        t.max_output_tokens = f.max_tokens();
      } else {
        t.max_output_tokens = std::max(
            static_cast<int>(t.expected_output_tokens * opt.output_headroom),
            t.expected_output_tokens + kMinHeadroomTokens);
        if (const ModelProfile* p = cost.models().Find(t.model)) {
          t.max_output_tokens = static_cast<int>(std::min<int64_t>(
              t.max_output_tokens, p->max_output_tokens));
        }
      }
      t.stable_prompt_tokens = stable;
      t.variable_prompt_tokens = cost.TokensOf(f.instructions().size()) +
                                 cost.TokensOf(f.path().size()) +
                                 kPromptOverheadTokens;
      // An edit quotes the file as it is (its size is known once selected).
      t.variable_prompt_tokens += cost.TokensOf(static_cast<size_t>(f.base_bytes()));
      for (const auto& d : f.deps()) {
        auto it = file_index.find(d);
        if (it == file_index.end()) continue;
        const int dep_task = task_of_file[it->second];
        t.deps.push_back(dep_task);
        t.variable_prompt_tokens += dag.tasks[dep_task].expected_output_tokens;
      }
      auto key = prefix_of_model.find(t.model);
      if (key == prefix_of_model.end()) {
        key = prefix_of_model.emplace(t.model, PrefixKeyFor(job, t.model)).first;
      }
      t.prefix_key = key->second;
      task_of_file[fi] = t.index;
      dag.tasks.push_back(std::move(t));
    }
  }

  if (!job.build().command().empty()) {
    TaskNode b;
    b.index = static_cast<int>(dag.tasks.size());
    b.kind = kiln::v1::TASK_KIND_BUILD;
    for (const TaskNode& t : dag.tasks) {
      if (t.kind == kiln::v1::TASK_KIND_GENERATE ||
          t.kind == kiln::v1::TASK_KIND_PLAN || t.kind == kiln::v1::TASK_KIND_SELECT) {
        b.deps.push_back(t.index);
      }
    }
    dag.build_task = b.index;
    dag.tasks.push_back(std::move(b));
  }
  if (job.has_land()) {
    // After everything else: it commits the files the build passed.
    TaskNode l;
    l.index = static_cast<int>(dag.tasks.size());
    l.kind = kiln::v1::TASK_KIND_LAND;
    for (const TaskNode& t : dag.tasks) l.deps.push_back(t.index);
    dag.land_task = l.index;
    dag.tasks.push_back(std::move(l));
  }
  for (TaskNode& t : dag.tasks) {
    for (int d : t.deps) dag.tasks[d].dependents.push_back(t.index);
  }
  ComputePriorities(&dag, cost);
  return dag;
}

void ComputePriorities(JobDag* dag, const CostModel& cost) {
  // Tasks are topologically ordered, so walk them backwards.
  for (int i = static_cast<int>(dag->tasks.size()) - 1; i >= 0; --i) {
    TaskNode& t = dag->tasks[i];
    t.estimate = cost.Estimate(t);
    absl::Duration after = absl::ZeroDuration();
    for (int d : t.dependents) {
      after = std::max(after, dag->tasks[d].remaining_critical_path);
    }
    t.remaining_critical_path = t.estimate + after;
  }
}

absl::Duration CriticalPathLowerBound(const JobDag& dag,
                                      const CostModel& cost) {
  // Longest path where a source task pays its cold estimate: at time zero no
  // prefix is cached, and waiting for another request to write it costs at
  // least as much as writing it.
  std::vector<absl::Duration> finish(dag.tasks.size());
  absl::Duration best = absl::ZeroDuration();
  for (const TaskNode& t : dag.tasks) {
    absl::Duration start = absl::ZeroDuration();
    for (int d : t.deps) start = std::max(start, finish[d]);
    finish[t.index] =
        start + (t.deps.empty() ? cost.ColdEstimate(t) : cost.Estimate(t));
    best = std::max(best, finish[t.index]);
  }
  return best;
}

int RepairMaxTokens(const CostModel& cost, const TaskNode& generate) {
  return std::max(cost.options().repair_max_tokens, generate.max_output_tokens);
}

}  // namespace kiln
