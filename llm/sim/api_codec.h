// The server side of the providers' HTTP protocols, as kiln_llmsim speaks
// them: requests read into a Prompt (with the cache points each API
// implies), and a SimAnswer written back as a response body, a timed stream
// plan or an error, in each API's own shapes. The adapters' side is
// llm/wire.h.
#ifndef KILN_LLM_SIM_API_CODEC_H_
#define KILN_LLM_SIM_API_CODEC_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kiln/v1/task.pb.h"
#include "llm/sim/simulated_model.h"

namespace kiln {

// INVALID_ARGUMENT "<field>: <why>", for a request kiln_llmsim rejects.
absl::Status FieldError(absl::string_view field, absl::string_view why);

// A request as kiln_llmsim reads it.
struct ApiRequest {
  kiln::v1::Prompt prompt;
  std::vector<int> cache_points;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  // OpenAI: the field that set the output cap ("max_tokens" or
  // "max_completion_tokens"; empty: none).
  std::string max_tokens_field;
};

// The timed pieces of a streamed answer: `head` goes out at the first token,
// chunk_events[i] with answer.chunks[i], `tail` when the answer is done.
struct StreamPlan {
  std::vector<std::string> head;
  std::vector<std::string> chunk_events;
  std::vector<std::string> tail;
};

// An HTTP error as kiln_llmsim answers it.
struct ApiError {
  int http_status = 500;
  std::string body;
  std::map<std::string, std::string> headers;
};

// OpenAI Chat Completions. INVALID_ARGUMENT names the offending field.
absl::StatusOr<ApiRequest> ParseOpenAiRequest(absl::string_view body);
std::string OpenAiResponseBody(const SimAnswer& answer, const std::string& model,
                               int64_t created);
StreamPlan OpenAiStreamPlan(const SimAnswer& answer, const std::string& model,
                            int64_t created, bool include_usage);
ApiError OpenAiError(int http_status, absl::string_view message,
                     absl::string_view type, absl::string_view code);

// Anthropic Messages. INVALID_ARGUMENT names the offending field.
absl::StatusOr<ApiRequest> ParseAnthropicRequest(absl::string_view body);
std::string AnthropicResponseBody(const SimAnswer& answer, const std::string& model);
StreamPlan AnthropicStreamPlan(const SimAnswer& answer, const std::string& model);
ApiError AnthropicError(int http_status, absl::string_view type,
                        absl::string_view message);

}  // namespace kiln

#endif  // KILN_LLM_SIM_API_CODEC_H_
