// GrpcPermits against a SemaphoreService on loopback whose renewals can be
// made to fail: a lease that cannot be renewed is given up by the worker
// before its TTL, without any word from the coordinator.
#include "worker/permits.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace v1 = kiln::v1;

class FakeSemaphores : public v1::SemaphoreService::Service {
 public:
  grpc::Status Acquire(grpc::ServerContext*, const v1::AcquireRequest* req,
                       v1::AcquireResponse* resp) override {
    v1::SemaphoreLease* l = resp->mutable_lease();
    l->set_semaphore(req->semaphore());
    l->set_lease_id("compile-1");
    l->set_fencing_token(1);
    l->set_weight(req->weight());
    return grpc::Status::OK;
  }
  grpc::Status Renew(grpc::ServerContext*, const v1::RenewRequest*,
                     v1::RenewResponse*) override {
    const int n = ++renewals;
    if (n >= fail_from) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator restarting");
    }
    if (n == 5) five_renewed.Notify();
    return grpc::Status::OK;
  }
  grpc::Status Release(grpc::ServerContext*, const v1::ReleaseRequest*,
                       v1::ReleaseResponse* resp) override {
    ++releases;
    resp->set_released(true);
    return grpc::Status::OK;
  }

  std::atomic<int> fail_from{1 << 30};
  std::atomic<int> renewals{0};
  std::atomic<int> releases{0};
  absl::Notification five_renewed;
};

class PermitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    int port = 0;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service_);
    server_ = b.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    GrpcPermitsOptions o;
    o.ttl = absl::Milliseconds(600);
    o.margin = absl::Milliseconds(100);
    permits_ = std::make_unique<GrpcPermits>(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                            grpc::InsecureChannelCredentials()),
        [](grpc::ClientContext*) {}, o);
  }
  void TearDown() override {
    permits_.reset();
    server_->Shutdown();
  }

  FakeSemaphores service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<GrpcPermits> permits_;
};

TEST_F(PermitsTest, ALeaseThatKeepsRenewingIsKept) {
  std::atomic<bool> lost{false};
  auto grant = permits_->Acquire({}, nullptr, [&] { lost = true; });
  ASSERT_TRUE(grant.ok()) << grant.status();
  service_.five_renewed.WaitForNotification();
  EXPECT_FALSE(lost);
  EXPECT_FALSE((*grant)->lost());
  (*grant)->Release();
  EXPECT_EQ(service_.releases, 1);
}

// The coordinator answers UNAVAILABLE to every renewal (never "expired"):
// the worker gives the lease up on its own, and does not release it (its
// permits return when the coordinator expires it).
TEST_F(PermitsTest, ALeaseThatCannotBeRenewedIsGivenUpWithoutTheCoordinator) {
  service_.fail_from = 1;
  absl::Notification lost;
  auto grant = permits_->Acquire({}, nullptr, [&] { lost.Notify(); });
  ASSERT_TRUE(grant.ok()) << grant.status();
  lost.WaitForNotification();
  EXPECT_TRUE((*grant)->lost());
  EXPECT_GE(service_.renewals, 1);  // it tried
  (*grant)->Release();
  EXPECT_EQ(service_.releases, 0);
}

}  // namespace
}  // namespace kiln
