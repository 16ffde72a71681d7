// 8 client processes x 50 acquisitions of the "compile" semaphore (2 permits)
// on a real coordinator; clients are killed at random (SIGKILL, holding or
// waiting) and restarted. From the coordinator's own record of grants: no
// more than 2 leases ever overlapped, and every live client was served.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "coordinator/store.h"
#include "gtest/gtest.h"
#include "kiln/v1/store.pb.h"

namespace kiln {
namespace {

int Lines(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

TEST(SemaphoreChaosTest, NeverMoreHoldersThanPermitsAndEveryLiveClientServed) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/sem");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto coord = Subprocess::Start(
      {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
       "--port_file=" + dir + "/port", "--state_dir=" + dir + "/state",
       "--permits=compile=2"},
      {}, dir + "/coordinator.log");
  ASSERT_TRUE(coord.ok());
  auto port = WaitForFileLine(dir + "/port", absl::Seconds(30));
  ASSERT_TRUE(port.ok());
  const std::string target = absl::StrCat("127.0.0.1:", *port);

  constexpr int kClients = 8;
  constexpr int kCount = 50;
  auto start = [&](int i) {
    auto p = Subprocess::Start(
        {"tests/semaphore_client", "--coordinator=" + target,
         absl::StrCat("--id=c", i), absl::StrCat("--count=", kCount),
         absl::StrCat("--progress=", dir, "/c", i)},
        {}, absl::StrCat(dir, "/c", i, ".log"));
    EXPECT_TRUE(p.ok());
    return std::make_unique<Subprocess>(std::move(*p));
  };
  std::vector<std::unique_ptr<Subprocess>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(start(i));

  // Kill a random client every so often, and restart it.
  std::mt19937 rng(42);
  int kills = 0;
  for (int round = 0; round < 600 && kills < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const int i = static_cast<int>(rng() % kClients);
    if (round % 8 == 7 && clients[i]->Running()) {
      clients[i]->Stop(SIGKILL);
      ++kills;
      clients[i] = start(i);
    }
  }
  // Every client (the live ones) completes its acquisitions.
  for (int i = 0; i < kClients; ++i) {
    for (int w = 0; w < 600 && clients[i]->Running(); ++w) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_FALSE(clients[i]->Running()) << "client " << i << " starved";
    EXPECT_EQ(Lines(absl::StrCat(dir, "/c", i)), kCount) << "client " << i;
  }
  coord->Stop(SIGTERM);

  // The coordinator's record of every grant.
  StoreOptions ro;
  ro.read_only = true;
  auto store = Store::Open(dir + "/state", ro);
  ASSERT_TRUE(store.ok()) << store.status();
  std::vector<std::pair<int64_t, int>> edges;  // (time, +weight / -weight)
  int grants = 0;
  int expired = 0;
  ASSERT_TRUE((*store)->Scan(Cf::kSemaphores, "history/compile/", "",
                             [&](absl::string_view, absl::string_view v) {
    kiln::v1::SemaphoreGrant g;
    EXPECT_TRUE(g.ParseFromArray(v.data(), static_cast<int>(v.size())));
    ++grants;
    if (g.end_reason() == "expired") ++expired;
    edges.push_back({g.grant_micros(), g.lease().weight()});
    edges.push_back({g.end_micros() == 0 ? INT64_MAX : g.end_micros(),
                     -g.lease().weight()});
    return true;
  }).ok());
  std::sort(edges.begin(), edges.end());  // at equal times, ends come first
  int held = 0;
  int most = 0;
  for (const auto& [t, w] : edges) {
    held += w;
    most = std::max(most, held);
  }
  EXPECT_LE(most, 2);
  EXPECT_EQ(most, 2);  // the permits were used
  EXPECT_GE(grants, kClients * kCount);
  EXPECT_GE(kills, 6);
  std::printf("grants %d (expired %d), kills %d, most held at once %d\n", grants,
              expired, kills, most);
}

}  // namespace
}  // namespace kiln
