// Builds the configured Provider: `sim` (in-process, the default), `openai`
// (any OpenAI-compatible endpoint) or `anthropic`.
#ifndef KILN_LLM_PROVIDER_FACTORY_H_
#define KILN_LLM_PROVIDER_FACTORY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "llm/call_driver.h"
#include "llm/model_profile.h"
#include "llm/provider.h"
#include "llm/sim/in_process_provider.h"

namespace kiln {

struct ProviderConfig {
  // "sim", "openai" or "anthropic".
  std::string kind = "sim";
  // Empty: the provider's public endpoint. For local servers, e.g.
  // "http://localhost:11434/v1" (Ollama) or "http://localhost:8000/v1" (vLLM).
  std::string base_url;
  // Name of the environment variable (or secrets-file entry) holding the key.
  // Empty: OPENAI_API_KEY or ANTHROPIC_API_KEY.
  std::string api_key_env;
  // A file of NAME=value lines to read the key from instead of the
  // environment.
  std::string secrets_file;
  RetryPolicy retry;
  // Which of a profile's api_models ids is sent ("anthropic", "openai",
  // "openrouter", "moonshot", ...). Empty: from the base URL
  // (ModelKeyForEndpoint), else the kind.
  std::string model_key;
  // Continuations of a reply cut off at its output cap before the call
  // fails (ContinuingProvider).
  int max_continuations = 3;
  // For `sim`.
  SimProviderOptions sim;
};

// INVALID_ARGUMENT for an unknown kind; NOT_FOUND when the key of a public
// endpoint is missing (a custom base URL may need none). `models` is not
// owned and must outlive the provider. Every provider it makes continues
// cut-off replies (ContinuingProvider): none ends a call with one.
absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config,
                                                       const ModelCatalog* models);

}  // namespace kiln

#endif  // KILN_LLM_PROVIDER_FACTORY_H_
