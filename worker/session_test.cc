// WorkerSession against a WorkerService on loopback that drops the first
// session: what the worker had reported spending on a running attempt is
// sent again on the next session, so a restarted coordinator still bills
// the attempt if it is lost.
#include "worker/session.h"

#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "common/mutex.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace v1 = kiln::v1;

class FlakyCoordinator : public v1::WorkerService::Service {
 public:
  grpc::Status Session(grpc::ServerContext*,
                       grpc::ServerReaderWriter<v1::CoordinatorMessage, v1::WorkerMessage>* stream)
      override {
    v1::WorkerMessage m;
    if (!stream->Read(&m) || !m.has_register_()) return grpc::Status::CANCELLED;
    const int n = ++sessions_;
    v1::CoordinatorMessage reg;
    reg.mutable_registered()->set_worker_id("w1");
    reg.mutable_registered()->mutable_heartbeat_interval()->set_seconds(60);
    stream->Write(reg);
    if (n == 1) {
      v1::CoordinatorMessage a;
      a.mutable_assignment()->mutable_lease()->set_task_id("t1");
      a.mutable_assignment()->mutable_lease()->set_attempt(1);
      stream->Write(a);
      // Until the worker reports some spend, then the coordinator "dies".
      while (stream->Read(&m)) {
        if (m.has_progress() && m.progress().has_usage()) {
          first_spend_.Notify();
          break;
        }
      }
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
    }
    while (stream->Read(&m)) {
      if (m.has_progress() && m.progress().has_usage()) {
        MutexLock l(&mu_);
        resent_.push_back(m.progress());
        if (resent_.size() == 1) resent_once_.Notify();
      }
    }
    return grpc::Status::OK;
  }

  std::vector<v1::Progress> resent() {
    MutexLock l(&mu_);
    return resent_;
  }

  std::atomic<int> sessions_{0};
  absl::Notification first_spend_;
  absl::Notification resent_once_;

 private:
  Mutex mu_;
  std::vector<v1::Progress> resent_;
};

class IdleRunner : public TaskRunner {
 public:
  void Run(const v1::Assignment& a, WorkerPort*) override { started.Notify(); }
  void Cancel(const v1::Lease&) override {}
  absl::Notification started;
};

TEST(WorkerSession, ReportedSpendIsSentAgainAfterAReconnect) {
  FlakyCoordinator service;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  ASSERT_NE(server, nullptr);

  IdleRunner runner;
  WorkerSessionOptions o;
  o.target = "127.0.0.1:" + std::to_string(port);
  o.reconnect_min = absl::Milliseconds(10);
  WorkerSession session(o, &runner);
  session.Start();
  runner.started.WaitForNotification();
  v1::Progress spent;
  spent.mutable_lease()->set_task_id("t1");
  spent.mutable_lease()->set_attempt(1);
  spent.mutable_usage()->set_input_tokens(1200);
  spent.mutable_usage()->set_requests(1);
  spent.set_cost_usd(0.004);
  spent.set_request_open(true);
  session.Spent(spent);
  service.first_spend_.WaitForNotification();
  service.resent_once_.WaitForNotification();
  session.Stop();
  server->Shutdown();

  const auto resent = service.resent();
  ASSERT_EQ(resent.size(), 1u);
  EXPECT_EQ(resent[0].lease().task_id(), "t1");
  EXPECT_EQ(resent[0].usage().input_tokens(), 1200);
  EXPECT_DOUBLE_EQ(resent[0].cost_usd(), 0.004);
  EXPECT_TRUE(resent[0].request_open());
  EXPECT_GE(service.sessions_, 2);
}

}  // namespace
}  // namespace kiln
