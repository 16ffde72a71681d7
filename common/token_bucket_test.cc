#include "common/token_bucket.h"

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(TokenBucket, StartsFullAndRefillsContinuously) {
  FakeClock clock;
  TokenBucket b(60);  // one per second
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(b.TryTake(1, clock.MonotonicNow()));
  EXPECT_FALSE(b.TryTake(1, clock.MonotonicNow()));
  EXPECT_EQ(b.Wait(1, clock.MonotonicNow()), absl::Seconds(1));
  clock.Advance(absl::Milliseconds(999));
  EXPECT_FALSE(b.TryTake(1, clock.MonotonicNow()));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_TRUE(b.TryTake(1, clock.MonotonicNow()));
  // Never above capacity after a long idle period.
  clock.Advance(absl::Hours(1));
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(b.TryTake(1, clock.MonotonicNow()));
  EXPECT_FALSE(b.TryTake(1, clock.MonotonicNow()));
}

TEST(TokenBucket, OversizeRequestsPassWhenFullThenRepay) {
  FakeClock clock;
  TokenBucket b(1000);
  EXPECT_TRUE(b.TryTake(5000, clock.MonotonicNow()));
  // Debt of 4000 + a full bucket's worth for the next: 5 minutes.
  EXPECT_EQ(b.Wait(1000, clock.MonotonicNow()), absl::Minutes(5));
}

TEST(TokenBucket, UnlimitedAlwaysAdmits) {
  FakeClock clock;
  TokenBucket b(0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.TryTake(1e9, clock.MonotonicNow()));
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

TEST(TokenBucketTimeScaleTest, RefillsFasterButHoldsNoMore) {
  // 60 a minute for a provider simulated 10x faster: 10 a second on this
  // clock, but never more than 60 at once.
  TokenBucket b(60, 10);
  const MonotonicTime t0 = MonotonicTime::FromEpoch(absl::Seconds(100));
  int taken = 0;
  while (b.TryTake(1, t0)) ++taken;
  EXPECT_EQ(taken, 60);
  EXPECT_EQ(b.Wait(1, t0), absl::Milliseconds(100));
  EXPECT_TRUE(b.TryTake(1, t0 + absl::Milliseconds(100)));
  // An hour idle refills to the capacity, not beyond.
  taken = 0;
  while (b.TryTake(1, t0 + absl::Hours(1))) ++taken;
  EXPECT_EQ(taken, 60);
}

}  // namespace
}  // namespace kiln
