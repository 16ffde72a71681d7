#include "common/clock.h"

#include <time.h>

#include "absl/time/clock.h"

namespace kiln {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }

  MonotonicTime MonotonicNow() const override {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return MonotonicTime::FromEpoch(absl::DurationFromTimespec(ts));
  }
};

}  // namespace

Clock* RealClock() {
  static SystemClock* const clock = new SystemClock();
  return clock;
}

}  // namespace kiln
