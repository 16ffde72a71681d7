// A Clock that only moves when told to: tests and simulations advance it
// explicitly, so timing-dependent logic runs deterministically and instantly.
#ifndef KILN_COMMON_FAKE_CLOCK_H_
#define KILN_COMMON_FAKE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace kiln {

// Thread-safe. Starts at wall time `start` (default 2026-01-01T00:00:00Z)
// and monotonic time epoch + 1 hour (so subtracting small durations from the
// first reading stays positive).
class FakeClock final : public Clock {
 public:
  FakeClock();
  explicit FakeClock(absl::Time start);

  absl::Time Now() const override;
  MonotonicTime MonotonicNow() const override;

  // Moves both wall and monotonic time forward by `d`. `d` must not be
  // negative (CHECK): monotonic time never goes backwards.
  void Advance(absl::Duration d);

  // Sets wall time only (it may go backwards, as NTP can make it);
  // monotonic time is unchanged.
  void SetWallTime(absl::Time t);

 private:
  mutable Mutex mu_;
  absl::Time wall_ ABSL_GUARDED_BY(mu_);
  MonotonicTime mono_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln

#endif  // KILN_COMMON_FAKE_CLOCK_H_
