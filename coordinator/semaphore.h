// Named, weighted, FIFO-fair counting semaphores granted as leases with a
// TTL: the cluster-wide compile gate (DESIGN.md "Compile semaphore").
//
// Event-loop-only: a plain class without threads or locks; time comes from
// the injected Clock. Invariant: for each semaphore the weights of unexpired
// leases never exceed its permits. A waiter at the head of the queue is never
// overtaken, even by a lighter one that would fit.
//
// Persistence is the caller's: TakeChanges() returns every grant, renewal
// and end since the last call, which the coordinator writes before it
// answers any client (so a restarted coordinator still counts the permits of
// leases its clients hold).
#ifndef KILN_COORDINATOR_SEMAPHORE_H_
#define KILN_COORDINATOR_SEMAPHORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "kiln/v1/semaphore_service.pb.h"
#include "kiln/v1/store.pb.h"

namespace kiln {

struct SemaphoreOptions {
  // Permits of semaphores not named in `permits`.
  int default_permits = 2;
  // Permits per semaphore name, e.g. {"compile": 4}.
  std::map<std::string, int> permits;
  // TTL of leases whose request sets none.
  absl::Duration default_ttl = absl::Seconds(30);
  // Longest TTL a client may ask for.
  absl::Duration max_ttl = absl::Minutes(10);
  // A lease past its TTL can no longer be renewed, but its permits return
  // only this much later: its holder, which gives a lease up a margin before
  // its TTL when it cannot renew, has stopped its work by then.
  absl::Duration expiry_grace = absl::Seconds(5);
};

// Parses "compile=4,link=1" (a flag's value) into SemaphoreOptions::permits.
// INVALID_ARGUMENT quoting the item that is not NAME=N with N >= 1.
absl::StatusOr<std::map<std::string, int>> ParsePermits(absl::string_view text);

class SemaphoreTable {
 public:
  // Answers one Acquire: a lease, or why not.
  using AcquireDone =
      std::function<void(absl::StatusOr<kiln::v1::AcquireResponse>)>;

  // `clock` is not owned. Fencing tokens start above `last_token`.
  SemaphoreTable(const Clock* clock, SemaphoreOptions options,
                 int64_t last_token = 0);

  // Re-adopts a lease that was live when the coordinator stopped; its TTL
  // starts again now (the holder keeps renewing it).
  void Restore(const kiln::v1::SemaphoreGrant& grant);

  // Grants at once when the queue is empty and the permits fit, else queues.
  // `done` runs exactly once: with the lease, with INVALID_ARGUMENT (bad
  // weight or name, checked before queueing), or never when Cancel() removes
  // the waiter first. A request_id of a live lease gets that lease again.
  // Returns the waiter's id (0 when `done` already ran).
  uint64_t Acquire(const kiln::v1::AcquireRequest& request, AcquireDone done);

  // Removes a queued waiter (its call was cancelled or timed out); its
  // `done` is not called. Later waiters it blocked may be granted.
  void Cancel(uint64_t waiter);

  // ABORTED when the lease expired (even within its grace) or was released
  // (fencing), NOT_FOUND
  // for an unknown semaphore, INVALID_ARGUMENT for a bad TTL.
  absl::StatusOr<kiln::v1::RenewResponse> Renew(
      const kiln::v1::RenewRequest& request);

  // Returns the permits; released=false when the lease was already gone.
  kiln::v1::ReleaseResponse Release(const kiln::v1::ReleaseRequest& request);

  // NOT_FOUND for a semaphore never used.
  absl::StatusOr<kiln::v1::SemaphoreStatus> Describe(
      const std::string& name) const;

  // Ends leases past their expiry and its grace, and serves the waiters
  // that now fit.
  void Expire();
  // When the next lease ends by expiry (its grace included), if any is held.
  absl::optional<MonotonicTime> NextExpiry() const;

  // Grants, renewals and ends since the last call, oldest first.
  std::vector<kiln::v1::SemaphoreGrant> TakeChanges();

  int64_t last_token() const { return last_token_; }
  int in_use(const std::string& name) const;

 private:
  struct Held {
    kiln::v1::SemaphoreGrant grant;
    MonotonicTime expires;
  };
  struct Waiter {
    uint64_t id;
    kiln::v1::AcquireRequest request;
    absl::Duration ttl;
    MonotonicTime since;
    absl::Time since_wall;
    AcquireDone done;
  };
  struct Sem {
    int permits = 0;
    int in_use = 0;
    std::map<std::string, Held> leases;  // by lease id
    std::deque<Waiter> waiters;
  };

  Sem& Get(const std::string& name);
  void Serve(Sem& sem);
  void End(Sem& sem, std::map<std::string, Held>::iterator it,
           const std::string& reason);
  kiln::v1::SemaphoreGrant Grant(Sem& sem, const Waiter& w);

  const Clock* clock_;
  SemaphoreOptions options_;
  int64_t last_token_;
  uint64_t next_waiter_ = 1;
  std::map<std::string, Sem> sems_;
  // request_id -> (semaphore, lease id) of live leases.
  std::unordered_map<std::string, std::pair<std::string, std::string>>
      by_request_;
  std::unordered_map<uint64_t, std::string> waiter_sem_;
  std::vector<kiln::v1::SemaphoreGrant> changes_;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_SEMAPHORE_H_
