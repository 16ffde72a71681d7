#include "common/fake_clock.h"

#include <cstdlib>

#include "absl/base/internal/raw_logging.h"

namespace kiln {

FakeClock::FakeClock()
    : FakeClock(absl::FromCivil(absl::CivilSecond(2026, 1, 1, 0, 0, 0),
                                absl::UTCTimeZone())) {}

FakeClock::FakeClock(absl::Time start)
    : wall_(start), mono_(MonotonicTime::FromEpoch(absl::Hours(1))) {}

absl::Time FakeClock::Now() const {
  MutexLock lock(&mu_);
  return wall_;
}

MonotonicTime FakeClock::MonotonicNow() const {
  MutexLock lock(&mu_);
  return mono_;
}

void FakeClock::Advance(absl::Duration d) {
  ABSL_RAW_CHECK(d >= absl::ZeroDuration(), "FakeClock::Advance: negative");
  MutexLock lock(&mu_);
  wall_ += d;
  mono_ += d;
}

void FakeClock::SetWallTime(absl::Time t) {
  MutexLock lock(&mu_);
  wall_ = t;
}

}  // namespace kiln
