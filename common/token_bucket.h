// A token bucket refilled continuously, as LLM providers enforce their
// per-minute limits. Used by the coordinator's pacing and by the simulated
// provider, so both agree on what a limit means. Not thread-safe; time is
// passed in.
#ifndef KILN_COMMON_TOKEN_BUCKET_H_
#define KILN_COMMON_TOKEN_BUCKET_H_

#include <cstdint>

#include "absl/time/time.h"
#include "common/clock.h"

namespace kiln {

// A bucket of `per_minute` units refilled continuously (per_minute / 60
// per second); starts full. per_minute <= 0 means unlimited.
//
// `time_scale` > 1: the limit belongs to a provider simulated that many
// times faster than the clock passed in (kiln_llmsim --time_scale), so the
// bucket refills that many times faster, while it holds no more than
// `per_minute` units, as the provider's does.
class TokenBucket {
 public:
  TokenBucket() = default;
  explicit TokenBucket(int64_t per_minute, double time_scale = 1);

  bool unlimited() const { return per_minute_ <= 0; }
  // Takes `amount` if available at `now`. An amount larger than the whole
  // bucket is admitted when the bucket is full (it could never fit).
  bool TryTake(double amount, MonotonicTime now);
  // How long until `amount` can be taken (zero when it can now).
  absl::Duration Wait(double amount, MonotonicTime now);

 private:
  void Refill(MonotonicTime now);
  int64_t per_minute_ = 0;
  double per_second_ = 0;  // refill rate on the caller's clock
  double level_ = 0;
  MonotonicTime last_;
  bool started_ = false;
};

}  // namespace kiln

#endif  // KILN_COMMON_TOKEN_BUCKET_H_
