// The life of one LLM call over its attempts, shared by every provider:
// retries of 429s, 5xx, network errors and dropped or stalled streams with
// jittered exponential backoff that honours Retry-After; no retry of
// 400/401/403/404 or quota errors, nor once text has been delivered; idle
// and total timeouts; cancellation; timings and the first-token callback.
//
// A provider supplies an AttemptFactory that sends one HTTP request (or one
// simulated one) and reports what happened to an AttemptSink. Everything
// runs on one Executor thread.
#ifndef KILN_LLM_CALL_DRIVER_H_
#define KILN_LLM_CALL_DRIVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/executor.h"
#include "llm/provider.h"

namespace kiln {

struct RetryPolicy {
  // Attempts in all, the first included.
  int max_attempts = 6;
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration max_backoff = absl::Seconds(30);
  double multiplier = 2;
  // A Retry-After longer than this ends the call (RESOURCE_EXHAUSTED).
  absl::Duration max_retry_after = absl::Minutes(2);
  // An attempt that receives nothing for this long fails (retryably).
  absl::Duration idle_timeout = absl::Seconds(60);
  // The whole call, retries included.
  absl::Duration total_timeout = absl::Minutes(10);
  // Seeds the jitter; 0 draws a seed per call.
  uint64_t jitter_seed = 0;
};

// How one attempt failed.
struct AttemptError {
  // Code as documented on Provider::Start; the message is the provider's.
  absl::Status status;
  bool retryable = false;
  // Answered 429.
  bool rate_limited = false;
  // The provider's Retry-After; negative when it gave none.
  absl::Duration retry_after = absl::Seconds(-1);
  // LlmRequestRecord.outcome: "rate_limited", "overloaded", "server_error",
  // "dropped", "stalled" or "error".
  std::string outcome = "error";
  int http_status = 0;
  // What the stream had reported billing before it failed (Anthropic's
  // message_start usage, say); zero when nothing was reported.
  TokenCounts usage;
  std::string request_id;   // from the response headers
  std::string response_id;  // from the body
};

// How one attempt succeeded.
struct AttemptSummary {
  TokenCounts usage;
  // The id in the body ("chatcmpl-...", "msg_...").
  std::string request_id;
  // From the response headers (x-request-id, request-id).
  std::string http_request_id;
  int http_status = 0;
  std::string finish_reason;
};

// What a transport reports about one attempt, on the executor's thread.
// Reports about an attempt that was aborted or superseded are ignored.
class AttemptSink {
 public:
  virtual ~AttemptSink() = default;
  // Bytes arrived (keep-alives too): resets the idle timeout.
  virtual void OnActivity() = 0;
  virtual void OnText(absl::string_view delta) = 0;
  // Terminal, one of the two.
  virtual void OnSuccess(AttemptSummary summary) = 0;
  virtual void OnFailure(AttemptError error) = 0;
};

// One attempt in flight.
class Attempt {
 public:
  virtual ~Attempt() = default;
  // Stops the attempt and frees its connection; reports nothing more.
  // Called on the executor's thread.
  virtual void Abort() = 0;
};

using AttemptFactory =
    std::function<std::unique_ptr<Attempt>(std::shared_ptr<AttemptSink>)>;

// Starts a call: the first attempt is made on `executor` at once. Returns
// the handle the provider gives its caller.
std::unique_ptr<LlmCall> StartCall(Executor* executor, const RetryPolicy& policy,
                                   StreamCallbacks callbacks,
                                   AttemptFactory factory);

// The delay before retry number `retry` (1 for the first retry): Retry-After
// plus up to 10% when the provider gave one, otherwise exponential backoff
// with equal jitter. `unit` is a uniform draw in [0, 1).
absl::Duration RetryDelay(const RetryPolicy& policy, int retry,
                          absl::Duration retry_after, double unit);

// The error for an HTTP status and the provider's own error type and
// message. 408, 409, 429 and 5xx (529 included) are retryable, except quota
// and billing errors (`quota` true), which map to FAILED_PRECONDITION. As
// the official SDKs do, the provider's `x-should-retry` header, when
// "true" or "false", overrides that (ApplyShouldRetry).
AttemptError HttpAttemptError(int http_status, absl::string_view message,
                              bool quota, absl::Duration retry_after);

// Applies an `x-should-retry: true|false` header; other values change
// nothing.
void ApplyShouldRetry(absl::string_view should_retry, AttemptError* error);

// Parses Retry-After (delay-seconds or an HTTP date, relative to `now`) and
// retry-after-ms; negative when absent or unreadable. retry-after-ms wins.
absl::Duration ParseRetryAfter(absl::string_view retry_after,
                               absl::string_view retry_after_ms, absl::Time now);

}  // namespace kiln

#endif  // KILN_LLM_CALL_DRIVER_H_
