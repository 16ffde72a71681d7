// Landing under crashes, on real processes: a kiln_coordinator, two
// kiln_worker processes (simulated LLM) and a bare git repository on disk as
// the remote, whose hooks record every push. The worker running LAND is
// killed (kill -9) while its push is in flight; the other worker's retry
// makes the same commit and pushes it once: the remote ends with exactly one
// commit on the branch and one ref update.
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "spec/spec_parser.h"
#include "tests/cluster_client.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
constexpr char kToken[] = "land-token";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Sh(const std::string& cmd) {
  const std::string out = absl::StrCat(::testing::TempDir(), "/land_cluster_sh.out");
  EXPECT_EQ(std::system(absl::StrCat("(", cmd, ") >", out, " 2>&1").c_str()), 0) << cmd;
  std::string text = Slurp(out);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

TEST(LandCluster, AWorkerKilledMidPushLeavesOneCommitAndOnePush) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/land-cluster");
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string repo = dir + "/svc", remote = dir + "/svc.remote.git";
  Sh(absl::StrCat("git init -q -b main ", repo, " && cd ", repo,
                  " && printf 'x = 1\\ny = 2\\n' > a.py && git add -A && git -c user.email=t@t "
                  "-c user.name=t commit -qm base && git clone -q --bare . ", remote));
  // The push stays in flight for a while (long enough to kill its worker);
  // every ref update that lands is logged.
  Sh(absl::StrCat("printf '#!/bin/sh\\ntouch ", dir, "/push-started\\nsleep 4\\n' > ", remote,
                  "/hooks/pre-receive && printf '#!/bin/sh\\ncat >> ", dir,
                  "/pushes.log\\n' > ", remote, "/hooks/post-receive && chmod +x ", remote,
                  "/hooks/pre-receive ", remote, "/hooks/post-receive"));

  auto c = Subprocess::Start(
      {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
       "--port_file=" + dir + "/coordinator.port", "--state_dir=" + dir + "/state",
       "--lease_ttl=3s", "--heartbeat_interval=500ms"},
      {{"KILN_TOKEN", kToken}}, dir + "/coordinator.log");
  ASSERT_TRUE(c.ok()) << c.status();
  auto port = WaitForFileLine(dir + "/coordinator.port", absl::Seconds(30));
  ASSERT_TRUE(port.ok()) << port.status();
  std::map<std::string, std::unique_ptr<Subprocess>> workers;
  for (const char* id : {"w1", "w2"}) {
    auto w = Subprocess::Start(
        {"worker/kiln_worker", absl::StrCat("--coordinator=127.0.0.1:", *port),
         absl::StrCat("--worker_id=", id), "--provider=sim", "--time_scale=50",
         "--work_dir=" + dir + "/" + id, "--llm_slots=4", "--build_slots=1", "--sandbox=none",
         "--permit_ttl=3s"},
        {{"KILN_TOKEN", kToken}}, absl::StrCat(dir, "/", id, ".log"));
    ASSERT_TRUE(w.ok()) << w.status();
    workers[id] = std::make_unique<Subprocess>(std::move(*w));
  }
  const ClusterClient client(*port, kToken);

  auto parsed = ParseSpecYaml(absl::StrCat(R"(name: crash
repo: {path: )", repo, R"(}
model: gpt-4o-mini
files:
  - {path: a.py, instructions: "Replace `x = 1` with `x = 2`."}
land: {branch: kiln/crash, push: true, remote: )", remote, R"(}
)"),
                              "job.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<std::string> submitted = client.Submit(parsed->batch);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string batch = *submitted;

  // A readiness wait: the push has reached the remote's hook.
  const absl::Time end = absl::Now() + ScaledTimeout(absl::Seconds(60));
  while (!fs::exists(dir + "/push-started") && absl::Now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(fs::exists(dir + "/push-started"));
  absl::StatusOr<std::vector<kiln::v1::Task>> leased = client.Tasks(batch);
  ASSERT_TRUE(leased.ok()) << leased.status();
  std::string holder;
  for (const auto& t : *leased) {
    if (t.kind() == kiln::v1::TASK_KIND_LAND) holder = t.lease().worker_id();
  }
  ASSERT_TRUE(workers.count(holder)) << "LAND leased to '" << holder << "'";
  workers[holder]->Stop(SIGKILL);
  workers.erase(holder);

  client.WaitForEnd(batch);
  absl::StatusOr<kiln::v1::Batch> got = client.Batch(batch);
  ASSERT_TRUE(got.ok()) << got.status();
  const kiln::v1::Batch& b = *got;
  ASSERT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED) << Slurp(dir + "/coordinator.log");
  ASSERT_EQ(b.jobs_size(), 1);
  EXPECT_EQ(b.jobs(0).landing().state(), kiln::v1::LANDING_STATE_PUSHED);
  const std::string branch_head = Sh(absl::StrCat("git -C ", remote, " rev-parse kiln/crash"));
  EXPECT_EQ(branch_head, b.jobs(0).landing().commit());
  EXPECT_EQ(Sh(absl::StrCat("git -C ", remote, " rev-list --count main..kiln/crash")), "1");
  EXPECT_EQ(Sh(absl::StrCat("git -C ", remote, " show kiln/crash:a.py")), "x = 2\ny = 2");
  // One ref update landed: the killed push never did.
  const std::string pushes = Slurp(dir + "/pushes.log");
  EXPECT_EQ(std::count(pushes.begin(), pushes.end(), '\n'), 1) << pushes;
  absl::StatusOr<std::vector<kiln::v1::Task>> tasks = client.Tasks(batch);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  for (const auto& t : *tasks) {
    if (t.kind() != kiln::v1::TASK_KIND_LAND) continue;
    EXPECT_GE(t.attempts_size(), 2);
  }
}

}  // namespace
}  // namespace kiln
