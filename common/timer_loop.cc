#include "common/timer_loop.h"

#include <algorithm>
#include <utility>

namespace kiln {

TimerLoop::TimerLoop(Clock* clock) : clock_(clock) {
  thread_ = std::thread([this] { Run(); });
}

TimerLoop::~TimerLoop() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void TimerLoop::Post(std::function<void()> fn) {
  RunAfter(absl::ZeroDuration(), std::move(fn));
}

void TimerLoop::RunAfter(absl::Duration delay, std::function<void()> fn) {
  const MonotonicTime at = clock_->MonotonicNow() + std::max(delay, absl::ZeroDuration());
  {
    MutexLock l(&mu_);
    timers_.Push(at, std::move(fn));
  }
  cv_.SignalAll();
}

void TimerLoop::Run() {
  MutexLock l(&mu_);
  while (!stop_) {
    if (timers_.empty()) {
      cv_.Wait(&mu_);
      continue;
    }
    const MonotonicTime now = clock_->MonotonicNow();
    if (timers_.next() > now) {
      cv_.WaitWithTimeout(&mu_, timers_.next() - now);
      continue;
    }
    std::vector<std::function<void()>> due = timers_.PopDue(now);
    mu_.Unlock();
    for (auto& fn : due) fn();
    mu_.Lock();
  }
}

}  // namespace kiln
