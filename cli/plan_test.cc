#include "cli/plan.h"

#include "gtest/gtest.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {
namespace {

// A 3-file chain where a.js and b.js both feed c.js; one shared prefix long
// enough to cache (system ~1,250 tokens).
constexpr char kSpec[] = R"(
name: web
repo: ./repo
model: kimi-k2
context: {system: "SYSTEM"}
files:
  - {path: a.js, instructions: "A.", expected_tokens: 500}
  - {path: b.js, instructions: "B.", expected_tokens: 1500}
  - {path: c.js, instructions: "C.", deps: [a.js, b.js], expected_tokens: 400}
)";

PlanSummary Plan(const ModelCatalog& models, const std::string& system) {
  std::string yaml = kSpec;
  yaml.replace(yaml.find("SYSTEM"), 6, system);
  auto spec = ParseAndValidate(yaml, "web.yaml", models);
  EXPECT_TRUE(spec.ok()) << spec.status();
  CostModel cost(&models);
  return SummarizePlan(spec->batch, cost);
}

TEST(SummarizePlan, CriticalPathBoundAndOneCacheWritePerPrefix) {
  const ModelCatalog models = ModelCatalog::Builtin();
  const PlanSummary plan = Plan(models, std::string(5000, 'x'));
  ASSERT_EQ(plan.jobs.size(), 1u);
  const PlannedJob& j = plan.jobs[0];
  EXPECT_EQ(plan.files, 3);
  EXPECT_EQ(plan.tasks, 4);  // the checkout and 3 files
  // The longer dependency (b.js, 1500 tokens) is on the path to c.js.
  ASSERT_EQ(j.critical_path.size(), 3u);
  EXPECT_EQ(j.dag.tasks[j.critical_path[0]].kind, kiln::v1::TASK_KIND_SELECT);
  EXPECT_EQ(j.dag.tasks[j.critical_path[1]].path, "b.js");
  EXPECT_EQ(j.dag.tasks[j.critical_path[2]].path, "c.js");
  EXPECT_EQ(j.lower_bound, CriticalPathLowerBound(j.dag, CostModel(&models)));
  EXPECT_EQ(plan.lower_bound, j.lower_bound);
  // kimi-k2 caches implicitly: the first request pays the prefix at the full
  // price, the other two read it.
  EXPECT_EQ(j.prefix_tokens, 1250);
  EXPECT_EQ(plan.tokens.cache_read, 2 * 1250);
  EXPECT_EQ(plan.tokens.cache_write, 0);
  EXPECT_EQ(plan.tokens.output, 2400);
  EXPECT_LT(plan.cost_usd, plan.uncached_cost_usd);
}

TEST(SummarizePlan, ShortPrefixIsNotCached) {
  const ModelCatalog models = ModelCatalog::Builtin();
  const PlanSummary plan = Plan(models, "short");
  EXPECT_EQ(plan.tokens.cache_read, 0);
  EXPECT_DOUBLE_EQ(plan.cost_usd, plan.uncached_cost_usd);
  EXPECT_NE(FormatPlan(plan).find("too short to cache (the model caches from 1,024)"),
            std::string::npos);
}

TEST(FormatPlan, TaskRowsMarkTheCriticalPath) {
  const ModelCatalog models = ModelCatalog::Builtin();
  const std::string text = FormatPlan(Plan(models, std::string(5000, 'x')));
  EXPECT_NE(text.find("job web: 4 tasks, lower bound "), std::string::npos) << text;
  EXPECT_NE(text.find("  * SELECT    checkout "), std::string::npos) << text;
  EXPECT_NE(text.find("  * GENERATE  b.js "), std::string::npos) << text;
  EXPECT_NE(text.find("    GENERATE  a.js "), std::string::npos) << text;
  EXPECT_NE(text.find(" after a.js, b.js\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  critical path: checkout -> b.js -> c.js\n"), std::string::npos) << text;
  EXPECT_NE(text.find("1 job, 3 files, 4 tasks"), std::string::npos) << text;
  // Past the row limit: one line per job.
  EXPECT_EQ(FormatPlan(Plan(models, "x"), 2).find("GENERATE"), std::string::npos);
}

TEST(PlanDot, ClusterPerJobAndRedCriticalEdges) {
  const ModelCatalog models = ModelCatalog::Builtin();
  const std::string dot = PlanDot(Plan(models, std::string(5000, 'x')));
  EXPECT_EQ(dot.find("digraph kiln {"), 0u);
  EXPECT_NE(dot.find("subgraph cluster_0 {\n    label=\"web\";"), std::string::npos) << dot;
  // j0_0 is the checkout.
  EXPECT_NE(dot.find("j0_2 -> j0_3 [color=red, penwidth=2];"), std::string::npos) << dot;
  EXPECT_NE(dot.find("j0_1 -> j0_3;"), std::string::npos) << dot;
}

}  // namespace
}  // namespace cli
}  // namespace kiln
