#include "llm/rate_limiter.h"

#include <algorithm>

namespace kiln {

RateLimiter::RateLimiter(const ModelCatalog* models,
                         int64_t requests_per_minute_cap, double time_scale)
    : models_(models), rpm_cap_(requests_per_minute_cap), time_scale_(time_scale) {}

RateLimiter::Buckets& RateLimiter::For(const std::string& model) {
  auto it = buckets_.find(model);
  if (it != buckets_.end()) return it->second;
  Buckets b;
  int64_t rpm = 0, itpm = 0, otpm = 0;
  if (const ModelProfile* p = models_->Find(model)) {
    rpm = p->requests_per_minute;
    itpm = p->input_tokens_per_minute;
    otpm = p->output_tokens_per_minute;
  }
  if (rpm_cap_ > 0) rpm = rpm > 0 ? std::min(rpm, rpm_cap_) : rpm_cap_;
  b.requests = TokenBucket(rpm, time_scale_);
  b.input = TokenBucket(itpm, time_scale_);
  b.output = TokenBucket(otpm, time_scale_);
  return buckets_.emplace(model, b).first->second;
}

bool RateLimiter::TryAdmit(const std::string& model, const RequestCost& cost,
                           MonotonicTime now) {
  Buckets& b = For(model);
  if (Wait(model, cost, now) > absl::ZeroDuration()) return false;
  b.requests.TryTake(1, now);
  b.input.TryTake(static_cast<double>(cost.input_tokens), now);
  b.output.TryTake(static_cast<double>(cost.output_tokens), now);
  return true;
}

absl::Duration RateLimiter::Wait(const std::string& model,
                                 const RequestCost& cost, MonotonicTime now) {
  Buckets& b = For(model);
  return std::max({b.requests.Wait(1, now),
                   b.input.Wait(static_cast<double>(cost.input_tokens), now),
                   b.output.Wait(static_cast<double>(cost.output_tokens), now)});
}

}  // namespace kiln
