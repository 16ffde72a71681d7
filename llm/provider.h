// The provider interface: stream one LLM request (DESIGN.md, "LLM layer").
//
// Implementations: `sim` (llm/sim/in_process_provider.h, in-process, the embedded
// default), `openai` and `anthropic` (llm/http_provider.h over libcurl).
// Each retries 429s, 5xx and dropped or stalled streams itself (CallDriver)
// and reports what the retries cost.
#ifndef KILN_LLM_PROVIDER_H_
#define KILN_LLM_PROVIDER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kiln/v1/task.pb.h"
#include "llm/model_profile.h"

namespace kiln {

// Where a request's time went.
struct LlmTimings {
  // From Start to sending the attempt that succeeded (backoff, 429 waits,
  // failed attempts).
  absl::Duration queue;
  // From sending that attempt to its first streamed token.
  absl::Duration ttft;
  // From Start to the last byte.
  absl::Duration total;
};

// How one HTTP request of a call ended, and what it was billed.
struct LlmRequestRecord {
  // "ok", "cut_off", "rate_limited", "overloaded", "server_error",
  // "dropped", "stalled" or "error" (kiln.v1.LlmRequest.outcome).
  std::string outcome;
  int http_status = 0;  // 0: no response (or the simulated provider)
  // The provider's request id from the response headers (x-request-id,
  // request-id) and the id in the body ("chatcmpl-...", "msg_...").
  std::string request_id;
  std::string response_id;
  // What the provider reported for this request; a request that failed
  // mid-stream may have billed its prompt.
  TokenCounts usage;
  // Why it failed; empty for "ok" and "cut_off".
  std::string error;
  // Another request followed it (a retry or a continuation).
  bool retried = false;
};

// Why generation stopped, as each API says it: the reply hit its output
// cap (OpenAI "length", Anthropic "max_tokens").
bool IsCutOff(absl::string_view finish_reason);

struct LlmResult {
  std::string text;
  // Billed tokens of every request of the call (retried and continuation
  // requests included).
  TokenCounts usage;
  LlmTimings timings;
  // The provider's ids of the last request, for support tickets: from its
  // body ("chatcmpl-...", "msg_...") and from its headers (x-request-id /
  // request-id).
  std::string request_id;
  std::string http_request_id;
  // Why generation stopped: "stop", "end_turn", "stop_sequence", ... A
  // Provider made by MakeProvider never ends a call with a cut-off reply
  // (IsCutOff): it continues it, or fails the call (OUT_OF_RANGE).
  std::string finish_reason;
  // HTTP requests made, including the ones retried; of them, answered 429;
  // replies that were cut off at their cap and continued.
  int attempts = 0;
  int rate_limited = 0;
  int cut_off = 0;
  // Every request, in order.
  std::vector<LlmRequestRecord> requests;
};

// Callbacks of one call. They run on the provider's thread, one at a time,
// and must not block.
struct StreamCallbacks {
  // Once, when the first token of the (successful) attempt streams.
  std::function<void()> on_first_token;
  // Each piece of generated text, in order.
  std::function<void(absl::string_view delta)> on_delta;
  // Before each retry: what failed and how long the call waits.
  std::function<void(const absl::Status& error, absl::Duration delay)> on_retry;
  // When each HTTP request ends, successful or not, before on_retry or
  // on_done: how it ended and what it was billed. The only account of a
  // call that fails.
  std::function<void(const LlmRequestRecord& request)> on_request;
  // Exactly once, last. CANCELLED after Cancel().
  std::function<void(absl::StatusOr<LlmResult>)> on_done;
};

// A call in progress.
class LlmCall {
 public:
  virtual ~LlmCall() = default;
  // Stops the call: the request is aborted (its connection closed) and
  // on_done gets CANCELLED, unless it already ran. Thread-safe; idempotent.
  // Dropping the handle does not cancel.
  virtual void Cancel() = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;

  // "sim", "openai" or "anthropic".
  virtual std::string name() const = 0;

  // Starts streaming `prompt`. Thread-safe. Errors (after retries) arrive
  // through on_done: INVALID_ARGUMENT (400, a bad request),
  // UNAUTHENTICATED (401), PERMISSION_DENIED (403), NOT_FOUND (404, e.g. an
  // unknown model), FAILED_PRECONDITION (quota or billing: never retried),
  // RESOURCE_EXHAUSTED (still rate limited), UNAVAILABLE (5xx, network,
  // dropped stream), DEADLINE_EXCEEDED (idle or total timeout), OUT_OF_RANGE
  // (the reply was cut off at its output cap and could not be continued;
  // only from a continuing provider). Messages carry the provider's own
  // error text and never a key.
  virtual std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt& prompt,
                                         StreamCallbacks callbacks) = 0;
};

// Starts `prompt` and waits for it; deltas and the first token are ignored.
absl::StatusOr<LlmResult> CompleteBlocking(Provider& provider,
                                           const kiln::v1::Prompt& prompt);

}  // namespace kiln

#endif  // KILN_LLM_PROVIDER_H_
