// The `openai` and `anthropic` providers: a WireProtocol over HttpTransport,
// each call driven by CallDriver (retries, timeouts, cancellation).
#ifndef KILN_LLM_HTTP_PROVIDER_H_
#define KILN_LLM_HTTP_PROVIDER_H_

#include <memory>
#include <string>

#include "llm/call_driver.h"
#include "llm/http_transport.h"
#include "llm/model_profile.h"
#include "llm/provider.h"
#include "common/secret.h"
#include "llm/wire.h"

namespace kiln {

struct HttpProviderOptions {
  // Without a trailing slash: "https://api.openai.com/v1",
  // "http://localhost:11434/v1" (Ollama), "https://api.anthropic.com".
  std::string base_url;
  Secret api_key;
  RetryPolicy retry;
  absl::Duration connect_timeout = absl::Seconds(10);
  // Output cap when a prompt sets none (Anthropic requires one).
  int32_t default_max_tokens = 4096;
  // The profiles (not owned; may be null): a prompt's model is a profile
  // name, sent as the profile's id for the endpoint `model_key`
  // (ModelProfile::ApiModel), with the profile's output-cap parameter and
  // sampling rules. Unknown names are sent as they are.
  const ModelCatalog* models = nullptr;
  // "openai", "anthropic", "openrouter", "moonshot", ...
  std::string model_key;
};

class HttpProvider : public Provider {
 public:
  // `transport` is not owned and may be shared by several providers.
  HttpProvider(std::unique_ptr<WireProtocol> wire, HttpProviderOptions options,
               HttpTransport* transport);
  // With a transport of its own.
  HttpProvider(std::unique_ptr<WireProtocol> wire, HttpProviderOptions options);
  ~HttpProvider() override;

  std::string name() const override { return wire_->name(); }
  std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt& prompt,
                                 StreamCallbacks callbacks) override;

 private:
  class HttpAttempt;
  std::unique_ptr<HttpTransport> owned_transport_;
  std::unique_ptr<WireProtocol> wire_;
  const HttpProviderOptions options_;
  HttpTransport* const transport_;
};

// The base URL of each protocol's public endpoint.
std::string DefaultBaseUrl(absl::string_view protocol);

// Which api_models entry an endpoint takes: "openrouter" for
// openrouter.ai, "moonshot" for api.moonshot.ai / .cn, else the protocol.
std::string ModelKeyForEndpoint(absl::string_view protocol, absl::string_view base_url);

}  // namespace kiln

#endif  // KILN_LLM_HTTP_PROVIDER_H_
