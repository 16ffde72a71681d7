// Ctrl-C for the kiln command: SIGINT and SIGTERM are blocked in every
// thread and taken by one thread with sigwait, so the callback may lock and
// call into gRPC. The first signal runs the current callback (stop the
// embedded cluster, detach from a remote batch); the second exits at once
// with 130.
//
// Thread-safe. Get() must be called before any other thread starts (the
// mask is inherited).
#ifndef KILN_CLI_SIGNALS_H_
#define KILN_CLI_SIGNALS_H_

#include <atomic>
#include <functional>

#include "common/mutex.h"

namespace kiln {
namespace cli {

class Signals {
 public:
  static Signals& Get();

  // What the next signal runs (null: nothing); runs at once when a signal
  // already came.
  void OnInterrupt(std::function<void()> fn);
  bool interrupted() const { return count_.load() > 0; }

 private:
  Signals();

  Mutex mu_;
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> count_{0};
};

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_SIGNALS_H_
