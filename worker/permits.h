// Permits of the cluster-wide semaphore for checks and builds (DESIGN.md,
// "Compile semaphore"). A grant is a lease: it is renewed in the background
// while the command runs; when a renewal is refused (the lease expired, the
// coordinator gave the permit away), or none succeeded for the TTL minus a
// margin (the coordinator cannot be reached), the holder is told at once so
// it kills its command. Two sources: the coordinator's SemaphoreService over gRPC,
// and an in-process fake for the runner's unit tests.
#ifndef KILN_WORKER_PERMITS_H_
#define KILN_WORKER_PERMITS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/timer_loop.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/semaphore_service.grpc.pb.h"
#include "worker/sandbox.h"

namespace kiln {

struct PermitRequest {
  std::string semaphore = "compile";
  int weight = 1;
  // Who holds it, for DescribeSemaphore and the grant history.
  std::string holder;
};

// Held permits. Released by Release or by the destructor.
class PermitGrant {
 public:
  virtual ~PermitGrant() = default;
  // The lease was lost while held (on_lost has run).
  virtual bool lost() const = 0;
  // Time spent in the queue before the grant.
  virtual absl::Duration waited() const = 0;
  virtual void Release() = 0;
};

class PermitSource {
 public:
  virtual ~PermitSource() = default;
  // Blocks until granted. CANCELLED when `cancel` fires first (it may be
  // null). `on_lost` runs once, on another thread, if the lease is lost
  // while held.
  virtual absl::StatusOr<std::unique_ptr<PermitGrant>> Acquire(
      const PermitRequest& request, Cancellation* cancel,
      std::function<void()> on_lost) = 0;
};

struct GrpcPermitsOptions {
  // The lease's TTL; it is renewed every ttl / 3.
  absl::Duration ttl = absl::Seconds(30);
  // A lease not confirmed by the coordinator for ttl - margin (counted from
  // when the last successful request was sent) is given up as lost, and its
  // command killed, before the coordinator can have given the permit to
  // anyone else (which it does only after the TTL and its own grace).
  // 0: ttl / 6.
  absl::Duration margin = absl::ZeroDuration();
  // Each Acquire call waits at most this long in the queue before it is
  // sent again (the same request id, so a grant is never doubled).
  absl::Duration acquire_slice = absl::Minutes(5);
};

class GrpcPermits : public PermitSource {
 public:
  // `add_auth` puts the call credentials on each call.
  GrpcPermits(std::shared_ptr<grpc::Channel> channel,
              std::function<void(grpc::ClientContext*)> add_auth,
              GrpcPermitsOptions options = {});
  ~GrpcPermits() override;

  absl::StatusOr<std::unique_ptr<PermitGrant>> Acquire(
      const PermitRequest& request, Cancellation* cancel,
      std::function<void()> on_lost) override;

 private:
  class Grant;
  struct Held;
  absl::Duration margin() const;
  // When a lease not renewed since is given up: its last confirmation plus
  // the TTL, less the margin. Call with held.mu held.
  MonotonicTime GiveUpAt(const Held& held) const;
  void ScheduleRenew(std::shared_ptr<Held> held, absl::Duration delay);
  void Renew(const std::shared_ptr<Held>& held);
  // One renewal call; false when it failed (and Lose when it was refused).
  bool RenewOnce(const std::shared_ptr<Held>& held);
  // Gives the lease up at its deadline unless a renewal moved it.
  void ScheduleWatchdog(std::shared_ptr<Held> held);
  void Watch(const std::shared_ptr<Held>& held);
  // Marks it lost and runs on_lost, once.
  void Lose(const std::shared_ptr<Held>& held);
  void ReleaseHeld(const std::shared_ptr<Held>& held);

  std::unique_ptr<kiln::v1::SemaphoreService::Stub> stub_;
  const std::function<void(grpc::ClientContext*)> add_auth_;
  const GrpcPermitsOptions options_;
  // Renewals (which block on their call) and the watchdog (which never
  // blocks, so a stuck renewal cannot delay a give-up).
  TimerLoop timers_;
  TimerLoop watchdog_;
};

}  // namespace kiln

#endif  // KILN_WORKER_PERMITS_H_
