#include "worker/permits.h"

#include <atomic>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/proto_time.h"

namespace kiln {

namespace {

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

std::string NewRequestId() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t salt = std::random_device{}();
  return absl::StrCat("permit-", salt, "-", counter.fetch_add(1));
}

}  // namespace

struct GrpcPermits::Held {
  Mutex mu;
  kiln::v1::SemaphoreLease lease ABSL_GUARDED_BY(mu);
  // When the last request that set the lease's expiry was sent: the
  // coordinator's expiry is at least this plus the TTL.
  MonotonicTime confirmed ABSL_GUARDED_BY(mu);
  bool released ABSL_GUARDED_BY(mu) = false;
  bool lost ABSL_GUARDED_BY(mu) = false;
  std::function<void()> on_lost;
  absl::Duration waited;
};

class GrpcPermits::Grant : public PermitGrant {
 public:
  Grant(GrpcPermits* owner, std::shared_ptr<Held> held)
      : owner_(owner), held_(std::move(held)) {}
  ~Grant() override { Release(); }
  bool lost() const override {
    MutexLock l(&held_->mu);
    return held_->lost;
  }
  absl::Duration waited() const override { return held_->waited; }
  void Release() override { owner_->ReleaseHeld(held_); }

 private:
  GrpcPermits* const owner_;
  std::shared_ptr<Held> held_;
};

GrpcPermits::GrpcPermits(std::shared_ptr<grpc::Channel> channel,
                         std::function<void(grpc::ClientContext*)> add_auth,
                         GrpcPermitsOptions options)
    : stub_(kiln::v1::SemaphoreService::NewStub(channel)),
      add_auth_(std::move(add_auth)),
      options_(options) {}

GrpcPermits::~GrpcPermits() = default;

absl::Duration GrpcPermits::margin() const {
  return options_.margin > absl::ZeroDuration() ? options_.margin : options_.ttl / 6;
}

MonotonicTime GrpcPermits::GiveUpAt(const Held& held) const {
  return held.confirmed + options_.ttl - margin();
}

absl::StatusOr<std::unique_ptr<PermitGrant>> GrpcPermits::Acquire(
    const PermitRequest& request, Cancellation* cancel,
    std::function<void()> on_lost) {
  kiln::v1::AcquireRequest req;
  req.set_semaphore(request.semaphore);
  req.set_weight(request.weight);
  req.set_holder(request.holder);
  DurationToProto(options_.ttl, req.mutable_ttl());
  req.set_request_id(NewRequestId());
  const absl::Time start = absl::Now();
  absl::Duration backoff = absl::Milliseconds(100);
  for (;;) {
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError(cancel->reason());
    }
    grpc::ClientContext ctx;
    add_auth_(&ctx);
    ctx.set_deadline(Deadline(options_.acquire_slice));
    if (cancel != nullptr) cancel->OnCancel([&ctx] { ctx.TryCancel(); });
    kiln::v1::AcquireResponse resp;
    const MonotonicTime sent = RealClock()->MonotonicNow();
    const grpc::Status s = stub_->Acquire(&ctx, req, &resp);
    if (cancel != nullptr) cancel->ClearOnCancel();
    if (s.ok()) {
      auto held = std::make_shared<Held>();
      {
        MutexLock l(&held->mu);
        held->lease = resp.lease();
        held->confirmed = sent;
      }
      held->waited = absl::Now() - start;
      // The grant came somewhere between `sent` and now: after a long wait
      // in the queue, one renewal dates the lease before the command runs.
      // (Nothing runs yet, so a lease lost here is not the holder's news.)
      if (RealClock()->MonotonicNow() - sent > margin() / 2 && !RenewOnce(held)) {
        ReleaseHeld(held);
        req.set_request_id(NewRequestId());
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(2));
        continue;
      }
      held->on_lost = on_lost;  // a copy: the loop above may go round again
      ScheduleRenew(held, options_.ttl / 3);
      ScheduleWatchdog(held);
      return std::unique_ptr<PermitGrant>(new Grant(this, held));
    }
    if (cancel != nullptr && cancel->cancelled()) {
      return absl::CancelledError(cancel->reason());
    }
    switch (s.error_code()) {
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        continue;  // still queued: ask again
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::CANCELLED:
        // The coordinator restarts: its semaphore state survives, and the
        // same request id finds the grant if there was one.
        absl::SleepFor(backoff);
        backoff = std::min(backoff * 2, absl::Seconds(2));
        continue;
      default:
        return FromGrpcStatus(s);
    }
  }
}

void GrpcPermits::ScheduleRenew(std::shared_ptr<Held> held, absl::Duration delay) {
  timers_.RunAfter(delay, [this, held] { Renew(held); });
}

bool GrpcPermits::RenewOnce(const std::shared_ptr<Held>& held) {
  kiln::v1::RenewRequest req;
  MonotonicTime give_up;
  {
    MutexLock l(&held->mu);
    if (held->released || held->lost) return false;
    req.set_semaphore(held->lease.semaphore());
    req.set_lease_id(held->lease.lease_id());
    req.set_fencing_token(held->lease.fencing_token());
    give_up = GiveUpAt(*held);
  }
  const MonotonicTime sent = RealClock()->MonotonicNow();
  if (sent >= give_up) return false;
  DurationToProto(options_.ttl, req.mutable_ttl());
  grpc::ClientContext ctx;
  add_auth_(&ctx);
  ctx.set_deadline(Deadline(std::min(options_.ttl / 3, give_up - sent)));
  kiln::v1::RenewResponse resp;
  const grpc::Status s = stub_->Renew(&ctx, req, &resp);
  if (s.ok()) {
    MutexLock l(&held->mu);
    held->confirmed = std::max(held->confirmed, sent);
    return true;
  }
  if (s.error_code() == grpc::StatusCode::ABORTED ||
      s.error_code() == grpc::StatusCode::NOT_FOUND ||
      s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    Lose(held);
  }
  return false;
}

void GrpcPermits::Renew(const std::shared_ptr<Held>& held) {
  if (RenewOnce(held)) {
    ScheduleRenew(held, options_.ttl / 3);
    return;
  }
  MonotonicTime give_up;
  {
    MutexLock l(&held->mu);
    if (held->released || held->lost) return;
    give_up = GiveUpAt(*held);
  }
  // Unreachable for now: again soon, while the lease can still be saved
  // (the watchdog gives it up at `give_up`).
  const absl::Duration left = give_up - RealClock()->MonotonicNow();
  if (left <= absl::ZeroDuration()) return;
  ScheduleRenew(held, std::min(options_.ttl / 10, left));
}

void GrpcPermits::ScheduleWatchdog(std::shared_ptr<Held> held) {
  MonotonicTime give_up;
  {
    MutexLock l(&held->mu);
    give_up = GiveUpAt(*held);
  }
  const absl::Duration wait =
      std::max(absl::ZeroDuration(), give_up - RealClock()->MonotonicNow());
  watchdog_.RunAfter(wait, [this, held] { Watch(held); });
}

void GrpcPermits::Watch(const std::shared_ptr<Held>& held) {
  bool due;
  {
    MutexLock l(&held->mu);
    if (held->released || held->lost) return;
    due = RealClock()->MonotonicNow() >= GiveUpAt(*held);
  }
  if (due) {
    Lose(held);
  } else {
    ScheduleWatchdog(held);  // renewed since: the new deadline
  }
}

void GrpcPermits::Lose(const std::shared_ptr<Held>& held) {
  {
    MutexLock l(&held->mu);
    if (held->released || held->lost) return;
    held->lost = true;
  }
  if (held->on_lost) held->on_lost();
}

void GrpcPermits::ReleaseHeld(const std::shared_ptr<Held>& held) {
  kiln::v1::ReleaseRequest req;
  {
    MutexLock l(&held->mu);
    if (held->released) return;
    held->released = true;
    if (held->lost) return;
    req.set_semaphore(held->lease.semaphore());
    req.set_lease_id(held->lease.lease_id());
    req.set_fencing_token(held->lease.fencing_token());
  }
  for (int i = 0; i < 3; ++i) {
    grpc::ClientContext ctx;
    add_auth_(&ctx);
    ctx.set_deadline(Deadline(absl::Seconds(10)));
    kiln::v1::ReleaseResponse resp;
    const grpc::Status s = stub_->Release(&ctx, req, &resp);
    if (s.error_code() != grpc::StatusCode::UNAVAILABLE) return;
    absl::SleepFor(absl::Milliseconds(200));
  }
  // Unreleased: the lease expires at its TTL and its permits return.
}

}  // namespace kiln
