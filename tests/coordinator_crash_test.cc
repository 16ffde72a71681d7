// A real coordinator process is killed (SIGKILL) in the middle of a batch
// while three worker processes run it (one of them crashing mid-task too),
// then restarted on the same state directory and port. The batch must finish
// with every file present exactly once, no result committed twice, and
// WatchBatch resuming after the last event the client saw.
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "llm/model_profile.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

constexpr char kToken[] = "test-token-123";

// Three jobs of 40 files; each file depends on the one before it in
// groups of 4, so the run has both width and depth.
std::string Spec() {
  std::string y = "name: crash\njobs:\n";
  for (int j = 0; j < 3; ++j) {
    absl::StrAppend(&y, "  - name: job", j, "\n    repo: ./r", j,
                    "\n    model: gpt-4o-mini\n    files:\n");
    for (int i = 0; i < 40; ++i) {
      absl::StrAppend(&y, "      - {path: src/f", i, ".js, instructions: file ", i);
      if (i % 4 != 0) absl::StrAppend(&y, ", deps: [src/f", i - 1, ".js]");
      absl::StrAppend(&y, "}\n");
    }
  }
  return y;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/crash");
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  void StartCoordinator(int port) {
    const std::string port_file = absl::StrCat(dir_, "/port");
    std::filesystem::remove(port_file);
    auto p = Subprocess::Start(
        {"coordinator/kiln_coordinator", absl::StrCat("--listen=127.0.0.1:", port),
         "--port_file=" + port_file, "--state_dir=" + dir_ + "/state",
         "--lease_ttl=3s", "--heartbeat_interval=500ms"},
        {{"KILN_TOKEN", kToken}},
        absl::StrCat(dir_, "/coordinator", ++starts_, ".log"));
    ASSERT_TRUE(p.ok()) << p.status();
    coordinator_ = std::make_unique<Subprocess>(std::move(*p));
    auto line = WaitForFileLine(port_file, absl::Seconds(30));
    ASSERT_TRUE(line.ok()) << line.status();
    port_ = std::stoi(*line);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    jobs_ = kiln::v1::JobService::NewStub(channel_);
  }

  void StartWorker(const std::string& id, const std::string& extra = "") {
    std::vector<std::string> argv = {
        "worker/kiln_fake_worker", absl::StrCat("--coordinator=127.0.0.1:", port_),
        "--worker_id=" + id, "--slots=4", "--delay=20ms"};
    if (!extra.empty()) argv.push_back(extra);
    auto p = Subprocess::Start(argv, {{"KILN_TOKEN", kToken}},
                               absl::StrCat(dir_, "/", id, ".log"));
    ASSERT_TRUE(p.ok()) << p.status();
    workers_.push_back(std::make_unique<Subprocess>(std::move(*p)));
  }

  std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(timeout));
    return ctx;
  }

  std::string dir_;
  int starts_ = 0;
  int port_ = 0;
  std::unique_ptr<Subprocess> coordinator_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kiln::v1::JobService::Stub> jobs_;
};

TEST_F(CrashTest, AKilledCoordinatorResumesTheBatchAndLosesNothing) {
  StartCoordinator(0);
  const int port = port_;

  // Without the token nothing gets in.
  {
    grpc::ClientContext ctx;
    kiln::v1::ListBatchesRequest req;
    kiln::v1::ListBatchesResponse resp;
    grpc::Status s = jobs_->ListBatches(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_NE(s.error_message().find("bearer token"), std::string::npos);
  }

  const ModelCatalog models = ModelCatalog::Builtin();
  auto parsed = ParseAndValidate(Spec(), "crash.yaml", models);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  kiln::v1::SubmitBatchRequest submit;
  *submit.mutable_spec() = parsed->batch;
  submit.set_request_id("crash-1");
  kiln::v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(jobs_->SubmitBatch(Ctx().get(), submit, &submitted).ok());
  const std::string batch = submitted.batch().id();

  StartWorker("w1");
  StartWorker("w2");
  StartWorker("w3", "--crash_at_assignment=7");  // dies holding a task

  // Watch until a third of the files are done, then kill the coordinator.
  int64_t last_seen = 0;
  int succeeded = 0;
  {
    auto ctx = Ctx(absl::Seconds(60));
    kiln::v1::WatchBatchRequest req;
    req.set_batch_id(batch);
    auto reader = jobs_->WatchBatch(ctx.get(), req);
    kiln::v1::Event e;
    while (succeeded < 40 && reader->Read(&e)) {
      EXPECT_EQ(e.sequence(), last_seen + 1);
      last_seen = e.sequence();
      if (e.has_task() && e.task().state() == kiln::v1::TASK_STATE_SUCCEEDED) {
        ++succeeded;
      }
    }
    ASSERT_EQ(succeeded, 40);
    coordinator_->Stop(SIGKILL);
    ctx->TryCancel();
    reader->Finish();
  }

  StartCoordinator(port);
  ASSERT_EQ(port_, port);

  // Resume watching after the last event seen: no gap, no repeat.
  bool finished = false;
  {
    auto ctx = Ctx(absl::Seconds(120));
    kiln::v1::WatchBatchRequest req;
    req.set_batch_id(batch);
    req.set_after_sequence(last_seen);
    auto reader = jobs_->WatchBatch(ctx.get(), req);
    kiln::v1::Event e;
    while (reader->Read(&e)) {
      ASSERT_EQ(e.sequence(), last_seen + 1);
      last_seen = e.sequence();
      if (e.has_batch() && e.batch().state() == kiln::v1::BATCH_STATE_SUCCEEDED) {
        finished = true;
      }
    }
    EXPECT_TRUE(reader->Finish().ok());
  }
  ASSERT_TRUE(finished);

  // The same request id still names the same batch.
  kiln::v1::SubmitBatchResponse again;
  ASSERT_TRUE(jobs_->SubmitBatch(Ctx().get(), submit, &again).ok());
  EXPECT_EQ(again.batch().id(), batch);

  // Every file exactly once, with the content its task wrote.
  kiln::v1::FetchArtifactsRequest fetch;
  fetch.set_batch_id(batch);
  auto ctx = Ctx();
  auto reader = jobs_->FetchArtifacts(ctx.get(), fetch);
  std::map<std::string, std::string> files;  // job/path -> content
  std::string current;
  kiln::v1::FetchArtifactsResponse r;
  while (reader->Read(&r)) {
    if (r.has_artifact()) {
      current = absl::StrCat(r.artifact().job_id(), ":", r.artifact().path());
      EXPECT_FALSE(files.count(current)) << current;
      files[current];
    } else {
      files[current] += r.chunk().data();
    }
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(files.size(), 120u);
  for (const auto& [key, content] : files) {
    const std::string path = key.substr(key.find(':') + 1);
    EXPECT_EQ(content.rfind(absl::StrCat("// ", path, " (task "), 0), 0u) << key;
  }

  // No result committed twice: each task has exactly one successful attempt.
  kiln::v1::ListTasksRequest list;
  list.set_batch_id(batch);
  list.set_page_size(1000);
  kiln::v1::ListTasksResponse tasks;
  ASSERT_TRUE(jobs_->ListTasks(Ctx().get(), list, &tasks).ok());
  ASSERT_EQ(tasks.tasks_size(), 123);  // 120 files and each job's checkout
  int retried = 0;
  for (const auto& t : tasks.tasks()) {
    EXPECT_EQ(t.state(), kiln::v1::TASK_STATE_SUCCEEDED) << t.id();
    int ok = 0;
    for (const auto& a : t.attempts()) {
      if (!a.has_error()) ++ok;
    }
    EXPECT_EQ(ok, 1) << t.id();
    if (t.attempts_size() > 1) ++retried;
  }
  // The crashed worker's task was finished by another.
  EXPECT_GE(retried, 1);
  coordinator_->Stop(SIGTERM);
}

}  // namespace
}  // namespace kiln
