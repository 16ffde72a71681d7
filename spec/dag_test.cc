#include "spec/dag.h"

#include "gtest/gtest.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

// A model with round numbers: 1 s TTFT, 1000 prompt tok/s, 10 output tok/s.
ModelCatalog TestModels() {
  ModelCatalog c = ModelCatalog::Builtin();
  ModelProfile p;
  p.name = "slow";
  p.ttft = absl::Seconds(1);
  p.prefill_tps = 1000;
  p.output_tps = 10;
  p.max_output_tokens = 4000;
  c.Put(p);
  ModelProfile q = p;
  q.name = "fast";
  q.output_tps = 100;
  c.Put(q);
  return c;
}

kiln::v1::JobSpec ParseUnpinned(const std::string& yaml, const ModelCatalog& models) {
  auto parsed = ParseAndValidate(yaml, "job.yaml", models);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return parsed.ok() ? parsed->batch.jobs(0) : kiln::v1::JobSpec();
}

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

// A job whose commit is pinned (as after its SELECT, or from an API client
// that names it): no checkout task, so the tests see the files' tasks alone.
kiln::v1::JobSpec ParseJob(const std::string& yaml, const ModelCatalog& models) {
  kiln::v1::JobSpec job = ParseUnpinned(yaml, models);
  job.mutable_repo()->set_commit(kCommit);
  return job;
}

CostModelOptions ExactOptions() {
  CostModelOptions o;
  o.check_time = absl::Seconds(1);
  o.build_time = absl::Seconds(10);
  o.bytes_per_token = 4;
  return o;
}

TEST(Dag, FilesBecomeGenerateTasksInDependencyOrderThenABuild) {
  const ModelCatalog models = TestModels();
  const CostModel cost(&models, ExactOptions());
  const auto job = ParseJob(R"(name: j
repo: ./r
model: slow
files:
  - {path: main.js, instructions: m, deps: [ui.js, game.js]}
  - {path: ui.js, instructions: u, deps: [game.js]}
  - {path: game.js, instructions: g}
build: make
)",
                            models);
  const JobDag dag = BuildJobDag(job, cost);
  ASSERT_EQ(dag.tasks.size(), 4u);
  EXPECT_EQ(dag.plan_task, -1);
  EXPECT_EQ(dag.tasks[0].path, "game.js");
  EXPECT_EQ(dag.tasks[1].path, "ui.js");
  EXPECT_EQ(dag.tasks[2].path, "main.js");
  EXPECT_EQ(dag.tasks[2].deps, (std::vector<int>{1, 0}));
  EXPECT_EQ(dag.build_task, 3);
  EXPECT_EQ(dag.tasks[3].kind, kiln::v1::TASK_KIND_BUILD);
  EXPECT_EQ(dag.tasks[3].deps, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(dag.tasks[0].dependents, (std::vector<int>{1, 2, 3}));
  // Priority: the remaining critical path shrinks along the chain.
  EXPECT_GT(dag.tasks[0].remaining_critical_path,
            dag.tasks[1].remaining_critical_path);
  EXPECT_GT(dag.tasks[1].remaining_critical_path,
            dag.tasks[2].remaining_critical_path);
  EXPECT_EQ(dag.tasks[3].remaining_critical_path, absl::Seconds(10));
}

TEST(Dag, PlanTaskWhenOnlyATaskIsGiven) {
  const ModelCatalog models = TestModels();
  const CostModel cost(&models, ExactOptions());
  const JobDag dag = BuildJobDag(
      ParseJob("name: j\nrepo: ./r\nmodel: slow\ntask: add a CLI\n", models),
      cost);
  ASSERT_EQ(dag.tasks.size(), 1u);
  EXPECT_EQ(dag.plan_task, 0);
  EXPECT_EQ(dag.tasks[0].kind, kiln::v1::TASK_KIND_PLAN);
  EXPECT_EQ(dag.tasks[0].max_output_tokens, 1200);
}

TEST(Dag, AnUnpinnedRepoIsCheckedOutFirstAndEverythingReadingItWaits) {
  const ModelCatalog models = TestModels();
  const CostModel cost(&models, ExactOptions());
  const auto job = ParseUnpinned(R"(name: j
repo: ./r
model: slow
files:
  - {path: a.js, instructions: a}
  - {path: b.js, instructions: b, deps: [a.js]}
build: make
land: {}
)",
                                 models);
  EXPECT_TRUE(NeedsSelect(job));
  const JobDag dag = BuildJobDag(job, cost);
  ASSERT_EQ(dag.tasks.size(), 5u);
  EXPECT_EQ(dag.select_task, 0);
  EXPECT_EQ(dag.tasks[0].kind, kiln::v1::TASK_KIND_SELECT);
  EXPECT_EQ(dag.tasks[1].deps, (std::vector<int>{0}));
  EXPECT_EQ(dag.tasks[2].deps, (std::vector<int>{0, 1}));
  EXPECT_EQ(dag.tasks[3].kind, kiln::v1::TASK_KIND_BUILD);
  EXPECT_EQ(dag.tasks[4].kind, kiln::v1::TASK_KIND_LAND);
  // The checkout is on the critical path.
  EXPECT_GT(dag.tasks[0].remaining_critical_path, dag.tasks[1].remaining_critical_path);
  // A task gets the checkout first too; tasks added later do not.
  const auto planned = ParseUnpinned("name: j\nrepo: ./r\nmodel: slow\ntask: a CLI\n", models);
  const JobDag p = BuildJobDag(planned, cost);
  ASSERT_EQ(p.tasks.size(), 2u);
  EXPECT_EQ(p.plan_task, 1);
  EXPECT_EQ(p.tasks[1].deps, (std::vector<int>{0}));
  EXPECT_EQ(BuildJobDag(job, cost, /*with_select=*/false).select_task, -1);
  // Pinned: no checkout task.
  kiln::v1::JobSpec pinned = job;
  pinned.mutable_repo()->set_commit(kCommit);
  EXPECT_FALSE(NeedsSelect(pinned));
  EXPECT_EQ(BuildJobDag(pinned, cost).tasks.size(), 4u);
}

TEST(Dag, RoutingAndOverridesChooseTheModel) {
  const ModelCatalog models = TestModels();
  const auto job = ParseJob(R"(name: j
repo: ./r
model: slow
routing: [{match: "*.css", model: fast}, {match: "web/**", model: gpt-4o}]
files:
  - {path: web/site.css, instructions: x}
  - {path: web/app.js, instructions: x}
  - {path: web/x.js, instructions: x, model: gpt-4o-mini}
  - {path: main.go, instructions: x}
)",
                            models);
  EXPECT_EQ(ModelForFile(job, job.files(0)), "fast");
  EXPECT_EQ(ModelForFile(job, job.files(1)), "gpt-4o");
  EXPECT_EQ(ModelForFile(job, job.files(2)), "gpt-4o-mini");
  EXPECT_EQ(ModelForFile(job, job.files(3)), "slow");
}

TEST(Dag, OutputLimitsAreTaskAware) {
  const ModelCatalog models = TestModels();
  const CostModel cost(&models, ExactOptions());
  const JobDag dag = BuildJobDag(ParseJob(R"(name: j
repo: ./r
model: slow
files:
  - {path: a, instructions: x, expected_tokens: 1000}
  - {path: b, instructions: x, expected_tokens: 100}
  - {path: c, instructions: x, expected_tokens: 3500}
  - {path: d, instructions: x, expected_tokens: 100, max_tokens: 150}
)",
                                          models),
                                 cost);
  EXPECT_EQ(dag.tasks[0].max_output_tokens, 1500);  // x1.5
  EXPECT_EQ(dag.tasks[1].max_output_tokens, 356);   // at least +256
  EXPECT_EQ(dag.tasks[2].max_output_tokens, 4000);  // the model's cap
  EXPECT_EQ(dag.tasks[3].max_output_tokens, 150);   // the user's cap
  EXPECT_EQ(RepairMaxTokens(cost, dag.tasks[1]), 1500);
  EXPECT_EQ(RepairMaxTokens(cost, dag.tasks[2]), 4000);
}

TEST(Dag, PrefixKeysGroupByModelAndStableContext) {
  const ModelCatalog models = TestModels();
  const CostModel cost(&models, ExactOptions());
  auto parsed = ParseAndValidate(R"(matrix:
  repos: [./a, ./b]
  job:
    name: t
    model: slow
    context: {system: be terse}
    routing: [{match: "*.css", model: fast}]
    files: [{path: x.js, instructions: x}, {path: y.css, instructions: y}]
jobs:
  - name: ctx-a
    repo: ./a
    model: slow
    context: {system: be terse, files: [schema.sql]}
    files: [{path: x.js, instructions: x}]
  - name: ctx-b
    repo: ./b
    model: slow
    context: {system: be terse, files: [schema.sql]}
    files: [{path: x.js, instructions: x}]
)",
                                 "b.yaml", models);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  auto jobs = ExpandJobs(parsed->batch);
  ASSERT_EQ(jobs.size(), 4u);
  for (auto& j : jobs) j.mutable_repo()->set_commit(kCommit);
  const JobDag ctx_a = BuildJobDag(jobs[0], cost);
  const JobDag ctx_b = BuildJobDag(jobs[1], cost);
  const JobDag m0 = BuildJobDag(jobs[2], cost);
  const JobDag m1 = BuildJobDag(jobs[3], cost);
  // Same template, no repo files in the prefix: shared across repos.
  EXPECT_EQ(m0.tasks[0].prefix_key, m1.tasks[0].prefix_key);
  // Another model, another cache.
  EXPECT_NE(m0.tasks[0].prefix_key, m0.tasks[1].prefix_key);
  // Repo files in the prefix make it repo-specific.
  EXPECT_NE(ctx_a.tasks[0].prefix_key, ctx_b.tasks[0].prefix_key);
  EXPECT_EQ(ctx_a.tasks[0].prefix_key.size(), 64u);
  EXPECT_EQ(ctx_a.tasks[0].stable_prompt_tokens, 2 + 2000);  // 8 bytes + 1 file
}

TEST(Dag, LowerBoundIsTheLongestChainWithOneColdPrefill) {
  const ModelCatalog models = TestModels();
  CostModelOptions o = ExactOptions();
  const CostModel cost(&models, o);
  // system: 4000 bytes = 1000 stable tokens = 1 s of cold prefill.
  const std::string system(4000, 's');
  const JobDag dag = BuildJobDag(ParseJob(R"(name: j
repo: ./r
model: slow
context: {system: ")" + system + R"("}
files:
  - {path: a, instructions: xxxx, expected_tokens: 100}
  - {path: b, instructions: xxxx, expected_tokens: 50, deps: [a]}
  - {path: c, instructions: xxxx, expected_tokens: 10}
)",
                                          models),
                                 cost);
  // a: ttft 1 + prefill (1 instr + 1 path + 50 overhead = 52 tok) 0.052
  //    + 100/10 = 10 + check 1 = 12.052 s warm; cold adds 1 s.
  // b: 1 + (1 + 1 + 50 + 100 dep tokens) 0.152 + 5 + 1 = 7.152 s.
  EXPECT_EQ(dag.tasks[0].estimate, absl::Milliseconds(12052));
  EXPECT_EQ(dag.tasks[1].estimate, absl::Milliseconds(7152));
  EXPECT_EQ(CriticalPathLowerBound(dag, cost),
            absl::Milliseconds(13052 + 7152));
  EXPECT_EQ(dag.tasks[0].remaining_critical_path,
            absl::Milliseconds(12052 + 7152));
}

}  // namespace
}  // namespace kiln
