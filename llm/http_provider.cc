#include "llm/http_provider.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "llm/response_reader.h"

namespace kiln {

// One HTTP request of a call: the transport's handler around a
// ResponseReader.
class HttpProvider::HttpAttempt : public HttpHandler {
 public:
  HttpAttempt(const HttpProvider* owner, std::shared_ptr<AttemptSink> sink,
              std::string model_note)
      : owner_(owner),
        sink_(std::move(sink)),
        reader_(owner->wire_.get(), &owner->options_.api_key, sink_.get(),
                std::move(model_note)) {}

  void OnResponse(int status, const std::map<std::string, std::string>& headers) override {
    reader_.OnResponse(status, headers, absl::Now());
  }

  void OnBody(absl::string_view bytes) override {
    if (!reader_.OnBody(bytes)) owner_->transport_->Abort(id_);
  }

  void OnDone(absl::Status status) override { reader_.OnDone(status); }

  void set_id(uint64_t id) { id_ = id; }

 private:
  const HttpProvider* owner_;
  std::shared_ptr<AttemptSink> sink_;
  ResponseReader reader_;
  uint64_t id_ = 0;
};

namespace {
class TransferHandle : public Attempt {
 public:
  TransferHandle(HttpTransport* t, uint64_t id) : t_(t), id_(id) {}
  void Abort() override { t_->Abort(id_); }

 private:
  HttpTransport* t_;
  uint64_t id_;
};
}  // namespace

HttpProvider::HttpProvider(std::unique_ptr<WireProtocol> wire,
                           HttpProviderOptions options, HttpTransport* transport)
    : wire_(std::move(wire)), options_(std::move(options)), transport_(transport) {}

HttpProvider::HttpProvider(std::unique_ptr<WireProtocol> wire,
                           HttpProviderOptions options)
    : owned_transport_(std::make_unique<HttpTransport>()),
      wire_(std::move(wire)),
      options_(std::move(options)),
      transport_(owned_transport_.get()) {}

HttpProvider::~HttpProvider() {
  // The transport's thread runs calls' callbacks, which use this provider:
  // stop it first.
  owned_transport_.reset();
}

std::unique_ptr<LlmCall> HttpProvider::Start(const kiln::v1::Prompt& prompt,
                                             StreamCallbacks callbacks) {
  HttpRequest req;
  req.url = absl::StrCat(absl::StripSuffix(options_.base_url, "/"), wire_->path());
  req.headers = wire_->Headers(options_.api_key.Reveal());
  // W3C Trace Context: the provider (or a proxy in front of it) may join
  // the trace; kiln_llmsim does.
  if (!prompt.traceparent().empty()) {
    req.headers.push_back(absl::StrCat("traceparent: ", prompt.traceparent()));
  }
  WireRequest wr;
  wr.model = prompt.model();
  wr.default_max_tokens = options_.default_max_tokens;
  std::string model_note;
  if (const ModelProfile* p =
          options_.models != nullptr ? options_.models->Find(prompt.model()) : nullptr) {
    wr.model = p->ApiModel(options_.model_key);
    wr.max_tokens_param = p->max_tokens_param;
    wr.sampling_params = p->sampling_params;
    model_note = absl::StrCat("model profile \"", p->name, "\" was sent as \"",
                              wr.model, "\"; its api_model can be set with --models");
  } else {
    model_note = absl::StrCat("model \"", wr.model, "\" is no profile of Kiln's; sent as is");
  }
  req.body = wire_->RequestBody(prompt, wr);
  req.connect_timeout = options_.connect_timeout;
  auto shared_req = std::make_shared<const HttpRequest>(std::move(req));
  return StartCall(transport_, options_.retry, std::move(callbacks),
                   [this, shared_req, model_note](std::shared_ptr<AttemptSink> sink) {
                     auto attempt =
                         std::make_shared<HttpAttempt>(this, std::move(sink), model_note);
                     const uint64_t id = transport_->Send(*shared_req, attempt);
                     attempt->set_id(id);
                     return std::make_unique<TransferHandle>(transport_, id);
                   });
}

std::string DefaultBaseUrl(absl::string_view protocol) {
  return protocol == "anthropic" ? "https://api.anthropic.com"
                                 : "https://api.openai.com/v1";
}

std::string ModelKeyForEndpoint(absl::string_view protocol, absl::string_view base_url) {
  const std::string url = absl::AsciiStrToLower(base_url);
  if (absl::StrContains(url, "openrouter.ai")) return "openrouter";
  if (absl::StrContains(url, "api.moonshot.")) return "moonshot";
  return std::string(protocol);
}

}  // namespace kiln
