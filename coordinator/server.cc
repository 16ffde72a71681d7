#include "coordinator/server.h"

#include <atomic>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/grpc_trace.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "kiln/v1/blob_service.grpc.pb.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "kiln/v1/semaphore_service.grpc.pb.h"
#include "kiln/v1/worker_service.grpc.pb.h"

namespace kiln {

namespace {

// Constant-time comparison, so a token cannot be guessed byte by byte.
bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool IsLoopback(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// ---------------------------------------------------------------- the loop

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
                          "\"authorization: Bearer <token>\" (--token)");
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
      (void)core_->Commit();
      if (stopping) return;
    }
  }

  Store* const store_;
  const Clock* const clock_;
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

namespace {

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

// ---------------------------------------------------------------- JobService

class WatchReactor : public grpc::ServerWriteReactor<kiln::v1::Event>,
                     public WatchSink {
 public:
  WatchReactor(Impl* impl, grpc::CallbackServerContext* ctx,
               const kiln::v1::WatchBatchRequest* req)
      : impl_(impl), batch_id_(req->batch_id()), next_after_(req->after_sequence()) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    impl_->Post([this](Coordinator& core) {
      auto seq = core.Watch(batch_id_, this);
      MutexLock l(&mu_);
      if (!seq.ok()) {
        finished_ = true;
        Finish(ToGrpcStatus(seq.status()));
        return;
      }
      latest_ = *seq;
      MaybeWriteLocked();
    });
  }

  void Notify(int64_t last) override {
    MutexLock l(&mu_);
    latest_ = std::max(latest_, last);
    MaybeWriteLocked();
  }

  void OnWriteDone(bool ok) override {
    MutexLock l(&mu_);
    writing_ = false;
    if (!ok) {
      if (!finished_) {
        finished_ = true;
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      }
      return;
    }
    pending_.pop_front();
    MaybeWriteLocked();
  }

  void OnCancel() override {
    MutexLock l(&mu_);
    if (!finished_) {
      finished_ = true;
      Finish(grpc::Status::CANCELLED);
    }
  }

  void OnDone() override {
    impl_->PostOrRun([this](Coordinator& core) {
      core.Unwatch(batch_id_, this);
      delete this;
    });
  }

 private:
  void MaybeWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return;
    if (pending_.empty() && next_after_ < latest_) {
      std::vector<kiln::v1::Event> events;
      absl::Status s = Coordinator::ReadEvents(*impl_->store(), batch_id_,
                                               next_after_, 256, &events);
      if (!s.ok()) {
        finished_ = true;
        Finish(ToGrpcStatus(s));
        return;
      }
      for (auto& e : events) {
        if (e.sequence() > latest_) break;
        next_after_ = e.sequence();
        pending_.push_back(std::move(e));
      }
    }
    if (pending_.empty()) return;
    const kiln::v1::Event& e = pending_.front();
    if (Coordinator::IsFinal(e)) {
      finished_ = true;
      StartWriteAndFinish(&e, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    writing_ = true;
    StartWrite(&e);
  }

  Impl* const impl_;
  const std::string batch_id_;
  Mutex mu_;
  int64_t next_after_ ABSL_GUARDED_BY(mu_);
  int64_t latest_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<kiln::v1::Event> pending_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

// Streams artifacts: a header message per file, then its bytes in chunks.
class FetchReactor
    : public grpc::ServerWriteReactor<kiln::v1::FetchArtifactsResponse> {
 public:
  FetchReactor(Impl* impl, grpc::CallbackServerContext* ctx,
               const kiln::v1::FetchArtifactsRequest* req)
      : impl_(impl) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    const kiln::v1::FetchArtifactsRequest copy = *req;
    impl_->Post([this, copy](Coordinator& core) {
      auto arts = core.Artifacts(copy);
      if (!arts.ok()) {
        Finish(ToGrpcStatus(arts.status()));
        return;
      }
      artifacts_ = std::move(*arts);
      Next();
    });
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  // One message at a time: the header, then chunks until the blob's end.
  void Next() {
    if (index_ >= artifacts_.size()) {
      Finish(grpc::Status::OK);
      return;
    }
    const kiln::v1::Artifact& a = artifacts_[index_];
    msg_.Clear();
    if (!header_sent_) {
      *msg_.mutable_artifact() = a;
      header_sent_ = true;
      StartWrite(&msg_);
      return;
    }
    kiln::v1::BlobChunk* chunk = msg_.mutable_chunk();
    chunk->set_offset(offset_);
    auto data = impl_->core()->blobs()->ReadChunk(a.digest(), offset_);
    if (!data.ok()) {
      Finish(ToGrpcStatus(data.status()));
      return;
    }
    chunk->set_data(std::move(*data));
    if (offset_ == 0) *chunk->mutable_digest() = a.digest();
    offset_ += static_cast<int64_t>(chunk->data().size());
    if (offset_ >= a.digest().size_bytes()) {
      chunk->set_last(true);
      ++index_;
      offset_ = 0;
      header_sent_ = false;
    }
    StartWrite(&msg_);
  }

  Impl* const impl_;
  std::vector<kiln::v1::Artifact> artifacts_;
  size_t index_ = 0;
  int64_t offset_ = 0;
  bool header_sent_ = false;
  kiln::v1::FetchArtifactsResponse msg_;
};

class JobServiceImpl : public kiln::v1::JobService::CallbackService {
 public:
  explicit JobServiceImpl(Impl* impl) : impl_(impl) {}

  grpc::ServerUnaryReactor* SubmitBatch(
      grpc::CallbackServerContext* ctx, const kiln::v1::SubmitBatchRequest* req,
      kiln::v1::SubmitBatchResponse* resp) override {
    // The submitter's span (W3C traceparent in the call's metadata).
    const TraceContext parent = ExtractTraceparent(*ctx);
    return OnLoopAsync(impl_, ctx, req, resp,
                       [parent](Coordinator& core, const auto& r, auto done) {
                         core.SubmitBatch(r, parent, std::move(done));
                       });
  }

  grpc::ServerUnaryReactor* GetBatch(grpc::CallbackServerContext* ctx,
                                     const kiln::v1::GetBatchRequest* req,
                                     kiln::v1::Batch* resp) override {
    return OnLoop(impl_, ctx, resp, [req](Coordinator& core) {
      return core.GetBatch(req->batch_id(), req->view());
    });
  }

  grpc::ServerUnaryReactor* ListBatches(
      grpc::CallbackServerContext* ctx, const kiln::v1::ListBatchesRequest* req,
      kiln::v1::ListBatchesResponse* resp) override {
    return OnLoop(impl_, ctx, resp,
                  [req](Coordinator& core) { return core.ListBatches(*req); });
  }

  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* ctx,
                                      const kiln::v1::ListTasksRequest* req,
                                      kiln::v1::ListTasksResponse* resp) override {
    return OnLoop(impl_, ctx, resp,
                  [req](Coordinator& core) { return core.ListTasks(*req); });
  }

  grpc::ServerWriteReactor<kiln::v1::Event>* WatchBatch(
      grpc::CallbackServerContext* ctx,
      const kiln::v1::WatchBatchRequest* req) override {
    return new WatchReactor(impl_, ctx, req);
  }

  grpc::ServerUnaryReactor* CancelBatch(grpc::CallbackServerContext* ctx,
                                        const kiln::v1::CancelBatchRequest* req,
                                        kiln::v1::Batch* resp) override {
    return OnLoopAsync(impl_, ctx, req, resp,
                       [](Coordinator& core, const auto& r, auto done) {
                         core.CancelBatch(r, std::move(done));
                       });
  }

  grpc::ServerWriteReactor<kiln::v1::FetchArtifactsResponse>* FetchArtifacts(
      grpc::CallbackServerContext* ctx,
      const kiln::v1::FetchArtifactsRequest* req) override {
    return new FetchReactor(impl_, ctx, req);
  }

  grpc::ServerUnaryReactor* GetReport(grpc::CallbackServerContext* ctx,
                                      const kiln::v1::GetReportRequest* req,
                                      kiln::v1::Report* resp) override {
    return OnLoop(impl_, ctx, resp, [req](Coordinator& core) {
      return core.GetReport(req->batch_id());
    });
  }

 private:
  Impl* const impl_;
};

// ---------------------------------------------------------------- workers

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

// ---------------------------------------------------------------- semaphores

class AcquireReactor : public grpc::ServerUnaryReactor {
 public:
  AcquireReactor(Impl* impl, grpc::CallbackServerContext* ctx,
                 const kiln::v1::AcquireRequest* req,
                 kiln::v1::AcquireResponse* resp)
      : impl_(impl), resp_(resp) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      done_ = true;
      Finish(auth);
      return;
    }
    const kiln::v1::AcquireRequest copy = *req;
    impl_->Post([this, copy](Coordinator& core) {
      waiter_ = core.Acquire(copy, [this, &core](
                                       absl::StatusOr<kiln::v1::AcquireResponse> r) {
        MutexLock l(&mu_);
        if (done_) {
          // The caller gave up while the grant was being committed: return
          // the permits instead of leaving them to expire.
          if (r.ok()) {
            kiln::v1::ReleaseRequest rel;
            rel.set_semaphore(r->lease().semaphore());
            rel.set_lease_id(r->lease().lease_id());
            rel.set_fencing_token(r->lease().fencing_token());
            core.Release(rel, [](absl::StatusOr<kiln::v1::ReleaseResponse>) {});
          }
          return;
        }
        done_ = true;
        if (r.ok()) *resp_ = std::move(*r);
        Finish(r.ok() ? grpc::Status::OK : ToGrpcStatus(r.status()));
      });
    });
  }

  void OnCancel() override {
    impl_->Post([this](Coordinator& core) {
      MutexLock l(&mu_);
      if (done_) return;
      done_ = true;
      core.CancelAcquire(waiter_);
      Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                          "Acquire cancelled or past its deadline"));
    });
  }

  void OnDone() override {
    impl_->PostOrRun([this](Coordinator&) { delete this; });
  }

 private:
  Impl* const impl_;
  kiln::v1::AcquireResponse* const resp_;
  Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t waiter_ = 0;  // loop thread only
};

class SemaphoreServiceImpl : public kiln::v1::SemaphoreService::CallbackService {
 public:
  explicit SemaphoreServiceImpl(Impl* impl) : impl_(impl) {}

  grpc::ServerUnaryReactor* Acquire(grpc::CallbackServerContext* ctx,
                                    const kiln::v1::AcquireRequest* req,
                                    kiln::v1::AcquireResponse* resp) override {
    return new AcquireReactor(impl_, ctx, req, resp);
  }

  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* ctx,
                                  const kiln::v1::RenewRequest* req,
                                  kiln::v1::RenewResponse* resp) override {
    return OnLoopAsync(impl_, ctx, req, resp,
                       [](Coordinator& core, const auto& r, auto done) {
                         core.Renew(r, std::move(done));
                       });
  }

  grpc::ServerUnaryReactor* Release(grpc::CallbackServerContext* ctx,
                                    const kiln::v1::ReleaseRequest* req,
                                    kiln::v1::ReleaseResponse* resp) override {
    return OnLoopAsync(impl_, ctx, req, resp,
                       [](Coordinator& core, const auto& r, auto done) {
                         core.Release(r, std::move(done));
                       });
  }

  grpc::ServerUnaryReactor* DescribeSemaphore(
      grpc::CallbackServerContext* ctx,
      const kiln::v1::DescribeSemaphoreRequest* req,
      kiln::v1::SemaphoreStatus* resp) override {
    return OnLoop(impl_, ctx, resp, [req](Coordinator& core) {
      return core.DescribeSemaphore(req->semaphore());
    });
  }

 private:
  Impl* const impl_;
};

// ---------------------------------------------------------------- blobs

class ReadBlobReactor : public grpc::ServerWriteReactor<kiln::v1::BlobChunk> {
 public:
  ReadBlobReactor(Impl* impl, grpc::CallbackServerContext* ctx,
                  const kiln::v1::ReadBlobRequest* req)
      : impl_(impl), digest_(req->digest()), offset_(req->offset()) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    if (!impl_->core()->blobs()->Contains(digest_)) {
      Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("digest: blob ", digest_.hash(),
                                       " is not stored")));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok || last_) {
      Finish(ok ? grpc::Status::OK
                : grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    chunk_.Clear();
    if (first_) *chunk_.mutable_digest() = digest_;
    first_ = false;
    chunk_.set_offset(offset_);
    auto data = impl_->core()->blobs()->ReadChunk(digest_, offset_);
    if (!data.ok()) {
      Finish(ToGrpcStatus(data.status()));
      return;
    }
    chunk_.set_data(std::move(*data));
    offset_ += static_cast<int64_t>(chunk_.data().size());
    last_ = offset_ >= digest_.size_bytes();
    chunk_.set_last(last_);
    StartWrite(&chunk_);
  }

  Impl* const impl_;
  const kiln::v1::Digest digest_;
  int64_t offset_;
  bool first_ = true;
  bool last_ = false;
  kiln::v1::BlobChunk chunk_;
};

class WriteBlobReactor : public grpc::ServerReadReactor<kiln::v1::BlobChunk> {
 public:
  WriteBlobReactor(Impl* impl, grpc::CallbackServerContext* ctx,
                   kiln::v1::WriteBlobResponse* resp)
      : upload_(impl->core()->blobs(), impl->options().max_blob_bytes),
        resp_(resp) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    StartRead(&chunk_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {  // the client's side is done: verify and store
      auto stored = upload_.Finish();
      if (!stored.ok()) {
        Finish(ToGrpcStatus(stored.status()));
        return;
      }
      *resp_->mutable_digest() = upload_.digest();
      resp_->set_stored(*stored);
      Finish(grpc::Status::OK);
      return;
    }
    absl::Status s = upload_.Append(chunk_);
    if (!s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartRead(&chunk_);
  }
  void OnDone() override { delete this; }

 private:
  BlobUpload upload_;
  kiln::v1::WriteBlobResponse* const resp_;
  kiln::v1::BlobChunk chunk_;
};

class BlobServiceImpl : public kiln::v1::BlobService::CallbackService {
 public:
  explicit BlobServiceImpl(Impl* impl) : impl_(impl) {}

  grpc::ServerUnaryReactor* FindMissingBlobs(
      grpc::CallbackServerContext* ctx,
      const kiln::v1::FindMissingBlobsRequest* req,
      kiln::v1::FindMissingBlobsResponse* resp) override {
    auto* reactor = ctx->DefaultReactor();
    grpc::Status auth = impl_->Authorize(ctx);
    if (auth.ok()) {
      std::vector<kiln::v1::Digest> ds(req->digests().begin(),
                                       req->digests().end());
      for (auto& d : impl_->core()->blobs()->FindMissing(ds)) {
        *resp->add_missing() = std::move(d);
      }
    }
    reactor->Finish(auth);
    return reactor;
  }

  grpc::ServerWriteReactor<kiln::v1::BlobChunk>* ReadBlob(
      grpc::CallbackServerContext* ctx,
      const kiln::v1::ReadBlobRequest* req) override {
    return new ReadBlobReactor(impl_, ctx, req);
  }

  grpc::ServerReadReactor<kiln::v1::BlobChunk>* WriteBlob(
      grpc::CallbackServerContext* ctx,
      kiln::v1::WriteBlobResponse* resp) override {
    return new WriteBlobReactor(impl_, ctx, resp);
  }

 private:
  Impl* const impl_;
};

}  // namespace

// ---------------------------------------------------------------- start

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    Store* store, const Clock* clock, const ModelCatalog* models,
    CoordinatorOptions options, ServerOptions server) {
  if (server.auth_token.empty() && !IsLoopback(server.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", server.listen,
        " is not a loopback address: set --token (or KILN_TOKEN) so that "
        "only workers and clients with the token can connect"));
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::InsecureServerCredentials();
  if (!server.tls_cert.empty() || !server.tls_key.empty()) {
    auto cert = ReadFile(server.tls_cert, "--tls_cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(server.tls_key, "--tls_key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!server.tls_client_ca.empty()) {
      auto ca = ReadFile(server.tls_client_ca, "--tls_client_ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    creds = grpc::SslServerCredentials(ssl);
  }

  auto core = Coordinator::Open(store, clock, models, std::move(options));
  if (!core.ok()) return core.status();
  auto impl = std::make_unique<Impl>(store, clock, std::move(*core), server);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(server.listen, creds, &impl->port_);
  builder.SetMaxReceiveMessageSize(64 << 20);
  impl->services_.push_back(std::make_unique<JobServiceImpl>(impl.get()));
  impl->services_.push_back(std::make_unique<WorkerServiceImpl>(impl.get()));
  impl->services_.push_back(std::make_unique<SemaphoreServiceImpl>(impl.get()));
  impl->services_.push_back(std::make_unique<BlobServiceImpl>(impl.get()));
  for (auto& s : impl->services_) builder.RegisterService(s.get());
  impl->server_ = builder.BuildAndStart();
  if (impl->server_ == nullptr || impl->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", server.listen));
  }
  impl->server_->GetHealthCheckService()->SetServingStatus(true);
  impl->StartLoop();
  return std::unique_ptr<CoordinatorServer>(
      new CoordinatorServer(std::move(impl)));
}

CoordinatorServer::CoordinatorServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

int CoordinatorServer::port() const { return impl_->port_; }

void CoordinatorServer::Shutdown() { impl_->Shutdown(); }

void CoordinatorServer::Post(std::function<void(Coordinator&)> fn) {
  impl_->Post(std::move(fn));
}

}  // namespace kiln
