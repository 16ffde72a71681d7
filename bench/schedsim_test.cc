#include "bench/schedsim.h"

#include "gtest/gtest.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

// The simulation runs in simulated time, so these are behaviour checks of
// the strategies, not timing assertions.
TEST(Schedsim, EveryStrategyFinishesTheBrowserRenderer) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto parsed = ReadSpecFile("bench/scenarios/browser-renderer.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  SchedSimOptions options;
  for (Strategy s : {Strategy::kSequential, Strategy::kNaiveParallel,
                     Strategy::kCachedBatch, Strategy::kKiln}) {
    auto r = Simulate(s, parsed->batch, models, options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->failed, 0) << StrategyName(s);
    EXPECT_EQ(r->requests, 5) << StrategyName(s);
    // Equal up to rounding: durations are sums of fractional seconds.
    EXPECT_GE(r->makespan + absl::Microseconds(1), r->lower_bound)
        << StrategyName(s);
  }
}

TEST(Schedsim, KilnBeatsTheOthersAndWritesEachPrefixOnce) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto parsed = ReadSpecFile("bench/scenarios/browser-renderer.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const SchedSimOptions options;
  auto seq = Simulate(Strategy::kSequential, parsed->batch, models, options);
  auto naive = Simulate(Strategy::kNaiveParallel, parsed->batch, models, options);
  auto cached = Simulate(Strategy::kCachedBatch, parsed->batch, models, options);
  auto kiln = Simulate(Strategy::kKiln, parsed->batch, models, options);
  EXPECT_LT(kiln->makespan, seq->makespan);
  EXPECT_LT(kiln->makespan, cached->makespan);
  EXPECT_LE(kiln->makespan, naive->makespan);
  EXPECT_LT(kiln->cost_usd, naive->cost_usd);
  // One write of the shared prefix; the other four read it.
  EXPECT_EQ(kiln->usage.cache_write * 4, kiln->usage.cache_read);
}

}  // namespace
}  // namespace kiln
