// BlobService: FindMissingBlobs, ReadBlob and WriteBlob streams.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/v1/blob_service.grpc.pb.h"
#include "coordinator/server_internal.h"

namespace kiln {
namespace server_internal {
namespace {

class ReadBlobReactor : public grpc::ServerWriteReactor<kiln::v1::BlobChunk> {
 public:
  ReadBlobReactor(Impl* impl, grpc::CallbackServerContext* ctx,
                  const kiln::v1::ReadBlobRequest* req)
      : impl_(impl), cursor_(impl->core()->blobs(), req->digest(), req->offset()) {
    grpc::Status auth = impl->Authorize(ctx);
    if (!auth.ok()) {
      Finish(auth);
      return;
    }
    if (!impl_->core()->blobs()->Contains(req->digest())) {
      Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("digest: blob ", req->digest().hash(),
                                       " is not stored")));
      return;
    }
    Next();
  }
  void OnWriteDone(bool ok) override {
    if (!ok || cursor_.done()) {
      Finish(ok ? grpc::Status::OK
                : grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (absl::Status s = cursor_.Next(&chunk_); !s.ok()) {
      Finish(ToGrpcStatus(s));
      return;
    }
    StartWrite(&chunk_);
  }

  Impl* const impl_;
  BlobChunkCursor cursor_;
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

std::unique_ptr<grpc::Service> NewBlobService(Impl* impl) {
  return std::make_unique<BlobServiceImpl>(impl);
}

}  // namespace server_internal
}  // namespace kiln
