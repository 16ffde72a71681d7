// Where asynchronous code runs its callbacks: one thread (an event loop) that
// runs posted closures in order and timers when they are due.
#ifndef KILN_COMMON_EXECUTOR_H_
#define KILN_COMMON_EXECUTOR_H_

#include <functional>

#include "absl/time/time.h"
#include "common/clock.h"

namespace kiln {

// Implementations are thread-safe: Post and RunAfter may be called from any
// thread, and every closure runs on the executor's own thread, one at a time.
class Executor {
 public:
  virtual ~Executor() = default;

  // Runs `fn` soon, after the closures posted before it.
  virtual void Post(std::function<void()> fn) = 0;

  // Runs `fn` once `delay` has passed (at once when it is not positive).
  // Timers cannot be cancelled: a closure that may be stale checks its own
  // state when it runs.
  virtual void RunAfter(absl::Duration delay, std::function<void()> fn) = 0;

  // The executor's notion of now (what RunAfter's delays count from).
  virtual MonotonicTime Now() const = 0;
};

}  // namespace kiln

#endif  // KILN_COMMON_EXECUTOR_H_
