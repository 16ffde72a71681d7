// Landing under crashes, on real processes: a kiln_coordinator, two
// kiln_worker processes (simulated LLM) and a bare git repository on disk as
// the remote, whose hooks record every push. The worker running LAND, or the
// coordinator, is killed (kill -9) while the push is in flight: the remote
// ends with exactly one commit on the branch and one ref update.
#include <csignal>
#include <cstdlib>
#include <filesystem>
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
#include "tests/kiln_cli.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
constexpr char kToken[] = "land-token";

std::string Sh(const std::string& cmd) {
  const std::string out = absl::StrCat(::testing::TempDir(), "/land_cluster_sh.out");
  EXPECT_EQ(std::system(absl::StrCat("(", cmd, ") >", out, " 2>&1").c_str()), 0) << cmd;
  std::string text = Slurp(out);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// A coordinator, two workers and a repo whose remote's pre-receive hook
// holds every push for 4 s (long enough to kill a process meanwhile) and
// whose post-receive hook logs every ref update that lands.
class LandCluster : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/land-cluster-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    repo_ = dir_ + "/svc";
    remote_ = dir_ + "/svc.remote.git";
    Sh(absl::StrCat("git init -q -b main ", repo_, " && cd ", repo_,
                    " && printf 'x = 1\\ny = 2\\n' > a.py && git add -A && git -c user.email=t@t "
                    "-c user.name=t commit -qm base && git clone -q --bare . ", remote_));
    Sh(absl::StrCat("printf '#!/bin/sh\\ntouch ", dir_, "/push-started\\nsleep 4\\n' > ", remote_,
                    "/hooks/pre-receive && printf '#!/bin/sh\\ncat >> ", dir_,
                    "/pushes.log\\n' > ", remote_, "/hooks/post-receive && chmod +x ", remote_,
                    "/hooks/pre-receive ", remote_, "/hooks/post-receive"));
    StartCoordinator("127.0.0.1:0");
    auto port = WaitForFileLine(dir_ + "/coordinator.port", absl::Seconds(30));
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    for (const char* id : {"w1", "w2"}) {
      auto w = Subprocess::Start(
          {"worker/kiln_worker", absl::StrCat("--coordinator=127.0.0.1:", port_),
           absl::StrCat("--worker_id=", id), "--provider=sim", "--time_scale=50",
           "--work_dir=" + dir_ + "/" + id, "--llm_slots=4", "--build_slots=1",
           "--sandbox=none", "--permit_ttl=3s"},
          {{"KILN_TOKEN", kToken}}, absl::StrCat(dir_, "/", id, ".log"));
      ASSERT_TRUE(w.ok()) << w.status();
      workers_[id] = std::make_unique<Subprocess>(std::move(*w));
    }
    client_ = std::make_unique<ClusterClient>(port_, kToken);
  }

  // A short lease: a killed worker's LAND is retried soon.
  void StartCoordinator(const std::string& listen, const std::string& lease_ttl = "3s") {
    auto c = Subprocess::Start(
        {"coordinator/kiln_coordinator", "--listen=" + listen,
         "--port_file=" + dir_ + "/coordinator.port", "--state_dir=" + dir_ + "/state",
         "--lease_ttl=" + lease_ttl, "--heartbeat_interval=500ms"},
        {{"KILN_TOKEN", kToken}}, dir_ + "/coordinator.log");
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::make_unique<Subprocess>(std::move(*c));
  }

  // Submits the one-file job with `land: push` and waits until its push
  // has reached the remote's hook.
  std::string SubmitAndWaitForThePush() {
    auto parsed = ParseSpecYaml(absl::StrCat(R"(name: crash
repo: {path: )", repo_, R"(}
model: gpt-4o-mini
files:
  - {path: a.py, instructions: "Replace `x = 1` with `x = 2`."}
land: {branch: kiln/crash, push: true, remote: )", remote_, R"(}
)"),
                                "job.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    absl::StatusOr<std::string> submitted = client_->Submit(parsed->batch);
    EXPECT_TRUE(submitted.ok()) << submitted.status();
    // A readiness wait: the push has reached the remote's hook.
    const absl::Time end = absl::Now() + ScaledTimeout(absl::Seconds(60));
    while (!fs::exists(dir_ + "/push-started") && absl::Now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(fs::exists(dir_ + "/push-started"));
    return submitted.ok() ? *submitted : "";
  }

  // The batch succeeded with its branch pushed once: one commit over main,
  // the edit in it, one ref update on the remote. Returns the LAND task.
  kiln::v1::Task ExpectLandedOnce(const std::string& batch) {
    absl::StatusOr<kiln::v1::Batch> got = client_->Batch(batch);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return {};
    const kiln::v1::Batch& b = *got;
    EXPECT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED) << Slurp(dir_ + "/coordinator.log");
    EXPECT_EQ(b.jobs_size(), 1);
    if (b.jobs_size() != 1) return {};
    EXPECT_EQ(b.jobs(0).landing().state(), kiln::v1::LANDING_STATE_PUSHED);
    EXPECT_EQ(Sh(absl::StrCat("git -C ", remote_, " rev-parse kiln/crash")),
              b.jobs(0).landing().commit());
    EXPECT_EQ(Sh(absl::StrCat("git -C ", remote_, " rev-list --count main..kiln/crash")), "1");
    EXPECT_EQ(Sh(absl::StrCat("git -C ", remote_, " show kiln/crash:a.py")), "x = 2\ny = 2");
    // One ref update landed.
    const std::string pushes = Slurp(dir_ + "/pushes.log");
    EXPECT_EQ(std::count(pushes.begin(), pushes.end(), '\n'), 1) << pushes;
    absl::StatusOr<std::vector<kiln::v1::Task>> tasks = client_->Tasks(batch);
    EXPECT_TRUE(tasks.ok()) << tasks.status();
    if (tasks.ok()) {
      for (const auto& t : *tasks) {
        if (t.kind() == kiln::v1::TASK_KIND_LAND) return t;
      }
    }
    ADD_FAILURE() << "no LAND task";
    return {};
  }

  std::string dir_, repo_, remote_, port_;
  std::unique_ptr<Subprocess> coordinator_;
  std::map<std::string, std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<ClusterClient> client_;
};

// The worker running LAND is killed (kill -9) while its push is in flight;
// the other worker's retry makes the same commit and pushes it once.
TEST_F(LandCluster, AWorkerKilledMidPushLeavesOneCommitAndOnePush) {
  const std::string batch = SubmitAndWaitForThePush();
  ASSERT_FALSE(batch.empty());
  absl::StatusOr<std::vector<kiln::v1::Task>> leased = client_->Tasks(batch);
  ASSERT_TRUE(leased.ok()) << leased.status();
  std::string holder;
  for (const auto& t : *leased) {
    if (t.kind() == kiln::v1::TASK_KIND_LAND) holder = t.lease().worker_id();
  }
  ASSERT_TRUE(workers_.count(holder)) << "LAND leased to '" << holder << "'";
  workers_[holder]->Stop(SIGKILL);
  workers_.erase(holder);

  client_->WaitForEnd(batch);
  EXPECT_GE(ExpectLandedOnce(batch).attempts_size(), 2);
}

// The coordinator is killed (kill -9) while a worker's push is in flight
// and restarted on the same port: the worker finishes the push, reconnects
// and hands in its result, which the new coordinator takes. The push is
// neither repeated nor lost.
TEST_F(LandCluster, ACoordinatorKilledMidPushTakesTheResultAfterItsRestart) {
  const std::string batch = SubmitAndWaitForThePush();
  ASSERT_FALSE(batch.empty());
  coordinator_->Stop(SIGKILL);
  fs::remove(dir_ + "/coordinator.port");
  // A lease long enough for the worker's reconnect (its backoff included),
  // so its attempt is the one that lands.
  StartCoordinator("127.0.0.1:" + port_, "30s");
  ASSERT_TRUE(WaitForFileLine(dir_ + "/coordinator.port", absl::Seconds(30)).ok());
  client_->WaitForEnd(batch);
  const kiln::v1::Task land = ExpectLandedOnce(batch);
  EXPECT_EQ(land.attempts_size(), 1) << land.DebugString();
}

}  // namespace
}  // namespace kiln
