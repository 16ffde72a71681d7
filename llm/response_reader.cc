#include "llm/response_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln {

ResponseReader::ResponseReader(const WireProtocol* wire, const Secret* key,
                               AttemptSink* sink, std::string model_note)
    : wire_(wire),
      key_(key),
      sink_(sink),
      model_note_(std::move(model_note)),
      decoder_(wire->NewDecoder()) {}

void ResponseReader::OnResponse(int status,
                                const std::map<std::string, std::string>& headers,
                                absl::Time now) {
  status_ = status;
  auto get = [&](const char* name) -> std::string {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  };
  retry_after_ = ParseRetryAfter(get("retry-after"), get("retry-after-ms"), now);
  should_retry_ = get("x-should-retry");
  // OpenAI's x-request-id, Anthropic's request-id: what support asks for.
  request_id_ = get("x-request-id");
  if (request_id_.empty()) request_id_ = get("request-id");
  sink_->OnActivity();
}

void ResponseReader::Annotate(AttemptError* e) const {
  e->http_status = status_;
  e->request_id = request_id_;
  e->response_id = decoder_->summary().request_id;
  // What message_start (say) reported: the provider bills a prompt it read
  // even when the stream then failed.
  e->usage = decoder_->summary().usage;
}

void ResponseReader::Fail(AttemptError e) {
  failed_ = true;
  Annotate(&e);
  sink_->OnFailure(std::move(e));
}

bool ResponseReader::OnBody(absl::string_view bytes) {
  if (failed_) return false;
  sink_->OnActivity();
  if (status_ != 200) {
    if (error_body_.size() < 65536) error_body_.append(bytes.data(), bytes.size());
    return true;
  }
  parser_.Feed(bytes, [this](SseEvent e) {
    if (failed_) return;
    std::string text;
    absl::Status s = decoder_->OnEvent(e, &text);
    if (!s.ok()) {
      AttemptError err;
      err.status = absl::Status(s.code(), key_->Scrub(s.message()));
      err.retryable = s.code() == absl::StatusCode::kUnavailable;
      err.outcome = decoder_->error_outcome();
      Fail(std::move(err));
      return;
    }
    if (!text.empty()) sink_->OnText(text);
  });
  return !failed_;
}

void ResponseReader::OnDone(const absl::Status& transport_status) {
  if (failed_) return;
  if (!transport_status.ok()) {
    AttemptError e;
    e.status = absl::Status(transport_status.code(), key_->Scrub(transport_status.message()));
    e.retryable = true;
    e.outcome = "dropped";
    ApplyShouldRetry(should_retry_, &e);
    return Fail(std::move(e));
  }
  if (status_ != 200) {
    const ProviderErrorBody body = wire_->ParseError(error_body_);
    std::string message = body.message.empty() ? "(no message)" : body.message;
    if (status_ == 404 && !model_note_.empty()) {
      absl::StrAppend(&message, " (", model_note_, ")");
    }
    AttemptError e = HttpAttemptError(status_, key_->Scrub(message), body.quota, retry_after_);
    ApplyShouldRetry(should_retry_, &e);
    if (request_id_.empty()) request_id_ = body.request_id;
    return Fail(std::move(e));
  }
  if (!decoder_->CompleteAtEnd()) {
    AttemptError e;
    e.status = absl::UnavailableError("the stream ended before its last event");
    e.retryable = true;
    e.outcome = "dropped";
    return Fail(std::move(e));
  }
  failed_ = true;  // reported: nothing more
  AttemptSummary s = decoder_->summary();
  s.http_request_id = request_id_;
  s.http_status = status_;
  if (s.request_id.empty()) s.request_id = request_id_;
  sink_->OnSuccess(std::move(s));
}

}  // namespace kiln
