// The cluster semaphore under crashes, on a real coordinator with a
// "compile" semaphore of 2 permits:
//   - 8 client processes x 50 acquisitions, clients killed at random
//     (SIGKILL, holding or waiting) and restarted: from the coordinator's own
//     record of grants, no more than 2 leases ever overlapped, and every live
//     client was served;
//   - real checks run by three `kiln_worker --sandbox=none`, the workers
//     holding permits killed with SIGKILL mid-check and restarted: counted
//     from the check processes themselves (in /proc), never more than 2 ran
//     at once, and none outlived its worker, not even one that left its
//     process group.
#include <atomic>
#include <cctype>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "spec/spec_parser.h"
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
  // Every client (the live ones) completes its acquisitions (within a
  // minute, longer under the sanitizers).
  const absl::Time give_up = absl::Now() + ScaledTimeout(absl::Minutes(1));
  for (int i = 0; i < kClients; ++i) {
    while (clients[i]->Running() && absl::Now() < give_up) {
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

namespace fs = std::filesystem;

// Pids of the processes whose argv[0] ends with `/name`.
std::vector<pid_t> ProcessesNamed(const std::string& name) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string argv0;
    std::getline(in, argv0, '\0');
    if (absl::EndsWith(argv0, "/" + name)) out.push_back(std::stoi(pid));
  }
  return out;
}

pid_t ParentOf(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

TEST(SemaphoreChaosTest, RealChecksOfKilledWorkersNeverExceedThePermits) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/checks");
  fs::remove_all(dir);
  fs::create_directories(dir + "/repo");
  // A check of three processes: the shell, its 4 s foreground (counted) and
  // one that leaves the process group and the session (and would sleep on).
  fs::create_symlink("/bin/sleep", dir + "/chaos-check");
  fs::create_symlink("/bin/sleep", dir + "/chaos-escape");
  std::ofstream(dir + "/check.sh") << "setsid " << dir << "/chaos-escape 600 &\n"
                                   << dir << "/chaos-check 4\n"
                                   << "python3 -m py_compile \"$1\"\n";
  std::ofstream(dir + "/repo/README") << "fixture\n";
  ASSERT_EQ(std::system(("cd " + dir +
                         "/repo && git init -q -b main . && git add -A && git -c "
                         "user.email=t@t -c user.name=t commit -qm fixture")
                            .c_str()),
            0);
  std::string yaml =
      "name: chaos\nrepo: " + dir + "/repo\nmodel: gpt-4o-mini\nfiles:\n";
  constexpr int kFiles = 10;
  for (int i = 0; i < kFiles; ++i) {
    yaml += absl::StrCat("  - {path: m", i, ".py, instructions: module ", i, "}\n");
  }
  yaml += "checks: [{match: '*.py', command: 'sh " + dir + "/check.sh {file}', permits: 1}]\n";
  auto parsed = ParseSpecYaml(yaml, "chaos.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();

  auto coord = Subprocess::Start(
      {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
       "--port_file=" + dir + "/port", "--state_dir=" + dir + "/state",
       "--permits=compile=2", "--lease_ttl=2s", "--heartbeat_interval=300ms",
       "--permit_grace=500ms"},
      {}, dir + "/coordinator.log");
  ASSERT_TRUE(coord.ok()) << coord.status();
  auto port = WaitForFileLine(dir + "/port", absl::Seconds(60));
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string target = absl::StrCat("127.0.0.1:", *port);
  std::map<std::string, std::unique_ptr<Subprocess>> workers;
  auto start = [&](const std::string& id) {
    auto w = Subprocess::Start(
        {"worker/kiln_worker", "--coordinator=" + target, "--worker_id=" + id,
         "--provider=sim", "--time_scale=100", "--work_dir=" + dir + "/" + id,
         "--build_slots=2", "--sandbox=none", "--permit_ttl=1500ms",
         "--permit_margin=250ms"},
        {}, absl::StrCat(dir, "/", id, ".log"));
    ASSERT_TRUE(w.ok()) << w.status();
    workers[id] = std::make_unique<Subprocess>(std::move(*w));
  };
  for (const char* id : {"w1", "w2", "w3"}) start(id);

  // Counts the running checks, from /proc, until told to stop. (Atomics:
  // Debian's absl::Mutex is invisible to ThreadSanitizer.)
  std::atomic<bool> stop{false};
  std::atomic<int> peak{0};
  std::thread counter([&] {
    while (!stop.load()) {
      const int now = static_cast<int>(ProcessesNamed("chaos-check").size());
      if (now > peak.load()) peak.store(now);  // the only writer
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto jobs = kiln::v1::JobService::NewStub(channel);
  kiln::v1::SubmitBatchRequest submit;
  *submit.mutable_spec() = parsed->batch;
  kiln::v1::SubmitBatchResponse submitted;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(jobs->SubmitBatch(&ctx, submit, &submitted).ok());
  }

  // Kill the worker that holds a running check, four times.
  int kills = 0;
  for (int round = 0; round < 600 && kills < 4; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::string victim;
    for (pid_t check : ProcessesNamed("chaos-check")) {
      for (pid_t p = check; p > 1 && victim.empty(); p = ParentOf(p)) {
        for (const auto& [id, w] : workers) {
          if (w->Running() && w->pid() == p) victim = id;
        }
      }
      if (!victim.empty()) break;
    }
    if (victim.empty()) continue;
    workers[victim]->Stop(SIGKILL);
    ++kills;
    start(victim);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  }

  kiln::v1::BatchState state = kiln::v1::BATCH_STATE_UNSPECIFIED;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     absl::ToChronoNanoseconds(ScaledTimeout(absl::Minutes(4))));
    kiln::v1::WatchBatchRequest watch;
    watch.set_batch_id(submitted.batch().id());
    auto reader = jobs->WatchBatch(&ctx, watch);
    kiln::v1::Event e;
    while (reader->Read(&e)) {
      if (e.has_batch()) state = e.batch().state();
    }
    reader->Finish();
  }
  stop.store(true);
  counter.join();
  EXPECT_EQ(state, kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(kills, 4);
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(peak.load(), 2);  // the permits were used
  // Nothing a check started outlived it or its worker.
  std::vector<pid_t> left;
  for (int i = 0; i < 500; ++i) {
    left = ProcessesNamed("chaos-check");
    for (pid_t p : ProcessesNamed("chaos-escape")) left.push_back(p);
    if (left.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(left.empty()) << left.size() << " check processes outlived their check";
  for (auto& [id, w] : workers) w->Stop(SIGTERM);
  coord->Stop(SIGTERM);
  std::printf("checks with workers killed: kills %d, most checks running at once %d "
              "(permits 2)\n",
              kills, peak.load());
}

}  // namespace
}  // namespace kiln
