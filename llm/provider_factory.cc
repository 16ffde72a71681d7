#include "llm/provider_factory.h"

#include "absl/strings/str_cat.h"
#include "llm/anthropic_wire.h"
#include "llm/continuing_provider.h"
#include "llm/http_provider.h"
#include "llm/openai_wire.h"
#include "common/secret.h"

namespace kiln {

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const ProviderConfig& config,
                                                       const ModelCatalog* models) {
  ContinuationOptions cont;
  cont.max_continuations = config.max_continuations;
  if (config.kind == "sim") {
    SimProviderOptions o = config.sim;
    o.retry = config.retry;
    cont.prefill = true;
    return std::unique_ptr<Provider>(std::make_unique<ContinuingProvider>(
        std::make_unique<SimProvider>(models, o), models, cont));
  }
  if (config.kind != "openai" && config.kind != "anthropic") {
    return absl::InvalidArgumentError(absl::StrCat(
        "provider: unknown \"", config.kind, "\" (one of sim, openai, anthropic)"));
  }
  const bool openai = config.kind == "openai";
  HttpProviderOptions o;
  o.base_url = config.base_url.empty() ? DefaultBaseUrl(config.kind) : config.base_url;
  o.retry = config.retry;
  o.models = models;
  o.model_key = !config.model_key.empty() ? config.model_key
                                          : ModelKeyForEndpoint(config.kind, o.base_url);
  const std::string env = !config.api_key_env.empty()
                              ? config.api_key_env
                              : (openai ? "OPENAI_API_KEY" : "ANTHROPIC_API_KEY");
  absl::StatusOr<Secret> key = LoadSecret(env, config.secrets_file);
  if (key.ok()) {
    o.api_key = *std::move(key);
  } else if (config.base_url.empty() || !config.api_key_env.empty() ||
             !config.secrets_file.empty()) {
    // The public endpoints always need a key; so does one named explicitly.
    return absl::NotFoundError(absl::StrCat(
        "the ", config.kind, " provider needs an API key: ", key.status().message()));
  }
  std::unique_ptr<WireProtocol> wire;
  if (openai) {
    wire = std::make_unique<OpenAiWire>();
  } else {
    wire = std::make_unique<AnthropicWire>();
  }
  // Chat Completions has no assistant prefill: OpenAI continues with an
  // instruction; Anthropic from the partial reply itself.
  cont.prefill = !openai;
  return std::unique_ptr<Provider>(std::make_unique<ContinuingProvider>(
      std::make_unique<HttpProvider>(std::move(wire), o), models, cont));
}

}  // namespace kiln
