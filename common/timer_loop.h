// An Executor backed by one thread with a timer heap.
#ifndef KILN_COMMON_TIMER_LOOP_H_
#define KILN_COMMON_TIMER_LOOP_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/executor.h"
#include "common/mutex.h"

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
  struct Timer {
    MonotonicTime at;
    uint64_t seq;  // FIFO among equal deadlines
    std::function<void()> fn;
    bool operator>(const Timer& o) const {
      return at != o.at ? at > o.at : seq > o.seq;
    }
  };
  void Run();

  Clock* const clock_;
  Mutex mu_;
  CondVar cv_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_
      ABSL_GUARDED_BY(mu_);
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kiln

#endif  // KILN_COMMON_TIMER_LOOP_H_
