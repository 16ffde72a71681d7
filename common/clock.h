// Time behind an interface so that logic never reads the system clock
// directly and tests drive time with a FakeClock instead of sleeping.
#ifndef KILN_COMMON_CLOCK_H_
#define KILN_COMMON_CLOCK_H_

#include <cstdint>

#include "absl/time/time.h"

namespace kiln {

// A point on a monotonic clock: it never goes backwards and is unrelated to
// wall time (it ignores NTP steps and daylight saving). Use it for leases,
// timeouts and durations; use wall time (absl::Time) only for what users see
// and for what is stored across restarts.
class MonotonicTime {
 public:
  // The clock's epoch (an unspecified moment before the process started).
  constexpr MonotonicTime() = default;
  static constexpr MonotonicTime FromEpoch(absl::Duration since_epoch) {
    return MonotonicTime(since_epoch);
  }
  static constexpr MonotonicTime Infinite() {
    return MonotonicTime(absl::InfiniteDuration());
  }

  constexpr absl::Duration SinceEpoch() const { return since_epoch_; }

  MonotonicTime& operator+=(absl::Duration d) {
    since_epoch_ += d;
    return *this;
  }
  MonotonicTime& operator-=(absl::Duration d) {
    since_epoch_ -= d;
    return *this;
  }
  friend MonotonicTime operator+(MonotonicTime t, absl::Duration d) {
    return t += d;
  }
  friend MonotonicTime operator-(MonotonicTime t, absl::Duration d) {
    return t -= d;
  }
  friend absl::Duration operator-(MonotonicTime a, MonotonicTime b) {
    return a.since_epoch_ - b.since_epoch_;
  }
  friend bool operator==(MonotonicTime a, MonotonicTime b) {
    return a.since_epoch_ == b.since_epoch_;
  }
  friend bool operator!=(MonotonicTime a, MonotonicTime b) { return !(a == b); }
  friend bool operator<(MonotonicTime a, MonotonicTime b) {
    return a.since_epoch_ < b.since_epoch_;
  }
  friend bool operator<=(MonotonicTime a, MonotonicTime b) { return !(b < a); }
  friend bool operator>(MonotonicTime a, MonotonicTime b) { return b < a; }
  friend bool operator>=(MonotonicTime a, MonotonicTime b) { return !(a < b); }

 private:
  constexpr explicit MonotonicTime(absl::Duration d) : since_epoch_(d) {}
  absl::Duration since_epoch_ = absl::ZeroDuration();
};

// Source of wall and monotonic time.
//
// Implementations are thread-safe. Code takes a `Clock*` it does not own;
// the clock must outlive it.
class Clock {
 public:
  virtual ~Clock() = default;

  // Wall-clock time (UTC). May jump backwards or forwards.
  virtual absl::Time Now() const = 0;

  // Monotonic time. Never decreases between two calls.
  virtual MonotonicTime MonotonicNow() const = 0;
};

// The process-wide real clock (absl::Now and CLOCK_MONOTONIC). Never null;
// never destroyed.
Clock* RealClock();

}  // namespace kiln

#endif  // KILN_COMMON_CLOCK_H_
