#include "worker/fake_permits.h"

#include <algorithm>
#include <vector>

namespace kiln {

class FakePermits::Grant : public PermitGrant {
 public:
  Grant(FakePermits* owner, std::shared_ptr<Holder> h)
      : owner_(owner), h_(std::move(h)) {}
  ~Grant() override { Release(); }
  bool lost() const override {
    MutexLock l(&owner_->mu_);
    return h_->lost;
  }
  absl::Duration waited() const override { return absl::ZeroDuration(); }
  void Release() override {
    if (released_) return;
    released_ = true;
    owner_->Return(h_);
  }

 private:
  FakePermits* const owner_;
  std::shared_ptr<Holder> h_;
  bool released_ = false;
};

absl::StatusOr<std::unique_ptr<PermitGrant>> FakePermits::Acquire(
    const PermitRequest& request, Cancellation* cancel,
    std::function<void()> on_lost) {
  if (cancel != nullptr) {
    cancel->OnCancel([this] {
      MutexLock l(&mu_);
      cv_.SignalAll();
    });
  }
  MutexLock l(&mu_);
  const uint64_t ticket = next_ticket_++;
  queue_.push_back(ticket);
  const int weight = std::max(1, request.weight);
  while (!(queue_.front() == ticket && in_use_ + weight <= permits_)) {
    if (cancel != nullptr && cancel->cancelled()) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
      cv_.SignalAll();
      mu_.Unlock();
      cancel->ClearOnCancel();
      mu_.Lock();
      return absl::CancelledError(cancel->reason());
    }
    cv_.Wait(&mu_);
  }
  queue_.pop_front();
  in_use_ += weight;
  max_in_use_ = std::max(max_in_use_, in_use_);
  grants_++;
  auto h = std::make_shared<Holder>();
  h->on_lost = std::move(on_lost);
  h->weight = weight;
  held_[h.get()] = h;
  cv_.SignalAll();
  mu_.Unlock();
  if (cancel != nullptr) cancel->ClearOnCancel();
  mu_.Lock();
  return std::unique_ptr<PermitGrant>(new Grant(this, h));
}

void FakePermits::Return(const std::shared_ptr<Holder>& h) {
  MutexLock l(&mu_);
  if (held_.erase(h.get()) == 0) return;
  in_use_ -= h->weight;
  cv_.SignalAll();
}

void FakePermits::LoseAll() {
  std::vector<std::shared_ptr<Holder>> lost;
  {
    MutexLock l(&mu_);
    for (auto& [p, h] : held_) {
      h->lost = true;
      in_use_ -= h->weight;
      lost.push_back(h);
    }
    held_.clear();
    cv_.SignalAll();
  }
  for (auto& h : lost) {
    if (h->on_lost) h->on_lost();
  }
}

int FakePermits::max_in_use() const {
  MutexLock l(&mu_);
  return max_in_use_;
}

int64_t FakePermits::grants() const {
  MutexLock l(&mu_);
  return grants_;
}

bool FakePermits::WaitForGrants(int64_t n) {
  MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (grants_ < n && absl::Now() < deadline) cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
  return grants_ >= n;
}

}  // namespace kiln
