#include "worker/transfer_retry.h"

#include <algorithm>
#include <random>

#include "absl/types/optional.h"

namespace kiln {

bool TransientTransferError(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded;
}

absl::Status RetryTransfer(const std::function<absl::Status()>& call, Cancellation* stop,
                           const TransferRetry& policy, int* retries) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  absl::Duration backoff = policy.first;
  absl::optional<absl::Time> give_up;
  for (;;) {
    absl::Status s = call();
    if (s.ok() || !TransientTransferError(s)) return s;
    const absl::Time now = absl::Now();
    if (!give_up) give_up = now + policy.patience;
    if (now >= *give_up) return s;
    const absl::Duration wait = std::min(backoff * jitter(rng), *give_up - now);
    if (stop != nullptr ? stop->WaitFor(wait) : (absl::SleepFor(wait), false)) return s;
    backoff = std::min(backoff * 2, policy.max);
    if (retries != nullptr) ++*retries;
  }
}

}  // namespace kiln
