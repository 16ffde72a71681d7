// Per-model limits on requests, input tokens and output tokens per minute, as
// continuous token buckets. The coordinator paces the fleet with it (so
// workers do not set off a 429 storm) and the simulated provider enforces its
// limits with it, so both agree. Not thread-safe; time is passed in.
#ifndef KILN_LLM_RATE_LIMITER_H_
#define KILN_LLM_RATE_LIMITER_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/token_bucket.h"
#include "llm/model_profile.h"

namespace kiln {

// One request's demand on a model's limits.
struct RequestCost {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

class RateLimiter {
 public:
  // Limits per model from the catalog (profile limits), tightened by
  // `requests_per_minute_cap` when positive. `time_scale`: the provider is
  // simulated that many times faster than the clock (TokenBucket).
  explicit RateLimiter(const ModelCatalog* models,
                       int64_t requests_per_minute_cap = 0, double time_scale = 1);

  // Admits one request to `model` at `now` (taking from all three buckets)
  // or, when any bucket is short, takes nothing and returns false.
  bool TryAdmit(const std::string& model, const RequestCost& cost,
                MonotonicTime now);
  // How long until TryAdmit could succeed.
  absl::Duration Wait(const std::string& model, const RequestCost& cost,
                      MonotonicTime now);

 private:
  struct Buckets {
    TokenBucket requests, input, output;
  };
  Buckets& For(const std::string& model);

  const ModelCatalog* models_;
  int64_t rpm_cap_;
  double time_scale_;
  std::map<std::string, Buckets> buckets_;
};

}  // namespace kiln

#endif  // KILN_LLM_RATE_LIMITER_H_
