#include "llm/rate_limiter.h"

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(RateLimiter, PacesRequestsPerModelWithTheBatchCap) {
  FakeClock clock;
  ModelCatalog models = ModelCatalog::Builtin();
  RateLimiter limiter(&models, /*requests_per_minute_cap=*/120);
  int admitted = 0;
  // Over ten simulated minutes, in 100 ms steps, admit as fast as allowed.
  for (int step = 0; step < 6000; ++step) {
    while (limiter.TryAdmit("kimi-k2", {100, 100}, clock.MonotonicNow())) {
      ++admitted;
    }
    clock.Advance(absl::Milliseconds(100));
  }
  // A full bucket (120) and then 2 per second for 600 s.
  EXPECT_NEAR(admitted, 120 + 1200, 2);
  // Another model has its own buckets.
  EXPECT_TRUE(limiter.TryAdmit("gpt-4o", {100, 100}, clock.MonotonicNow()));
}

TEST(RateLimiter, InputTokensPerMinuteBind) {
  FakeClock clock;
  ModelCatalog models = ModelCatalog::Builtin();
  RateLimiter limiter(&models);
  // claude-3.5-sonnet: 400,000 input tokens per minute.
  EXPECT_TRUE(limiter.TryAdmit("claude-3.5-sonnet", {300000, 10},
                               clock.MonotonicNow()));
  EXPECT_FALSE(limiter.TryAdmit("claude-3.5-sonnet", {300000, 10},
                                clock.MonotonicNow()));
  EXPECT_EQ(limiter.Wait("claude-3.5-sonnet", {300000, 10},
                         clock.MonotonicNow()),
            absl::Seconds(30));
}

}  // namespace
}  // namespace kiln
