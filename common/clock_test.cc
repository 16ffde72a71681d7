#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(MonotonicTime, ArithmeticAndOrdering) {
  const MonotonicTime t = MonotonicTime::FromEpoch(absl::Seconds(10));
  EXPECT_EQ((t + absl::Seconds(5)) - t, absl::Seconds(5));
  EXPECT_EQ(t - absl::Seconds(4), MonotonicTime::FromEpoch(absl::Seconds(6)));
  EXPECT_LT(t, t + absl::Nanoseconds(1));
  EXPECT_GT(MonotonicTime::Infinite(), t + absl::Hours(1e6));
  EXPECT_EQ(MonotonicTime().SinceEpoch(), absl::ZeroDuration());
}

TEST(RealClock, MonotonicNeverDecreases) {
  Clock* clock = RealClock();
  MonotonicTime last = clock->MonotonicNow();
  for (int i = 0; i < 10000; ++i) {
    const MonotonicTime now = clock->MonotonicNow();
    ASSERT_GE(now, last);
    last = now;
  }
  // Wall time is in this century.
  EXPECT_GT(clock->Now(), absl::FromUnixSeconds(1600000000));
}

TEST(FakeClock, OnlyMovesWhenAdvanced) {
  FakeClock clock;
  const absl::Time wall = clock.Now();
  const MonotonicTime mono = clock.MonotonicNow();
  EXPECT_EQ(clock.Now(), wall);
  EXPECT_EQ(clock.MonotonicNow(), mono);

  clock.Advance(absl::Milliseconds(1500));
  EXPECT_EQ(clock.Now() - wall, absl::Milliseconds(1500));
  EXPECT_EQ(clock.MonotonicNow() - mono, absl::Milliseconds(1500));
}

TEST(FakeClock, StartsAtTheGivenWallTime) {
  const absl::Time start = absl::FromUnixSeconds(1700000000);
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  // There is room below the first monotonic reading.
  EXPECT_GT(clock.MonotonicNow().SinceEpoch(), absl::Minutes(10));
}

TEST(FakeClock, WallTimeCanJumpBackButMonotonicCannot) {
  FakeClock clock;
  const MonotonicTime mono = clock.MonotonicNow();
  const absl::Time earlier = clock.Now() - absl::Hours(3);
  clock.SetWallTime(earlier);
  EXPECT_EQ(clock.Now(), earlier);
  EXPECT_EQ(clock.MonotonicNow(), mono);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(clock.Now(), earlier + absl::Seconds(1));
  EXPECT_EQ(clock.MonotonicNow(), mono + absl::Seconds(1));
}

TEST(FakeClockDeathTest, RejectsNegativeAdvance) {
  FakeClock clock;
  EXPECT_DEATH(clock.Advance(absl::Seconds(-1)), "negative");
}

TEST(FakeClock, ConcurrentAdvancesAllCount) {
  FakeClock clock;
  const MonotonicTime start = clock.MonotonicNow();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 1000; ++i) clock.Advance(absl::Milliseconds(1));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(clock.MonotonicNow() - start, absl::Seconds(4));
}

}  // namespace
}  // namespace kiln
