#include "coordinator/lease_table.h"

#include <algorithm>

#include "common/proto_time.h"

namespace kiln {

void LeaseTable::AddSession(const std::string& session_id, int slots) {
  SessionSlots s;
  s.slots = std::max(1, slots);
  sessions_[session_id] = s;
}

void LeaseTable::RemoveSession(const std::string& session_id) { sessions_.erase(session_id); }

const SessionSlots* LeaseTable::Slots(const std::string& session_id) const {
  auto it = sessions_.find(session_id);
  return it == sessions_.end() ? nullptr : &it->second;
}

void LeaseTable::Count(const LeaseRec& l, int sign) {
  auto s = sessions_.find(l.session_id);
  if (s == sessions_.end()) return;
  if (l.llm_slot) s->second.assigned += sign;
  s->second.leases += sign;
}

void LeaseTable::Grant(const std::string& task_id, LeaseRec lease) {
  Count(lease, +1);
  heap_.push({lease.expires, task_id});
  leases_[task_id] = std::move(lease);
}

const LeaseRec* LeaseTable::Find(const std::string& task_id) const {
  auto it = leases_.find(task_id);
  return it == leases_.end() ? nullptr : &it->second;
}

bool LeaseTable::IsCurrent(const std::string& task_id, int64_t attempt, int64_t epoch,
                           const std::string& worker_id) const {
  const LeaseRec* l = Find(task_id);
  return l != nullptr && l->attempt == attempt && (epoch < 0 || l->epoch == epoch) &&
         l->worker_id == worker_id;
}

void LeaseTable::Renew(const std::string& task_id, MonotonicTime expires) {
  auto it = leases_.find(task_id);
  if (it == leases_.end()) return;
  it->second.expires = expires;
  heap_.push({expires, task_id});
}

void LeaseTable::Rebind(const std::string& task_id, const std::string& session_id,
                        MonotonicTime expires) {
  auto it = leases_.find(task_id);
  if (it == leases_.end()) return;
  Count(it->second, -1);
  it->second.session_id = session_id;
  Count(it->second, +1);
  Renew(task_id, expires);
}

void LeaseTable::FreeLlmSlot(const std::string& task_id) {
  auto it = leases_.find(task_id);
  if (it == leases_.end() || !it->second.llm_slot) return;
  auto s = sessions_.find(it->second.session_id);
  if (s != sessions_.end()) s->second.assigned--;
  it->second.llm_slot = false;
}

void LeaseTable::RecordProgress(const std::string& task_id, const kiln::v1::Progress& p) {
  auto it = leases_.find(task_id);
  if (it == leases_.end()) return;
  LeaseRec& l = it->second;
  if (p.has_usage()) {
    l.spent = p.usage();
    l.spent_cost_usd = p.cost_usd();
    l.spent_uncached_cost_usd = p.uncached_cost_usd();
    l.request_open = p.request_open();
    l.output_tokens_so_far = 0;  // of the request now open, if any
  }
  l.output_tokens_so_far = std::max(l.output_tokens_so_far, p.output_tokens_so_far());
}

absl::optional<LeaseRec> LeaseTable::End(const std::string& task_id) {
  auto it = leases_.find(task_id);
  if (it == leases_.end()) return absl::nullopt;
  LeaseRec l = std::move(it->second);
  leases_.erase(it);
  Count(l, -1);
  return l;
}

std::vector<std::string> LeaseTable::TakeExpired(MonotonicTime now) {
  std::vector<std::string> out;
  while (!heap_.empty() && heap_.top().first <= now) {
    const auto [at, task] = heap_.top();
    heap_.pop();
    auto it = leases_.find(task);
    if (it == leases_.end() || it->second.expires != at) continue;
    out.push_back(task);
  }
  return out;
}

absl::optional<MonotonicTime> LeaseTable::NextExpiry() const {
  if (heap_.empty()) return absl::nullopt;
  return heap_.top().first;
}

std::vector<std::string> LeaseTable::TasksOf(const std::string& worker_id) const {
  std::vector<std::string> out;
  for (const auto& [task, l] : leases_) {
    if (l.worker_id == worker_id) out.push_back(task);
  }
  return out;
}

kiln::v1::Lease LeaseToProto(const std::string& task_id, const LeaseRec& l, absl::Time now,
                             MonotonicTime monotonic_now) {
  kiln::v1::Lease lease;
  lease.set_task_id(task_id);
  lease.set_attempt(l.attempt);
  lease.set_worker_id(l.worker_id);
  lease.set_epoch(l.epoch);
  TimeToProto(now + (l.expires - monotonic_now), lease.mutable_expire_time());
  return lease;
}

}  // namespace kiln
