// JobService: submissions, queries, cancellation, WatchBatch and FetchArtifacts streams.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/grpc_trace.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "coordinator/server_internal.h"

namespace kiln {
namespace server_internal {
namespace {

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
    if (!cursor_) {
      *msg_.mutable_artifact() = a;
      cursor_.emplace(impl_->core()->blobs(), a.digest());
      StartWrite(&msg_);
      return;
    }
    if (absl::Status s = cursor_->Next(msg_.mutable_chunk()); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    if (cursor_->done()) {
      ++index_;
      cursor_.reset();
    }
    StartWrite(&msg_);
  }

  Impl* const impl_;
  std::vector<kiln::v1::Artifact> artifacts_;
  size_t index_ = 0;
  // The current artifact's blob, once its header is sent.
  std::optional<BlobChunkCursor> cursor_;
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
    // Validation (tens of milliseconds for a 50,000-job matrix) runs here,
    // on the gRPC thread, not on the event loop.
    if (impl_->Authorize(ctx).ok()) {
      if (absl::Status bad = impl_->core()->ValidateSubmission(*req); !bad.ok()) {
        auto* reactor = ctx->DefaultReactor();
        reactor->Finish(ToGrpcStatus(bad));
        return reactor;
      }
    }
    return OnLoopAsync(impl_, ctx, req, resp,
                       [parent](Coordinator& core, const auto& r, auto done) {
                         core.SubmitBatch(r, parent, std::move(done), /*validated=*/true);
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

}  // namespace

std::unique_ptr<grpc::Service> NewJobService(Impl* impl) {
  return std::make_unique<JobServiceImpl>(impl);
}

}  // namespace server_internal
}  // namespace kiln
