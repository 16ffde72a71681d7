// SemaphoreService: Acquire (answered when granted), Renew, Release, Describe.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/v1/semaphore_service.grpc.pb.h"
#include "coordinator/server_internal.h"

namespace kiln {
namespace server_internal {
namespace {

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

}  // namespace

std::unique_ptr<grpc::Service> NewSemaphoreService(Impl* impl) {
  return std::make_unique<SemaphoreServiceImpl>(impl);
}

}  // namespace server_internal
}  // namespace kiln
