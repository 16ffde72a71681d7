// A Provider that never hands back a cut-off reply as a finished one. A
// reply that stops at its output cap (OpenAI finish_reason "length",
// Anthropic stop_reason "max_tokens", the simulator's own "length") is
// continued: the same prompt with the partial reply as the start of the
// assistant turn (prefill: Anthropic and the simulator), or followed by an
// instruction to go on (OpenAI Chat Completions, which has no prefill), with
// the cap raised to the model's maximum output. The pieces stream to the
// caller as one reply. If it is still cut off after `max_continuations`, the
// call fails with OUT_OF_RANGE "output cut off at N tokens (<reason>)".
//
// Thread-safe, as its inner provider.
#ifndef KILN_LLM_CONTINUING_PROVIDER_H_
#define KILN_LLM_CONTINUING_PROVIDER_H_

#include <memory>
#include <string>

#include "llm/model_profile.h"
#include "llm/provider.h"

namespace kiln {

struct ContinuationOptions {
  // Continuation requests after the first cut-off reply; 0 fails at once.
  int max_continuations = 3;
  // Whether the provider continues a trailing assistant block (Anthropic's
  // prefill) rather than needing an instruction.
  bool prefill = true;
};

class ContinuingProvider : public Provider {
 public:
  // `models` (not owned, may be null) gives each model's maximum output.
  ContinuingProvider(std::unique_ptr<Provider> inner, const ModelCatalog* models,
                     ContinuationOptions options);

  std::string name() const override { return inner_->name(); }
  std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt& prompt,
                                 StreamCallbacks callbacks) override;

 private:
  class Call;
  std::unique_ptr<Provider> inner_;
  const ModelCatalog* const models_;
  const ContinuationOptions options_;
};

// Joins a continuation to the reply so far. Without prefill a model may open
// a new code fence although the partial reply's is still open: that line
// is dropped.
std::string JoinContinuation(absl::string_view partial, absl::string_view piece,
                             bool prefill);

}  // namespace kiln

#endif  // KILN_LLM_CONTINUING_PROVIDER_H_
