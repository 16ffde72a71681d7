// The coordinator's gRPC side, shared by its services' sources: the event
// loop every call is posted to (CoordinatorServer::Impl) and the helpers
// that answer a call from it. Internal to //coordinator:server.
//
// Impl is thread-safe: Post and PostOrRun may be called from any gRPC
// thread; the Coordinator itself is touched only on the loop (or inline,
// under inline_mu_, once the loop has stopped).
#ifndef KILN_COORDINATOR_SERVER_INTERNAL_H_
#define KILN_COORDINATOR_SERVER_INTERNAL_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/mutex.h"
#include "coordinator/server.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/codegen/service_type.h"

namespace kiln {

// Constant-time comparison, so a token cannot be guessed byte by byte.
bool SameSecret(absl::string_view a, absl::string_view b);

class CoordinatorServer::Impl {
 public:
  Impl(Store* store, const Clock* clock, std::unique_ptr<Coordinator> core,
       ServerOptions options)
      : store_(store),
        clock_(clock),
        core_(std::move(core)),
        options_(std::move(options)) {}

  ~Impl() { Shutdown(); }

  void StartLoop() { loop_ = std::thread([this] { Run(); }); }

  void Post(std::function<void(Coordinator&)> fn) {
    MutexLock l(&mu_);
    queue_.push_back(std::move(fn));
    cv_.Signal();
  }

  void Shutdown() {
    {
      MutexLock l(&mu_);
      if (shutting_down_) return;
      shutting_down_ = true;
    }
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
    }
    {
      MutexLock l(&mu_);
      stop_ = true;
      cv_.Signal();
    }
    if (loop_.joinable()) loop_.join();
    // Reactors finishing after the loop stopped run their cleanup inline.
    if (server_) server_->Wait();
  }

  // Runs `fn` on the loop, or inline once the loop has stopped (cleanup
  // of reactors during shutdown).
  void PostOrRun(std::function<void(Coordinator&)> fn) {
    {
      MutexLock l(&mu_);
      if (!stop_) {
        queue_.push_back(std::move(fn));
        cv_.Signal();
        return;
      }
    }
    MutexLock l(&inline_mu_);
    fn(*core_);
    core_->Pump();
    (void)core_->Commit();
  }

  grpc::Status Authorize(const grpc::CallbackServerContext* ctx) const {
    if (options_.auth_token.empty()) return grpc::Status::OK;
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    if (it == md.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "missing bearer token: this coordinator requires "
                          "\"authorization: Bearer <token>\" (the token in $KILN_TOKEN, "
                          "or the variable --token_env names)");
    }
    const absl::string_view got(it->second.data(), it->second.size());
    if (!SameSecret(got, absl::StrCat("Bearer ", options_.auth_token))) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "wrong bearer token for this coordinator");
    }
    return grpc::Status::OK;
  }

  Store* store() const { return store_; }
  Coordinator* core() const { return core_.get(); }
  const ServerOptions& options() const { return options_; }

  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::vector<std::unique_ptr<grpc::Service>> services_;

 private:
  void Run() {
    std::vector<std::function<void(Coordinator&)>> batch;
    bool stopping = false;
    for (;;) {
      {
        MutexLock l(&mu_);
        while (queue_.empty() && !stop_) {
          auto next = core_->NextWakeup();
          if (!next) {
            cv_.Wait(&mu_);
            break;
          }
          const absl::Duration wait = *next - clock_->MonotonicNow();
          if (wait <= absl::ZeroDuration()) break;
          cv_.WaitWithTimeout(&mu_, wait);
          break;
        }
        batch.swap(queue_);
        stopping = stop_;
      }
      MutexLock l(&inline_mu_);
      for (auto& fn : batch) fn(*core_);
      batch.clear();
      core_->Pump();
      NoteStorage(core_->Commit());
      if (stopping) return;
    }
  }

  // After a storage error the health check says NOT_SERVING.
  void NoteStorage(const absl::Status& committed) {
    if (committed.ok() || unhealthy_ || server_ == nullptr) return;
    unhealthy_ = true;
    std::fprintf(stderr, "kiln_coordinator: %s\n",
                 std::string(committed.message()).c_str());
    server_->GetHealthCheckService()->SetServingStatus(false);
  }

  Store* const store_;
  const Clock* const clock_;
  bool unhealthy_ = false;
  std::unique_ptr<Coordinator> core_;
  const ServerOptions options_;
  Mutex mu_;
  CondVar cv_;
  std::vector<std::function<void(Coordinator&)>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  Mutex inline_mu_;
  std::thread loop_;
};

namespace server_internal {

using Impl = CoordinatorServer::Impl;

// Finishes a unary call with the core's answer.
template <typename T>
Coordinator::Done<T> FinishWith(grpc::ServerUnaryReactor* reactor, T* out) {
  return [reactor, out](absl::StatusOr<T> r) {
    if (r.ok()) {
      *out = std::move(*r);
      reactor->Finish(grpc::Status::OK);
    } else {
      reactor->Finish(ToGrpcStatus(r.status()));
    }
  };
}

// A unary call answered on the loop from a synchronous core method.
template <typename T, typename F>
grpc::ServerUnaryReactor* OnLoop(Impl* impl, grpc::CallbackServerContext* ctx,
                                 T* out, F fn) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = impl->Authorize(ctx);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  impl->Post([reactor, out, fn](Coordinator& core) {
    absl::StatusOr<T> r = fn(core);
    FinishWith<T>(reactor, out)(std::move(r));
  });
  return reactor;
}

// A unary call whose answer the core gives later (after a commit).
template <typename Req, typename T, typename F>
grpc::ServerUnaryReactor* OnLoopAsync(Impl* impl,
                                      grpc::CallbackServerContext* ctx,
                                      const Req* req, T* out, F fn) {
  auto* reactor = ctx->DefaultReactor();
  grpc::Status auth = impl->Authorize(ctx);
  if (!auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  impl->Post([reactor, req, out, fn](Coordinator& core) {
    fn(core, *req, FinishWith(reactor, out));
  });
  return reactor;
}

// The services, each in its own source.
std::unique_ptr<grpc::Service> NewJobService(Impl* impl);
std::unique_ptr<grpc::Service> NewWorkerService(Impl* impl);
std::unique_ptr<grpc::Service> NewSemaphoreService(Impl* impl);
std::unique_ptr<grpc::Service> NewBlobService(Impl* impl);

}  // namespace server_internal
}  // namespace kiln

#endif  // KILN_COORDINATOR_SERVER_INTERNAL_H_
