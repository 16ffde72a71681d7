#include "coordinator/semaphore.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/proto_time.h"

namespace kiln {

absl::StatusOr<std::map<std::string, int>> ParsePermits(absl::string_view text) {
  std::map<std::string, int> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    int n = 0;
    if (kv.first.empty() || !absl::SimpleAtoi(kv.second, &n) || n < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", item, "\" is not NAME=N with N >= 1"));
    }
    out[kv.first] = n;
  }
  return out;
}

SemaphoreTable::SemaphoreTable(const Clock* clock, SemaphoreOptions options,
                               int64_t last_token)
    : clock_(clock), options_(std::move(options)), last_token_(last_token) {}

SemaphoreTable::Sem& SemaphoreTable::Get(const std::string& name) {
  auto [it, inserted] = sems_.try_emplace(name);
  if (inserted) {
    auto p = options_.permits.find(name);
    it->second.permits =
        p != options_.permits.end() ? p->second : options_.default_permits;
  }
  return it->second;
}

void SemaphoreTable::Restore(const kiln::v1::SemaphoreGrant& grant) {
  const kiln::v1::SemaphoreLease& lease = grant.lease();
  Sem& sem = Get(lease.semaphore());
  Held h;
  h.grant = grant;
  absl::Duration ttl = DurationFromProto(lease.ttl());
  if (ttl <= absl::ZeroDuration()) ttl = options_.default_ttl;
  h.expires = clock_->MonotonicNow() + ttl;
  TimeToProto(clock_->Now() + ttl, h.grant.mutable_lease()->mutable_expire_time());
  sem.in_use += lease.weight();
  if (!grant.request_id().empty()) {
    by_request_[grant.request_id()] = {lease.semaphore(), lease.lease_id()};
  }
  last_token_ = std::max(last_token_, lease.fencing_token());
  sem.leases[lease.lease_id()] = std::move(h);
}

uint64_t SemaphoreTable::Acquire(const kiln::v1::AcquireRequest& request,
                                 AcquireDone done) {
  if (request.semaphore().empty()) {
    done(absl::InvalidArgumentError("semaphore: required"));
    return 0;
  }
  const int weight = request.weight() == 0 ? 1 : request.weight();
  absl::Duration ttl = request.has_ttl() ? DurationFromProto(request.ttl())
                                         : options_.default_ttl;
  if (ttl <= absl::ZeroDuration() || ttl > options_.max_ttl) {
    done(absl::InvalidArgumentError(absl::StrCat(
        "ttl: must be positive and at most ",
        absl::FormatDuration(options_.max_ttl))));
    return 0;
  }
  Sem& sem = Get(request.semaphore());
  if (weight < 0 || weight > sem.permits) {
    done(absl::InvalidArgumentError(absl::StrFormat(
        "weight: %d is not in [1, %d], the permits of semaphore \"%s\"",
        weight, sem.permits, request.semaphore())));
    return 0;
  }
  if (!request.request_id().empty()) {
    auto it = by_request_.find(request.request_id());
    if (it != by_request_.end() && it->second.first == request.semaphore()) {
      auto held = sem.leases.find(it->second.second);
      if (held != sem.leases.end()) {
        kiln::v1::AcquireResponse r;
        *r.mutable_lease() = held->second.grant.lease();
        done(std::move(r));
        return 0;
      }
    }
  }
  Waiter w;
  w.id = next_waiter_++;
  w.request = request;
  w.request.set_weight(weight);
  w.ttl = ttl;
  w.since = clock_->MonotonicNow();
  w.since_wall = clock_->Now();
  w.done = std::move(done);
  const uint64_t id = w.id;
  sem.waiters.push_back(std::move(w));
  waiter_sem_[id] = request.semaphore();
  Serve(sem);
  return waiter_sem_.count(id) ? id : 0;
}

kiln::v1::SemaphoreGrant SemaphoreTable::Grant(Sem& sem, const Waiter& w) {
  kiln::v1::SemaphoreGrant g;
  kiln::v1::SemaphoreLease* lease = g.mutable_lease();
  lease->set_semaphore(w.request.semaphore());
  lease->set_fencing_token(++last_token_);
  lease->set_lease_id(absl::StrCat(w.request.semaphore(), "-", last_token_));
  lease->set_weight(w.request.weight());
  lease->set_holder(w.request.holder());
  DurationToProto(w.ttl, lease->mutable_ttl());
  const absl::Time now = clock_->Now();
  TimeToProto(now + w.ttl, lease->mutable_expire_time());
  g.set_grant_micros(absl::ToUnixMicros(now));
  g.set_request_id(w.request.request_id());
  sem.in_use += w.request.weight();
  Held h;
  h.grant = g;
  h.expires = clock_->MonotonicNow() + w.ttl;
  sem.leases[lease->lease_id()] = std::move(h);
  if (!w.request.request_id().empty()) {
    by_request_[w.request.request_id()] = {lease->semaphore(),
                                           lease->lease_id()};
  }
  changes_.push_back(g);
  return g;
}

void SemaphoreTable::Serve(Sem& sem) {
  while (!sem.waiters.empty() &&
         sem.in_use + sem.waiters.front().request.weight() <= sem.permits) {
    Waiter w = std::move(sem.waiters.front());
    sem.waiters.pop_front();
    waiter_sem_.erase(w.id);
    const kiln::v1::SemaphoreGrant g = Grant(sem, w);
    kiln::v1::AcquireResponse r;
    *r.mutable_lease() = g.lease();
    DurationToProto(clock_->MonotonicNow() - w.since, r.mutable_waited());
    w.done(std::move(r));
  }
}

void SemaphoreTable::Cancel(uint64_t waiter) {
  auto it = waiter_sem_.find(waiter);
  if (it == waiter_sem_.end()) return;
  const std::string name = it->second;
  waiter_sem_.erase(it);
  Sem& sem = sems_[name];
  for (auto w = sem.waiters.begin(); w != sem.waiters.end(); ++w) {
    if (w->id == waiter) {
      sem.waiters.erase(w);
      break;
    }
  }
  Serve(sem);  // it may have blocked lighter waiters behind it
}

void SemaphoreTable::End(Sem& sem, std::map<std::string, Held>::iterator it,
                         const std::string& reason) {
  kiln::v1::SemaphoreGrant g = std::move(it->second.grant);
  sem.in_use -= g.lease().weight();
  g.set_end_micros(absl::ToUnixMicros(clock_->Now()));
  g.set_end_reason(reason);
  if (!g.request_id().empty()) by_request_.erase(g.request_id());
  sem.leases.erase(it);
  changes_.push_back(std::move(g));
}

absl::StatusOr<kiln::v1::RenewResponse> SemaphoreTable::Renew(
    const kiln::v1::RenewRequest& request) {
  auto s = sems_.find(request.semaphore());
  if (s == sems_.end()) {
    return absl::NotFoundError(
        absl::StrCat("semaphore: no semaphore \"", request.semaphore(), "\""));
  }
  Expire();
  Sem& sem = s->second;
  auto it = sem.leases.find(request.lease_id());
  if (it == sem.leases.end() ||
      it->second.grant.lease().fencing_token() != request.fencing_token() ||
      it->second.expires <= clock_->MonotonicNow()) {
    return absl::AbortedError(absl::StrCat(
        "lease ", request.lease_id(), " of semaphore \"", request.semaphore(),
        "\" expired or was released: stop the guarded work"));
  }
  absl::Duration ttl = request.has_ttl()
                           ? DurationFromProto(request.ttl())
                           : DurationFromProto(it->second.grant.lease().ttl());
  if (ttl <= absl::ZeroDuration() || ttl > options_.max_ttl) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ttl: must be positive and at most ",
        absl::FormatDuration(options_.max_ttl)));
  }
  Held& h = it->second;
  h.expires = clock_->MonotonicNow() + ttl;
  kiln::v1::SemaphoreLease* lease = h.grant.mutable_lease();
  DurationToProto(ttl, lease->mutable_ttl());
  TimeToProto(clock_->Now() + ttl, lease->mutable_expire_time());
  changes_.push_back(h.grant);
  kiln::v1::RenewResponse r;
  *r.mutable_lease() = *lease;
  return r;
}

kiln::v1::ReleaseResponse SemaphoreTable::Release(
    const kiln::v1::ReleaseRequest& request) {
  kiln::v1::ReleaseResponse r;
  auto s = sems_.find(request.semaphore());
  if (s == sems_.end()) return r;
  Expire();
  Sem& sem = s->second;
  auto it = sem.leases.find(request.lease_id());
  if (it == sem.leases.end() ||
      it->second.grant.lease().fencing_token() != request.fencing_token()) {
    return r;
  }
  End(sem, it, "released");
  r.set_released(true);
  Serve(sem);
  return r;
}

absl::StatusOr<kiln::v1::SemaphoreStatus> SemaphoreTable::Describe(
    const std::string& name) const {
  auto s = sems_.find(name);
  if (s == sems_.end()) {
    return absl::NotFoundError(
        absl::StrCat("semaphore: no semaphore \"", name, "\""));
  }
  kiln::v1::SemaphoreStatus out;
  out.set_semaphore(name);
  out.set_permits(s->second.permits);
  out.set_in_use(s->second.in_use);
  for (const auto& [id, h] : s->second.leases) {
    *out.add_holders() = h.grant.lease();
  }
  for (const Waiter& w : s->second.waiters) {
    kiln::v1::SemaphoreWaiter* o = out.add_waiters();
    o->set_holder(w.request.holder());
    o->set_weight(w.request.weight());
    TimeToProto(w.since_wall, o->mutable_since());
  }
  return out;
}

void SemaphoreTable::Expire() {
  const MonotonicTime now = clock_->MonotonicNow();
  for (auto& [name, sem] : sems_) {
    bool freed = false;
    for (auto it = sem.leases.begin(); it != sem.leases.end();) {
      auto next = std::next(it);
      if (it->second.expires + options_.expiry_grace <= now) {
        End(sem, it, "expired");
        freed = true;
      }
      it = next;
    }
    if (freed) Serve(sem);
  }
}

absl::optional<MonotonicTime> SemaphoreTable::NextExpiry() const {
  absl::optional<MonotonicTime> next;
  for (const auto& [name, sem] : sems_) {
    for (const auto& [id, h] : sem.leases) {
      const MonotonicTime ends = h.expires + options_.expiry_grace;
      if (!next || ends < *next) next = ends;
    }
  }
  return next;
}

std::vector<kiln::v1::SemaphoreGrant> SemaphoreTable::TakeChanges() {
  std::vector<kiln::v1::SemaphoreGrant> out;
  out.swap(changes_);
  return out;
}

int SemaphoreTable::in_use(const std::string& name) const {
  auto s = sems_.find(name);
  return s == sems_.end() ? 0 : s->second.in_use;
}

}  // namespace kiln
