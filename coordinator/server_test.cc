// The gRPC surface of the coordinator, in process on loopback: auth, health,
// blob streaming, watching, semaphore deadlines, and a batch run end to end
// by an in-process worker session.
#include "coordinator/server.h"

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kiln/v1/blob_service.grpc.pb.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "kiln/v1/semaphore_service.grpc.pb.h"
#include "spec/spec_validator.h"
#include "worker/fake_runner.h"
#include "worker/session.h"

namespace kiln {
namespace {

constexpr char kToken[] = "s3cret";

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string dir = absl::StrCat(
        ::testing::TempDir(), "/server-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    auto store = Store::Open(dir);
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.auth_token = kToken;
    CoordinatorOptions co;
    co.semaphores.permits["compile"] = 1;
    auto server = CoordinatorServer::Start(store_.get(), RealClock(), &models_, co, so);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    target_ = absl::StrCat("127.0.0.1:", server_->port());
    channel_ = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = kToken,
                                           absl::Duration timeout = absl::Seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() +
                      absl::ToChronoNanoseconds(timeout));
    return ctx;
  }

  ModelCatalog models_ = ModelCatalog::Builtin();
  std::unique_ptr<Store> store_;
  std::unique_ptr<CoordinatorServer> server_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerTest, CallsNeedTheTokenButHealthDoesNot) {
  auto jobs = kiln::v1::JobService::NewStub(channel_);
  kiln::v1::ListBatchesRequest req;
  kiln::v1::ListBatchesResponse resp;
  grpc::Status missing = jobs->ListBatches(Ctx("").get(), req, &resp);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.error_message().find("missing bearer token"), std::string::npos);
  grpc::Status wrong = jobs->ListBatches(Ctx("guess").get(), req, &resp);
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(wrong.error_message().find("wrong bearer token"), std::string::npos);
  EXPECT_TRUE(jobs->ListBatches(Ctx().get(), req, &resp).ok());

  auto health = grpc::health::v1::Health::NewStub(channel_);
  grpc::health::v1::HealthCheckRequest hreq;
  grpc::health::v1::HealthCheckResponse hresp;
  ASSERT_TRUE(health->Check(Ctx("").get(), hreq, &hresp).ok());
  EXPECT_EQ(hresp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(ServerStartTest, RefusesToListenBeyondLoopbackWithoutAToken) {
  ModelCatalog models = ModelCatalog::Builtin();
  const std::string dir = absl::StrCat(::testing::TempDir(), "/server-open");
  std::filesystem::remove_all(dir);
  auto store = Store::Open(dir);
  ASSERT_TRUE(store.ok());
  ServerOptions so;
  so.listen = "0.0.0.0:0";
  auto server = CoordinatorServer::Start(store->get(), RealClock(), &models, {}, so);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("$KILN_TOKEN"), std::string::npos);
  EXPECT_TRUE(IsLoopback("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopback("[::1]:7070"));
  EXPECT_FALSE(IsLoopback("10.0.0.2:7070"));
}

TEST_F(ServerTest, BlobsStreamInAndOutInChunks) {
  WorkerSessionOptions wo;
  wo.target = target_;
  wo.token = kToken;
  wo.rpc_timeout = absl::Minutes(5);  // 3 MiB takes a while under TSan
  FakeRunner runner({});
  WorkerSession session(wo, &runner);
  std::string big(3 * (1 << 20) + 17, 'k');
  big[12345] = 'z';
  auto d = session.UploadBlob(big);
  ASSERT_TRUE(d.ok()) << d.status();
  auto again = session.DownloadBlob(*d);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, big);
  auto absent = session.DownloadBlob(DigestOf("nope"));
  EXPECT_EQ(absent.status().code(), absl::StatusCode::kNotFound);

  // Bytes that do not match the digest are refused.
  auto blobs = kiln::v1::BlobService::NewStub(channel_);
  auto ctx = Ctx();
  kiln::v1::WriteBlobResponse resp;
  auto writer = blobs->WriteBlob(ctx.get(), &resp);
  kiln::v1::BlobChunk c;
  *c.mutable_digest() = DigestOf("expected");
  c.set_data("unexpect");
  c.set_last(true);
  writer->Write(c);
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ServerTest, AnAcquirePastItsDeadlineLeavesTheQueue) {
  auto sem = kiln::v1::SemaphoreService::NewStub(channel_);
  kiln::v1::AcquireRequest req;
  req.set_semaphore("compile");
  kiln::v1::AcquireResponse held;
  ASSERT_TRUE(sem->Acquire(Ctx().get(), req, &held).ok());
  kiln::v1::AcquireResponse waited;
  grpc::Status s = sem->Acquire(Ctx(kToken, absl::Milliseconds(200)).get(), req, &waited);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  kiln::v1::DescribeSemaphoreRequest dreq;
  dreq.set_semaphore("compile");
  kiln::v1::SemaphoreStatus status;
  // The coordinator learns of the cancellation asynchronously.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(sem->DescribeSemaphore(Ctx().get(), dreq, &status).ok());
    if (status.waiters_size() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(status.waiters_size(), 0);
  EXPECT_EQ(status.in_use(), 1);
}

TEST_F(ServerTest, AWorkerSessionRunsABatchWhileAClientWatches) {
  FakeRunner runner({});
  WorkerSessionOptions wo;
  wo.target = target_;
  wo.token = kToken;
  wo.worker_id = "w1";
  wo.capabilities.set_llm_slots(4);
  WorkerSession session(wo, &runner);
  session.Start();

  auto parsed = ParseAndValidate(R"(
name: s
jobs:
  - name: app
    repo: ./app
    model: gpt-4o-mini
    files:
      - {path: a.js, instructions: a}
      - {path: b.js, instructions: b, deps: [a.js]}
)", "s.yaml", models_);
  ASSERT_TRUE(parsed.ok());
  auto jobs = kiln::v1::JobService::NewStub(channel_);
  kiln::v1::SubmitBatchRequest submit;
  *submit.mutable_spec() = parsed->batch;
  kiln::v1::SubmitBatchResponse submitted;
  ASSERT_TRUE(jobs->SubmitBatch(Ctx().get(), submit, &submitted).ok());

  kiln::v1::WatchBatchRequest watch;
  watch.set_batch_id(submitted.batch().id());
  auto ctx = Ctx(kToken, absl::Seconds(30));
  auto reader = jobs->WatchBatch(ctx.get(), watch);
  kiln::v1::Event e;
  int64_t seq = 0;
  kiln::v1::BatchState last = kiln::v1::BATCH_STATE_UNSPECIFIED;
  while (reader->Read(&e)) {
    EXPECT_EQ(e.sequence(), ++seq);
    if (e.has_batch()) last = e.batch().state();
  }
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(last, kiln::v1::BATCH_STATE_SUCCEEDED);
  // The last ack travels on the worker's stream, independent of the watch.
  ASSERT_TRUE(session.WaitAcknowledged(3, absl::Seconds(30)));
  EXPECT_EQ(session.accepted(), 3);  // the checkout and 2 files

  kiln::v1::GetReportRequest rr;
  rr.set_batch_id(submitted.batch().id());
  kiln::v1::Report report;
  ASSERT_TRUE(jobs->GetReport(Ctx().get(), rr, &report).ok());
  EXPECT_EQ(report.tasks_size(), 3);
  kiln::v1::GetBatchRequest gb;
  gb.set_batch_id("b_nope");
  kiln::v1::Batch b;
  EXPECT_EQ(jobs->GetBatch(Ctx().get(), gb, &b).error_code(), grpc::StatusCode::NOT_FOUND);
  session.Stop();
}

}  // namespace
}  // namespace kiln
