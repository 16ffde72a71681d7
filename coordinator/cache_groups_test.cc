#include "coordinator/cache_groups.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

using State = CacheGroups::State;

MonotonicTime At(int s) { return MonotonicTime() + absl::Seconds(s); }

TEST(CacheGroups, ASeedHoldsItsGroupUntilItsEntryIsWarm) {
  CacheGroups g;
  for (int i = 0; i < 3; ++i) g.Join("k");
  EXPECT_EQ(g.open("k"), 3);
  EXPECT_EQ(g.StateAt("k", At(0)), State::kCold);
  g.StartSeeding("k", 0);
  EXPECT_TRUE(g.IsSeed("k", 0));
  EXPECT_EQ(g.StateAt("k", At(0)), State::kSeeding);
  g.Hold("k", 1);
  g.Hold("k", 2);
  EXPECT_EQ(g.MakeWarm("k", At(300)), (std::vector<int>{1, 2}));
  EXPECT_FALSE(g.IsSeed("k", 0));
  EXPECT_EQ(g.StateAt("k", At(299)), State::kWarm);
  // A use refreshes the TTL; once it lapses the group is cold.
  g.Touch("k", At(400));
  EXPECT_EQ(g.StateAt("k", At(350)), State::kWarm);
  EXPECT_EQ(g.StateAt("k", At(400)), State::kCold);
  g.Touch("k", At(900));  // no-op when not warm
  EXPECT_EQ(g.StateAt("k", At(500)), State::kCold);
}

TEST(CacheGroups, ALostSeedReleasesTheHeldAndMakesTheGroupCold) {
  CacheGroups g;
  for (int i = 0; i < 3; ++i) g.Join("k");
  g.StartSeeding("k", 0);
  g.Hold("k", 1);
  g.Hold("k", 2);
  g.Unhold("k", 2);                    // adopted by a reconnecting worker
  EXPECT_TRUE(g.SeedLost("k", 1).empty());  // not the seed: nothing changes
  EXPECT_EQ(g.StateAt("k", At(0)), State::kSeeding);
  EXPECT_EQ(g.Leave("k", 0), std::vector<int>{1});  // the seed left
  EXPECT_EQ(g.open("k"), 2);
  EXPECT_EQ(g.StateAt("k", At(0)), State::kCold);
  EXPECT_EQ(g.open("other"), 0);
}

}  // namespace
}  // namespace kiln
