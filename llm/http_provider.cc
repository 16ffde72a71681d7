#include "llm/http_provider.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "llm/sse.h"

namespace kiln {

// One HTTP request of a call.
class HttpProvider::HttpAttempt : public HttpHandler {
 public:
  HttpAttempt(const HttpProvider* owner, std::shared_ptr<AttemptSink> sink)
      : owner_(owner), sink_(std::move(sink)), decoder_(owner->wire_->NewDecoder()) {}

  void OnResponse(int status, const std::map<std::string, std::string>& headers) override {
    status_ = status;
    auto get = [&](const char* name) -> std::string {
      auto it = headers.find(name);
      return it == headers.end() ? "" : it->second;
    };
    retry_after_ = ParseRetryAfter(get("retry-after"), get("retry-after-ms"), absl::Now());
    request_id_ = get("x-request-id");
    if (request_id_.empty()) request_id_ = get("request-id");
    sink_->OnActivity();
  }

  void OnBody(absl::string_view bytes) override {
    if (failed_) return;
    sink_->OnActivity();
    if (status_ != 200) {
      if (error_body_.size() < 65536) error_body_.append(bytes.data(), bytes.size());
      return;
    }
    parser_.Feed(bytes, [this](SseEvent e) {
      if (failed_) return;
      std::string text;
      absl::Status s = decoder_->OnEvent(e, &text);
      if (!s.ok()) {
        failed_ = true;
        owner_->transport_->Abort(id_);
        AttemptError err;
        err.status = absl::Status(s.code(), owner_->options_.api_key.Scrub(s.message()));
        err.retryable = s.code() == absl::StatusCode::kUnavailable;
        sink_->OnFailure(std::move(err));
        return;
      }
      if (!text.empty()) sink_->OnText(text);
    });
  }

  void OnDone(absl::Status status) override {
    if (failed_) return;
    const Secret& key = owner_->options_.api_key;
    if (!status.ok()) {
      AttemptError e;
      e.status = absl::Status(status.code(), key.Scrub(status.message()));
      e.retryable = true;
      sink_->OnFailure(std::move(e));
      return;
    }
    if (status_ != 200) {
      const ProviderErrorBody body = owner_->wire_->ParseError(error_body_);
      sink_->OnFailure(HttpAttemptError(
          status_, key.Scrub(body.message.empty() ? "(no message)" : body.message),
          body.quota, retry_after_));
      return;
    }
    if (!decoder_->done()) {
      AttemptError e;
      e.status = absl::UnavailableError("the stream ended before its last event");
      e.retryable = true;
      sink_->OnFailure(std::move(e));
      return;
    }
    AttemptSummary s = decoder_->summary();
    if (s.request_id.empty()) s.request_id = request_id_;
    sink_->OnSuccess(std::move(s));
  }

  void set_id(uint64_t id) { id_ = id; }

 private:
  const HttpProvider* owner_;
  std::shared_ptr<AttemptSink> sink_;
  std::unique_ptr<StreamDecoder> decoder_;
  SseParser parser_;
  uint64_t id_ = 0;
  int status_ = 0;
  absl::Duration retry_after_ = absl::Seconds(-1);
  std::string request_id_;
  std::string error_body_;
  bool failed_ = false;
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
  req.body = wire_->RequestBody(prompt, options_.default_max_tokens);
  req.connect_timeout = options_.connect_timeout;
  auto shared_req = std::make_shared<const HttpRequest>(std::move(req));
  return StartCall(transport_, options_.retry, std::move(callbacks),
                   [this, shared_req](std::shared_ptr<AttemptSink> sink) {
                     auto attempt = std::make_shared<HttpAttempt>(this, std::move(sink));
                     const uint64_t id = transport_->Send(*shared_req, attempt);
                     attempt->set_id(id);
                     return std::make_unique<TransferHandle>(transport_, id);
                   });
}

std::string DefaultBaseUrl(absl::string_view protocol) {
  return protocol == "anthropic" ? "https://api.anthropic.com"
                                 : "https://api.openai.com/v1";
}

}  // namespace kiln
