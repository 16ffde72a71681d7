#include "common/ids.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(IdGenerator, FormatIsPrefixAndUlid) {
  FakeClock clock;
  IdGenerator ids(&clock, 1);
  const std::string id = ids.Next("b");
  ASSERT_EQ(id.size(), 2u + 26u);
  EXPECT_EQ(id.substr(0, 2), "b_");
  for (char c : id.substr(2)) {
    EXPECT_NE(std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ").find(c),
              std::string::npos)
        << c;
  }
}

TEST(IdGenerator, EncodesItsCreationTime) {
  FakeClock clock(absl::FromUnixMillis(1767225600123));
  IdGenerator ids(&clock, 7);
  EXPECT_EQ(IdTime(ids.Next("t")), absl::FromUnixMillis(1767225600123));
  EXPECT_EQ(IdTime("no-separator"), absl::nullopt);
  EXPECT_EQ(IdTime("t_tooshort"), absl::nullopt);
  EXPECT_EQ(IdTime("t_ILOUILOUILOUILOUILOUILOUIL"), absl::nullopt);
}

TEST(IdGenerator, SortsInCreationOrderEvenWithinAMillisecond) {
  FakeClock clock;
  IdGenerator ids(&clock, 42);
  std::vector<std::string> made;
  for (int i = 0; i < 2000; ++i) {
    made.push_back(ids.Next("t"));
    if (i % 7 == 0) clock.Advance(absl::Milliseconds(1));
  }
  for (size_t i = 1; i < made.size(); ++i) {
    ASSERT_LT(made[i - 1], made[i]) << i;
  }
}

TEST(IdGenerator, NeverGoesBackwardsWhenWallTimeDoes) {
  FakeClock clock;
  IdGenerator ids(&clock, 3);
  const std::string a = ids.Next("t");
  clock.SetWallTime(clock.Now() - absl::Hours(1));
  const std::string b = ids.Next("t");
  EXPECT_LT(a, b);
}

TEST(IdGenerator, SameSeedSameIds) {
  FakeClock c1, c2;
  IdGenerator a(&c1, 99), b(&c2, 99);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Next("x"), b.Next("x"));
}

TEST(IdGenerator, UniqueAcrossThreads) {
  IdGenerator ids(RealClock());
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5000; ++i) per_thread[t].push_back(ids.Next("w"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : per_thread) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 20000u);
}

}  // namespace
}  // namespace kiln
