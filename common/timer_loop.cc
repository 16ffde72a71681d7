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
    timers_.push(Timer{at, seq_++, std::move(fn)});
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
    if (timers_.top().at > now) {
      cv_.WaitWithTimeout(&mu_, timers_.top().at - now);
      continue;
    }
    std::function<void()> fn = std::move(const_cast<Timer&>(timers_.top()).fn);
    timers_.pop();
    mu_.Unlock();
    fn();
    mu_.Lock();
  }
}

}  // namespace kiln
