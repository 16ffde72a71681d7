// The compile gate: a real kiln_coordinator with `compile` = 2 permits and
// 4 workers, each with its own connection and the worker's own permit
// client (worker/permits.h), each with 2 build slots, running 100 checks
// (25 per worker). A check takes one permit, runs a real process (`sleep`,
// standing in for a compiler) and releases. Printed: the highest number of
// check processes running at once (from the processes' own start and end,
// measured inside the grants), the throughput, and each worker's p50 and p99
// wait for its permit.
//
//   bazel run -c opt //bench:compile_gate_bench -- [--checks=100] [--permits=2]
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/proc_stats.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "worker/permits.h"

ABSL_FLAG(int, checks, 100, "checks in all");
ABSL_FLAG(int, workers, 4, "workers, each with its own connection");
ABSL_FLAG(int, slots, 2, "build slots per worker (checks it runs at once)");
ABSL_FLAG(int, permits, 2, "permits of the `compile` semaphore");
ABSL_FLAG(std::string, command, "sleep 0.05", "the check's command");
ABSL_FLAG(std::string, work_dir, "/tmp/kiln-compile-gate-bench", "scratch space");

namespace kiln {
namespace {

namespace fs = std::filesystem;

struct Check {
  int worker = 0;
  double wait_ms = 0;
  absl::Time start, end;  // the check process
  bool ok = false;
};

int Main() {
  const std::string dir = absl::GetFlag(FLAGS_work_dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int permits = absl::GetFlag(FLAGS_permits);
  int port = 0;
  auto coord = StartServer(
      {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
       "--port_file=" + dir + "/port", "--state_dir=" + dir + "/state",
       absl::StrCat("--permits=compile=", permits)},
      {}, dir + "/coordinator.log", dir + "/port", &port);
  if (!coord.ok()) {
    std::fprintf(stderr, "compile_gate_bench: %s\n", coord.status().ToString().c_str());
    return 1;
  }
  const std::string target = absl::StrCat("127.0.0.1:", port);

  const int workers = absl::GetFlag(FLAGS_workers);
  const int slots = absl::GetFlag(FLAGS_slots);
  const int total = absl::GetFlag(FLAGS_checks);
  const std::string command = absl::GetFlag(FLAGS_command);
  std::vector<std::unique_ptr<GrpcPermits>> clients;
  for (int w = 0; w < workers; ++w) {
    clients.push_back(std::make_unique<GrpcPermits>(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()),
        [](grpc::ClientContext*) {}));
  }
  std::vector<Check> checks(total);
  std::vector<std::atomic<int>> next(workers);
  for (auto& n : next) n = 0;
  const absl::Time t0 = absl::Now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    // This worker's share of the checks: w, w + workers, ...
    for (int s = 0; s < slots; ++s) {
      threads.emplace_back([&, w] {
        while (true) {
          const int k = next[w].fetch_add(1);
          const int i = w + k * workers;
          if (i >= total) return;
          Check& c = checks[i];
          c.worker = w;
          PermitRequest req;
          req.holder = absl::StrCat("w", w + 1, "/check-", i);
          const absl::Time asked = absl::Now();
          auto grant = clients[w]->Acquire(req, nullptr, [] {});
          c.wait_ms = absl::ToDoubleMilliseconds(absl::Now() - asked);
          if (!grant.ok()) continue;
          c.start = absl::Now();
          c.ok = std::system(command.c_str()) == 0;
          c.end = absl::Now();
          (*grant)->Release();
        }
      });
    }
  }
  for (auto& t : threads) t.join();
  const absl::Time t1 = absl::Now();
  const double coordinator_cpu = ReadProcStats(coord->pid()).cpu_s;
  clients.clear();
  coord->Stop(SIGTERM);

  // The highest number of check processes alive at once.
  std::vector<std::pair<absl::Time, int>> edges;
  int failed = 0;
  for (const Check& c : checks) {
    if (!c.ok) {
      ++failed;
      continue;
    }
    edges.emplace_back(c.start, +1);
    edges.emplace_back(c.end, -1);
  }
  std::sort(edges.begin(), edges.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second < b.second;  // ends first
  });
  int running = 0, highest = 0;
  for (const auto& e : edges) {
    running += e.second;
    highest = std::max(highest, running);
  }
  const double seconds = absl::ToDoubleSeconds(t1 - t0);
  // Of the permit-seconds there were, the share that ran a check.
  double busy = 0;
  for (const Check& c : checks) busy += c.ok ? absl::ToDoubleSeconds(c.end - c.start) : 0;
  const double utilization = busy / (permits * seconds);
  std::printf("compile_gate_bench: %d checks (`%s`) by %d workers x %d slots on %d permits\n",
              total, command.c_str(), workers, slots, permits);
  std::printf("  highest concurrency  %d (permits %d: %s)\n", highest, permits,
              highest <= permits ? "never above" : "ABOVE THE PERMITS");
  std::printf("  throughput           %.1f checks/s (%.2f s in all; %d failed); the permits "
              "ran checks %.0f%% of the time\n",
              total / seconds, seconds, failed, 100 * utilization);
  std::printf("  coordinator CPU      %.2f s\n", coordinator_cpu);
  std::printf("| worker | checks | wait p50 ms | wait p99 ms |\n|---|---|---|---|\n");
  for (int w = 0; w < workers; ++w) {
    std::vector<double> waits;
    for (const Check& c : checks) {
      if (c.worker == w) waits.push_back(c.wait_ms);
    }
    std::printf("| w%d | %zu | %.1f | %.1f |\n", w + 1, waits.size(), Percentile(waits, 0.5),
                Percentile(waits, 0.99));
  }
  std::printf("RESULT checks=%d permits=%d highest_concurrency=%d checks_per_s=%.2f "
              "utilization=%.3f failed=%d\n",
              total, permits, highest, total / seconds, utilization, failed);
  return highest <= permits && failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kiln::Main();
}
