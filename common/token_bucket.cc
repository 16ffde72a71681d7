#include "common/token_bucket.h"

#include <algorithm>

namespace kiln {

TokenBucket::TokenBucket(int64_t per_minute, double time_scale)
    : per_minute_(per_minute),
      per_second_(static_cast<double>(per_minute) / 60.0 * (time_scale > 0 ? time_scale : 1)),
      level_(static_cast<double>(per_minute)) {}

void TokenBucket::Refill(MonotonicTime now) {
  if (!started_) {
    started_ = true;
    last_ = now;
    return;
  }
  if (now <= last_) return;
  level_ = std::min(static_cast<double>(per_minute_),
                    level_ + absl::ToDoubleSeconds(now - last_) * per_second_);
  last_ = now;
}

bool TokenBucket::TryTake(double amount, MonotonicTime now) {
  if (unlimited()) return true;
  Refill(now);
  const double cap = static_cast<double>(per_minute_);
  const double need = std::min(amount, cap);
  // Small epsilon: refills are computed in floating point.
  if (level_ + 1e-9 < need) return false;
  level_ -= amount;  // may go negative for oversize requests: debt
  return true;
}

absl::Duration TokenBucket::Wait(double amount, MonotonicTime now) {
  if (unlimited()) return absl::ZeroDuration();
  Refill(now);
  const double need = std::min(amount, static_cast<double>(per_minute_));
  if (level_ + 1e-9 >= need) return absl::ZeroDuration();
  return absl::Seconds((need - level_) / per_second_);
}

}  // namespace kiln
