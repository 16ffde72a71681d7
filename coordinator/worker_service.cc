// WorkerService: one bidirectional Session stream per worker.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <deque>

#include "kiln/v1/worker_service.grpc.pb.h"
#include "coordinator/server_internal.h"

namespace kiln {
namespace server_internal {
namespace {

class SessionReactor
    : public grpc::ServerBidiReactor<kiln::v1::WorkerMessage,
                                     kiln::v1::CoordinatorMessage>,
      public SessionSink {
 public:
  SessionReactor(Impl* impl, grpc::CallbackServerContext* ctx) : impl_(impl) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      MutexLock l(&mu_);
      finished_ = true;
      Finish(auth);
      return;
    }
    StartRead(&in_);
  }

  // From the loop.
  void Send(kiln::v1::CoordinatorMessage message) override {
    MutexLock l(&mu_);
    if (finished_) return;
    out_.push_back(std::move(message));
    if (!writing_) WriteNextLocked();
  }

  void Close(const absl::Status& why) override {
    MutexLock l(&mu_);
    if (finished_) return;
    finished_ = true;
    Finish(ToGrpcStatus(why));
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the worker closed its side or the stream broke
      MutexLock l(&mu_);
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status::OK);
      }
      return;
    }
    if (!registered_) {
      if (!in_.has_register_()) {
        MutexLock l(&mu_);
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                            "the first message of a session must be Register"));
        return;
      }
      registered_ = true;
      kiln::v1::Register reg = in_.register_();
      impl_->Post([this, reg](Coordinator& core) {
        auto id = core.OpenSession(reg, this);
        if (!id.ok()) {
          Close(id.status());
          return;
        }
        session_id_ = *id;
      });
    } else {
      kiln::v1::WorkerMessage msg = std::move(in_);
      impl_->Post([this, msg = std::move(msg)](Coordinator& core) {
        core.OnWorkerMessage(session_id_, msg);
      });
    }
    in_.Clear();
    MutexLock l(&mu_);
    if (!finished_) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    MutexLock l(&mu_);
    writing_ = false;
    if (!ok) return;  // the stream is going away; OnDone follows
    out_.pop_front();
    if (!out_.empty() && !finished_) WriteNextLocked();
  }

  void OnDone() override {
    {
      MutexLock l(&mu_);
      finished_ = true;
    }
    impl_->PostOrRun([this](Coordinator& core) {
      if (!session_id_.empty()) core.CloseSession(session_id_);
      delete this;
    });
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    writing_ = true;
    grpc::WriteOptions wo;
    // More queued: let gRPC coalesce them into one TCP write.
    if (out_.size() > 1) wo.set_buffer_hint();
    StartWrite(&out_.front(), wo);
  }

  Impl* const impl_;
  kiln::v1::WorkerMessage in_;        // gRPC read thread only
  bool registered_ = false;           // gRPC read thread only
  std::string session_id_;            // loop thread only
  Mutex mu_;
  std::deque<kiln::v1::CoordinatorMessage> out_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class WorkerServiceImpl : public kiln::v1::WorkerService::CallbackService {
 public:
  explicit WorkerServiceImpl(Impl* impl) : impl_(impl) {}
  grpc::ServerBidiReactor<kiln::v1::WorkerMessage, kiln::v1::CoordinatorMessage>*
  Session(grpc::CallbackServerContext* ctx) override {
    return new SessionReactor(impl_, ctx);
  }

 private:
  Impl* const impl_;
};

}  // namespace

std::unique_ptr<grpc::Service> NewWorkerService(Impl* impl) {
  return std::make_unique<WorkerServiceImpl>(impl);
}

}  // namespace server_internal
}  // namespace kiln
