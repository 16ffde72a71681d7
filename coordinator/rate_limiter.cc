#include "coordinator/rate_limiter.h"

#include <algorithm>

namespace kiln {

TokenBucket::TokenBucket(int64_t per_minute)
    : per_minute_(per_minute), level_(static_cast<double>(per_minute)) {}

void TokenBucket::Refill(MonotonicTime now) {
  if (!started_) {
    started_ = true;
    last_ = now;
    return;
  }
  if (now <= last_) return;
  const double per_sec = static_cast<double>(per_minute_) / 60.0;
  level_ = std::min(static_cast<double>(per_minute_),
                    level_ + absl::ToDoubleSeconds(now - last_) * per_sec);
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
  const double per_sec = static_cast<double>(per_minute_) / 60.0;
  return absl::Seconds((need - level_) / per_sec);
}

RateLimiter::RateLimiter(const ModelCatalog* models,
                         int64_t requests_per_minute_cap)
    : models_(models), rpm_cap_(requests_per_minute_cap) {}

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
  b.requests = TokenBucket(rpm);
  b.input = TokenBucket(itpm);
  b.output = TokenBucket(otpm);
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
