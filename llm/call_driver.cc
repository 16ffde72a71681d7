#include "llm/call_driver.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/optional.h"

namespace kiln {
namespace {

class Driver;

// The sink handed to one attempt: forwards to the driver while that attempt
// is the current one.
class AttemptProxy : public AttemptSink {
 public:
  AttemptProxy(std::weak_ptr<Driver> driver, int attempt)
      : driver_(std::move(driver)), attempt_(attempt) {}
  void OnActivity() override;
  void OnText(absl::string_view delta) override;
  void OnSuccess(AttemptSummary summary) override;
  void OnFailure(AttemptError error) override;

 private:
  std::weak_ptr<Driver> driver_;
  const int attempt_;
};

class Driver : public std::enable_shared_from_this<Driver> {
 public:
  Driver(Executor* executor, RetryPolicy policy, StreamCallbacks cb,
         AttemptFactory factory)
      : executor_(executor),
        policy_(policy),
        cb_(std::move(cb)),
        factory_(std::move(factory)),
        rng_(policy.jitter_seed != 0 ? policy.jitter_seed
                                     : std::random_device{}()) {}

  void Begin() {
    // Alive until on_done has run, whether or not the caller keeps the
    // handle.
    self_ = shared_from_this();
    start_ = executor_->Now();
    std::weak_ptr<Driver> weak = weak_from_this();
    executor_->RunAfter(policy_.total_timeout, [weak] {
      if (auto d = weak.lock()) {
        d->Finish(absl::DeadlineExceededError(absl::StrCat(
            "LLM call did not finish within ",
            absl::FormatDuration(d->policy_.total_timeout))));
      }
    });
    Launch();
  }

  void Cancel() {
    std::weak_ptr<Driver> weak = weak_from_this();
    executor_->Post([weak] {
      if (auto d = weak.lock()) d->Finish(absl::CancelledError("LLM call cancelled"));
    });
  }

  void Activity(int attempt) {
    if (attempt != attempt_ || done_) return;
    last_activity_ = executor_->Now();
  }

  void Text(int attempt, absl::string_view delta) {
    if (attempt != attempt_ || done_) return;
    last_activity_ = executor_->Now();
    if (delta.empty()) return;
    if (!delivered_) {
      delivered_ = true;
      first_token_ = last_activity_;
      if (cb_.on_first_token) cb_.on_first_token();
    }
    result_.text.append(delta.data(), delta.size());
    if (cb_.on_delta) cb_.on_delta(delta);
  }

  void Success(int attempt, AttemptSummary s) {
    if (attempt != attempt_ || done_) return;
    attempt_handle_.reset();
    Record(RequestRecord(IsCutOff(s.finish_reason) ? "cut_off" : "ok", s.http_status,
                         s.http_request_id, s.request_id, s.usage));
    result_.usage += s.usage;
    result_.request_id = std::move(s.request_id);
    result_.http_request_id = std::move(s.http_request_id);
    result_.finish_reason = std::move(s.finish_reason);
    const MonotonicTime now = executor_->Now();
    result_.timings.queue = sent_ - start_;
    result_.timings.ttft = delivered_ ? first_token_ - sent_ : now - sent_;
    result_.timings.total = now - start_;
    Finish(std::move(result_));
  }

  void Failure(int attempt, AttemptError e) {
    if (attempt != attempt_ || done_) return;
    attempt_handle_.reset();
    if (e.rate_limited) ++result_.rate_limited;
    result_.usage += e.usage;
    // The status the call ends with; none: it is tried again.
    absl::optional<absl::Status> end;
    if (!e.retryable || delivered_) {
      end = e.status;
    } else if (result_.attempts >= policy_.max_attempts) {
      end = Exhausted(e);
    } else if (e.retry_after > policy_.max_retry_after) {
      end = absl::ResourceExhaustedError(absl::StrCat(
          e.status.message(), " (Retry-After ", absl::FormatDuration(e.retry_after),
          " is beyond the limit of ", absl::FormatDuration(policy_.max_retry_after), ")"));
    }
    LlmRequestRecord rec = RequestRecord(e.outcome, e.http_status, e.request_id,
                                         e.response_id, e.usage);
    rec.error = std::string(e.status.message());
    rec.retried = !end.has_value();
    Record(std::move(rec));
    if (end) {
      Finish(WithRequestId(*end, e.request_id));
      return;
    }
    std::uniform_real_distribution<double> unit(0, 1);
    const absl::Duration delay =
        RetryDelay(policy_, result_.attempts, e.retry_after, unit(rng_));
    if (cb_.on_retry) cb_.on_retry(e.status, delay);
    std::weak_ptr<Driver> weak = weak_from_this();
    const int expected = attempt_;
    executor_->RunAfter(delay, [weak, expected] {
      if (auto d = weak.lock()) {
        if (d->attempt_ == expected && !d->done_) d->Launch();
      }
    });
  }

 private:
  // A failed call names the provider's request id, for support.
  static absl::Status WithRequestId(const absl::Status& s, const std::string& id) {
    if (id.empty()) return s;
    return absl::Status(s.code(), absl::StrCat(s.message(), " (request id ", id, ")"));
  }

  static LlmRequestRecord RequestRecord(std::string outcome, int http_status,
                                        std::string request_id, std::string response_id,
                                        const TokenCounts& usage) {
    LlmRequestRecord rec;
    rec.outcome = std::move(outcome);
    rec.http_status = http_status;
    rec.request_id = std::move(request_id);
    rec.response_id = std::move(response_id);
    rec.usage = usage;
    return rec;
  }

  void Record(LlmRequestRecord rec) {
    result_.requests.push_back(rec);
    if (cb_.on_request) cb_.on_request(result_.requests.back());
  }

  static absl::Status Exhausted(const AttemptError& e) {
    const std::string msg = absl::StrCat("gave up after retries: ", e.status.message());
    if (e.rate_limited) return absl::ResourceExhaustedError(msg);
    return absl::Status(e.status.code(), msg);
  }

  void Launch() {
    ++attempt_;
    ++result_.attempts;
    sent_ = last_activity_ = executor_->Now();
    attempt_handle_ =
        factory_(std::make_shared<AttemptProxy>(weak_from_this(), attempt_));
    ScheduleIdleCheck(sent_ + policy_.idle_timeout);
  }

  void ScheduleIdleCheck(MonotonicTime at) {
    std::weak_ptr<Driver> weak = weak_from_this();
    const int attempt = attempt_;
    executor_->RunAfter(at - executor_->Now(), [weak, attempt] {
      auto d = weak.lock();
      if (!d || d->attempt_ != attempt || d->done_ || !d->attempt_handle_) return;
      const MonotonicTime deadline = d->last_activity_ + d->policy_.idle_timeout;
      if (d->executor_->Now() < deadline) {
        d->ScheduleIdleCheck(deadline);
        return;
      }
      d->attempt_handle_->Abort();
      AttemptError e;
      e.status = absl::DeadlineExceededError(absl::StrCat(
          "no data from the provider for ",
          absl::FormatDuration(d->policy_.idle_timeout)));
      e.retryable = true;
      e.outcome = "stalled";
      d->Failure(attempt, std::move(e));
    });
  }

  void Finish(absl::StatusOr<LlmResult> r) {
    if (done_) return;
    done_ = true;
    if (attempt_handle_) {
      attempt_handle_->Abort();
      attempt_handle_.reset();
    }
    if (!r.ok()) {
      // A status of its own for the caller's thread: absl::Status shares its
      // message by a reference count that Debian's (uninstrumented) libabsl
      // updates where ThreadSanitizer cannot see it.
      r = absl::Status(r.status().code(), std::string(r.status().message()));
    }
    StreamCallbacks cb = std::move(cb_);
    cb_ = StreamCallbacks();
    std::shared_ptr<Driver> self = std::move(self_);
    if (cb.on_done) cb.on_done(std::move(r));
  }

  Executor* const executor_;
  const RetryPolicy policy_;
  StreamCallbacks cb_;
  AttemptFactory factory_;
  std::mt19937_64 rng_;

  int attempt_ = 0;
  std::unique_ptr<Attempt> attempt_handle_;
  bool delivered_ = false;
  bool done_ = false;
  MonotonicTime start_, sent_, first_token_, last_activity_;
  LlmResult result_;
  std::shared_ptr<Driver> self_;
};

void AttemptProxy::OnActivity() {
  if (auto d = driver_.lock()) d->Activity(attempt_);
}
void AttemptProxy::OnText(absl::string_view delta) {
  if (auto d = driver_.lock()) d->Text(attempt_, delta);
}
void AttemptProxy::OnSuccess(AttemptSummary summary) {
  if (auto d = driver_.lock()) d->Success(attempt_, std::move(summary));
}
void AttemptProxy::OnFailure(AttemptError error) {
  if (auto d = driver_.lock()) d->Failure(attempt_, std::move(error));
}

// What the caller holds. Keeps the driver alive until it finishes.
class CallHandle : public LlmCall {
 public:
  explicit CallHandle(std::shared_ptr<Driver> d) : driver_(std::move(d)) {}
  void Cancel() override { driver_->Cancel(); }

 private:
  std::shared_ptr<Driver> driver_;
};

}  // namespace

std::unique_ptr<LlmCall> StartCall(Executor* executor, const RetryPolicy& policy,
                                   StreamCallbacks callbacks,
                                   AttemptFactory factory) {
  auto driver = std::make_shared<Driver>(executor, policy, std::move(callbacks),
                                         std::move(factory));
  std::shared_ptr<Driver> keep = driver;
  executor->Post([keep] { keep->Begin(); });
  return std::make_unique<CallHandle>(std::move(driver));
}

absl::Duration RetryDelay(const RetryPolicy& policy, int retry,
                          absl::Duration retry_after, double unit) {
  if (retry_after >= absl::ZeroDuration()) {
    return retry_after + retry_after * (0.1 * unit);
  }
  const double factor = std::pow(policy.multiplier, std::max(0, retry - 1));
  const absl::Duration base =
      std::min(policy.max_backoff, policy.initial_backoff * factor);
  return base / 2 + (base / 2) * unit;
}

AttemptError HttpAttemptError(int http_status, absl::string_view message,
                              bool quota, absl::Duration retry_after) {
  AttemptError e;
  e.retry_after = retry_after;
  e.http_status = http_status;
  if (http_status == 429) {
    e.outcome = "rate_limited";
  } else if (http_status == 529) {
    e.outcome = "overloaded";
  } else if (http_status >= 500) {
    e.outcome = "server_error";
  }
  const std::string msg = absl::StrCat("HTTP ", http_status, ": ", message);
  if (quota) {
    e.status = absl::FailedPreconditionError(msg);
    e.outcome = "error";
    return e;
  }
  switch (http_status) {
    case 400:
    case 413:
    case 422:
      e.status = absl::InvalidArgumentError(msg);
      break;
    case 401:
      e.status = absl::UnauthenticatedError(msg);
      break;
    case 402:
      e.status = absl::FailedPreconditionError(msg);
      break;
    case 403:
      e.status = absl::PermissionDeniedError(msg);
      break;
    case 404:
      e.status = absl::NotFoundError(msg);
      break;
    case 408:
      e.status = absl::DeadlineExceededError(msg);
      e.retryable = true;
      break;
    case 409:  // a lock timeout or conflict: the SDKs retry it
      e.status = absl::AbortedError(msg);
      e.retryable = true;
      break;
    case 429:
      e.status = absl::ResourceExhaustedError(msg);
      e.retryable = true;
      e.rate_limited = true;
      break;
    default:
      if (http_status >= 500) {
        e.status = absl::UnavailableError(msg);
        e.retryable = true;
      } else {
        e.status = absl::UnknownError(msg);
      }
  }
  return e;
}

void ApplyShouldRetry(absl::string_view should_retry, AttemptError* error) {
  const std::string v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(should_retry));
  if (v == "true") {
    error->retryable = true;
  } else if (v == "false") {
    error->retryable = false;
  }
}

absl::Duration ParseRetryAfter(absl::string_view retry_after,
                               absl::string_view retry_after_ms, absl::Time now) {
  double ms = 0;
  if (absl::SimpleAtod(absl::StripAsciiWhitespace(retry_after_ms), &ms) && ms >= 0) {
    return absl::Milliseconds(ms);
  }
  const absl::string_view ra = absl::StripAsciiWhitespace(retry_after);
  double secs = 0;
  if (absl::SimpleAtod(ra, &secs) && secs >= 0) return absl::Seconds(secs);
  absl::Time when;
  std::string err;
  if (!ra.empty() &&
      absl::ParseTime("%a, %d %b %Y %H:%M:%S GMT", std::string(ra), &when, &err)) {
    return std::max(absl::ZeroDuration(), when - now);
  }
  return absl::Seconds(-1);
}

}  // namespace kiln
