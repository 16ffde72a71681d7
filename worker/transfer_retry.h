// Blob transfers that outlast a coordinator restart. An attempt's paid work
// (the generated file, a check's output, the diagnostics) is uploaded
// again and again while the coordinator cannot be reached, until it
// answers, the attempt is cancelled (the coordinator, back, says the lease
// is no longer this worker's), or the patience runs out.
#ifndef KILN_WORKER_TRANSFER_RETRY_H_
#define KILN_WORKER_TRANSFER_RETRY_H_

#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "worker/sandbox.h"

namespace kiln {

struct TransferRetry {
  // Jittered exponential backoff between attempts.
  absl::Duration first = absl::Milliseconds(100);
  absl::Duration max = absl::Seconds(5);
  // Retries stop this long after the first failure.
  absl::Duration patience = absl::Minutes(10);
};

// Whether `s` means "the coordinator cannot be reached now" (UNAVAILABLE,
// DEADLINE_EXCEEDED), as opposed to an answer.
bool TransientTransferError(const absl::Status& s);

// Calls `call` until it returns OK or a non-transient error, `stop` (may be
// null) is cancelled, or the patience passes; returns its last status.
// `retries`, if not null, is incremented per repeated call.
absl::Status RetryTransfer(const std::function<absl::Status()>& call, Cancellation* stop,
                           const TransferRetry& policy, int* retries = nullptr);

// The same for a call with a value.
template <typename T>
absl::StatusOr<T> RetryTransferOr(const std::function<absl::StatusOr<T>()>& call,
                                  Cancellation* stop, const TransferRetry& policy) {
  absl::StatusOr<T> out;
  absl::Status s = RetryTransfer(
      [&] {
        out = call();
        return out.status();
      },
      stop, policy);
  if (!s.ok()) return s;
  return out;
}

}  // namespace kiln

#endif  // KILN_WORKER_TRANSFER_RETRY_H_
