// The Anthropic Messages protocol: POST {base}/v1/messages with
// `x-api-key` and `anthropic-version: 2023-06-01`; `cache_control`
// breakpoints (at most 4) on stable blocks; SSE events message_start (usage
// with input_tokens, cache_creation_input_tokens, cache_read_input_tokens),
// content_block_start, content_block_delta (text_delta), content_block_stop,
// message_delta (stop_reason, output_tokens), message_stop, ping and error.
// Errors are `{"type": "error", "error": {"type", "message"}}`.
//
// Mapping of a Prompt: system blocks become the `system` array; the others,
// in order, become text blocks of user turns, repair replies assistant
// turns; the blocks CacheBreakpoints picks carry cache_control.
#ifndef KILN_LLM_ANTHROPIC_WIRE_H_
#define KILN_LLM_ANTHROPIC_WIRE_H_

#include "llm/wire.h"

namespace kiln {

class AnthropicWire : public WireProtocol {
 public:
  std::string name() const override { return "anthropic"; }
  std::string path() const override { return "/v1/messages"; }
  std::vector<std::string> Headers(const std::string& api_key) const override;
  std::string RequestBody(const kiln::v1::Prompt& prompt,
                          const WireRequest& request) const override;
  std::unique_ptr<StreamDecoder> NewDecoder() const override;
  ProviderErrorBody ParseError(absl::string_view body) const override;
};

}  // namespace kiln

#endif  // KILN_LLM_ANTHROPIC_WIRE_H_
