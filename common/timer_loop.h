// An Executor backed by one thread with a timer heap.
#ifndef KILN_COMMON_TIMER_LOOP_H_
#define KILN_COMMON_TIMER_LOOP_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/executor.h"
#include "common/mutex.h"
#include "common/timer_queue.h"

namespace kiln {

class TimerLoop : public Executor {
 public:
  // `clock` is not owned (RealClock() in production). Starts the thread.
  explicit TimerLoop(Clock* clock = RealClock());
  // Stops the thread; closures not yet run are dropped.
  ~TimerLoop() override;

  TimerLoop(const TimerLoop&) = delete;
  TimerLoop& operator=(const TimerLoop&) = delete;

  void Post(std::function<void()> fn) override;
  void RunAfter(absl::Duration delay, std::function<void()> fn) override;
  MonotonicTime Now() const override { return clock_->MonotonicNow(); }

 private:
  void Run();

  Clock* const clock_;
  Mutex mu_;
  CondVar cv_;
  TimerQueue timers_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kiln

#endif  // KILN_COMMON_TIMER_LOOP_H_
