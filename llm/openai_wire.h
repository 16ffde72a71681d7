// The OpenAI Chat Completions protocol (also spoken by vLLM, llama.cpp's
// server, Ollama, LM Studio and OpenRouter): POST {base}/chat/completions
// with `stream: true` and `stream_options.include_usage`; SSE chunks of
// `choices[].delta.content`, a last chunk with `usage` (cached prompt tokens
// in `usage.prompt_tokens_details.cached_tokens`), then `data: [DONE]`.
// Errors are `{"error": {"message", "type", "code"}}`.
//
// Mapping of a Prompt: the system block becomes the system message; the
// others, in order, become text parts of user messages, and repair turns'
// replies assistant messages. The prompt's prefix key is sent as
// `prompt_cache_key`.
#ifndef KILN_LLM_OPENAI_WIRE_H_
#define KILN_LLM_OPENAI_WIRE_H_

#include "llm/wire.h"

namespace kiln {

class OpenAiWire : public WireProtocol {
 public:
  std::string name() const override { return "openai"; }
  std::string path() const override { return "/chat/completions"; }
  std::vector<std::string> Headers(const std::string& api_key) const override;
  std::string RequestBody(const kiln::v1::Prompt& prompt,
                          const WireRequest& request) const override;
  std::unique_ptr<StreamDecoder> NewDecoder() const override;
  ProviderErrorBody ParseError(absl::string_view body) const override;
};

}  // namespace kiln

#endif  // KILN_LLM_OPENAI_WIRE_H_
