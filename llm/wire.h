// A provider's HTTP protocol as an adapter speaks it: what it sends and how
// it reads the stream and the errors (WireProtocol). One file per protocol:
// llm/openai_wire.h, llm/anthropic_wire.h. The server side, what
// kiln_llmsim reads and answers, is llm/sim/api_codec.h.
#ifndef KILN_LLM_WIRE_H_
#define KILN_LLM_WIRE_H_

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "kiln/v1/task.pb.h"
#include "llm/call_driver.h"
#include "llm/sse.h"

namespace kiln {

// Reads one streamed response. Subclasses fill `summary_` and set `done_`
// on the terminal event.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  // Handles one event: appends generated text to `text`; returns an error
  // for an error event or a malformed one.
  virtual absl::Status OnEvent(const SseEvent& event, std::string* text) = 0;
  // The terminal event was seen.
  bool done() const { return done_; }
  // A stream that ends here (the connection closed cleanly) holds a whole
  // reply. Anthropic: also after the final message_delta (stop_reason set)
  // without message_stop, which the official SDKs accept.
  virtual bool CompleteAtEnd() const { return done_; }
  const AttemptSummary& summary() const { return summary_; }
  // After OnEvent failed: the LlmRequestRecord outcome of the error event
  // ("overloaded", "server_error", "error").
  const std::string& error_outcome() const { return error_outcome_; }

 protected:
  AttemptSummary summary_;
  bool done_ = false;
  std::string error_outcome_ = "error";
};

// What a provider's error body says.
struct ProviderErrorBody {
  std::string message;
  std::string type;  // "rate_limit_error", "invalid_request_error", ...
  std::string code;  // OpenAI's "insufficient_quota", ...
  // A quota or billing error: retrying will not help.
  bool quota = false;
  // Anthropic's top-level "request_id" of an error body.
  std::string request_id;
};

// What a request needs beyond the prompt: the model's API id and how the
// model takes its parameters (from its ModelProfile).
struct WireRequest {
  // The model id the API knows ("claude-sonnet-5-5", "gpt-4o-2024-08-06").
  std::string model;
  // The output cap when the prompt sets none (Anthropic requires one).
  int32_t default_max_tokens = 0;
  // OpenAI: "max_tokens", or "max_completion_tokens" (reasoning models).
  std::string max_tokens_param = "max_tokens";
  // Whether temperature and top_p may be sent.
  bool sampling_params = true;
};

class WireProtocol {
 public:
  virtual ~WireProtocol() = default;
  // "openai" or "anthropic".
  virtual std::string name() const = 0;
  // Appended to the base URL.
  virtual std::string path() const = 0;
  virtual std::vector<std::string> Headers(const std::string& api_key) const = 0;
  // The streaming request for `prompt`. A prompt whose last block is an
  // assistant block asks the model to continue that text (Anthropic: a
  // prefilled assistant turn).
  virtual std::string RequestBody(const kiln::v1::Prompt& prompt,
                                  const WireRequest& request) const = 0;
  virtual std::unique_ptr<StreamDecoder> NewDecoder() const = 0;
  virtual ProviderErrorBody ParseError(absl::string_view body) const = 0;
};

// The `error` object both APIs answer with ({"error": {"message", "type",
// "code"}}): its fields, or the start of the body when it is not JSON.
// `quota` is left for the protocol to decide.
ProviderErrorBody ReadErrorObject(absl::string_view body);

}  // namespace kiln

#endif  // KILN_LLM_WIRE_H_
