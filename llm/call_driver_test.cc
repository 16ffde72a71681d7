#include "llm/call_driver.h"

#include <deque>
#include <optional>

#include "common/mutex.h"
#include "common/timer_loop.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

// One scripted attempt: what the transport reports, run when it starts.
using Script = std::function<void(AttemptSink&)>;

class FakeAttempt : public Attempt {
 public:
  explicit FakeAttempt(int* aborts) : aborts_(aborts) {}
  void Abort() override { ++*aborts_; }

 private:
  int* aborts_;
};

class CallDriverTest : public ::testing::Test {
 protected:
  CallDriverTest() {
    policy_.initial_backoff = absl::Milliseconds(1);
    policy_.max_backoff = absl::Milliseconds(4);
    policy_.jitter_seed = 7;
  }

  // Runs a call through `scripts` (one per attempt) and waits for it.
  absl::StatusOr<LlmResult> Run(std::deque<Script> scripts,
                                std::unique_ptr<LlmCall>* call_out = nullptr,
                                std::function<void(LlmCall*)> after_start = nullptr) {
    StreamCallbacks cb;
    cb.on_first_token = [this] { events_.push_back("first_token"); };
    cb.on_delta = [this](absl::string_view d) {
      events_.push_back("delta:" + std::string(d));
    };
    cb.on_retry = [this](const absl::Status& s, absl::Duration delay) {
      retries_.emplace_back(s, delay);
    };
    cb.on_request = [this](const LlmRequestRecord& r) { requests_.push_back(r); };
    cb.on_done = [this](absl::StatusOr<LlmResult> r) {
      MutexLock l(&mu_);
      result_ = std::move(r);
      cv_.SignalAll();
    };
    auto shared = std::make_shared<std::deque<Script>>(std::move(scripts));
    std::unique_ptr<LlmCall> call = StartCall(
        &loop_, policy_, std::move(cb), [this, shared](std::shared_ptr<AttemptSink> sink) {
          ++attempts_;
          if (!shared->empty()) {
            Script s = std::move(shared->front());
            shared->pop_front();
            loop_.Post([s, sink] { s(*sink); });
          }
          return std::make_unique<FakeAttempt>(&aborts_);
        });
    if (after_start) after_start(call.get());
    if (call_out != nullptr) *call_out = std::move(call);
    MutexLock l(&mu_);
    while (!result_.has_value()) cv_.Wait(&mu_);
    return *result_;
  }

  static Script Ok(std::vector<std::string> deltas) {
    return [deltas](AttemptSink& s) {
      for (const std::string& d : deltas) s.OnText(d);
      AttemptSummary sum;
      sum.usage.input = 10;
      sum.usage.output = 3;
      sum.request_id = "req-1";
      sum.finish_reason = "stop";
      s.OnSuccess(sum);
    };
  }
  static Script Http(int status, absl::Duration retry_after = absl::Seconds(-1),
                     bool quota = false) {
    return [=](AttemptSink& s) {
      s.OnFailure(HttpAttemptError(status, "provider says no", quota, retry_after));
    };
  }

  RetryPolicy policy_;
  TimerLoop loop_;
  Mutex mu_;
  CondVar cv_;
  std::optional<absl::StatusOr<LlmResult>> result_;
  // Touched on the loop thread only until the result is in.
  std::vector<std::string> events_;
  std::vector<std::pair<absl::Status, absl::Duration>> retries_;
  std::vector<LlmRequestRecord> requests_;
  int attempts_ = 0;
  int aborts_ = 0;
};

TEST_F(CallDriverTest, StreamsDeltasAfterTheFirstTokenCallback) {
  absl::StatusOr<LlmResult> r = Run({Ok({"int ", "x;"})});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(events_, (std::vector<std::string>{"first_token", "delta:int ", "delta:x;"}));
  EXPECT_EQ(r->text, "int x;");
  EXPECT_EQ(r->usage.input, 10);
  EXPECT_EQ(r->request_id, "req-1");
  EXPECT_EQ(r->attempts, 1);
  EXPECT_GE(r->timings.total, r->timings.ttft);
}

TEST_F(CallDriverTest, RetriesA429AfterItsRetryAfter) {
  absl::StatusOr<LlmResult> r = Run({Http(429, absl::Milliseconds(20)), Ok({"a"})});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(retries_.size(), 1u);
  EXPECT_EQ(retries_[0].first.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_GE(retries_[0].second, absl::Milliseconds(20));
  EXPECT_LE(retries_[0].second, absl::Milliseconds(22));
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->rate_limited, 1);
  EXPECT_GE(r->timings.queue, absl::Milliseconds(20));
}

TEST_F(CallDriverTest, Retries5xxWithBackoff) {
  absl::StatusOr<LlmResult> r = Run({Http(500), Http(529), Http(503), Ok({"a"})});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->attempts, 4);
  ASSERT_EQ(retries_.size(), 3u);
  for (const auto& [status, delay] : retries_) {
    EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
    EXPECT_LE(delay, policy_.max_backoff);
  }
}

TEST_F(CallDriverTest, DoesNotRetryAuthBadRequestOrQuota) {
  EXPECT_EQ(Run({Http(401), Ok({"a"})}).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(attempts_, 1);
  result_.reset();
  const absl::Status quota = Run({Http(429, absl::Seconds(1), /*quota=*/true)}).status();
  EXPECT_EQ(quota.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(quota.message().find("provider says no"), absl::string_view::npos);
  EXPECT_EQ(attempts_, 2);
  EXPECT_TRUE(retries_.empty());
}

TEST_F(CallDriverTest, GivesUpAfterMaxAttempts) {
  policy_.max_attempts = 3;
  const absl::Status s =
      Run({Http(429, absl::ZeroDuration()), Http(429, absl::ZeroDuration()),
           Http(429, absl::ZeroDuration()), Ok({"never"})})
          .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(attempts_, 3);
}

TEST_F(CallDriverTest, NoRetryOnceTextWasDelivered) {
  const absl::Status s = Run({[](AttemptSink& sink) {
                                sink.OnText("partial");
                                AttemptError e;
                                e.status = absl::UnavailableError("dropped");
                                e.retryable = true;
                                sink.OnFailure(e);
                              },
                              Ok({"never"})})
                             .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(attempts_, 1);
}

TEST_F(CallDriverTest, AStalledAttemptTimesOutAndIsRetried) {
  policy_.idle_timeout = absl::Milliseconds(20);
  absl::StatusOr<LlmResult> r =
      Run({[](AttemptSink& s) { s.OnText(""); /* then nothing */ }, Ok({"b"})});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(retries_.size(), 1u);
  EXPECT_EQ(retries_[0].first.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(aborts_, 1);
  EXPECT_EQ(r->text, "b");
}

TEST_F(CallDriverTest, TotalTimeoutEndsTheCall) {
  policy_.total_timeout = absl::Milliseconds(20);
  EXPECT_EQ(Run({[](AttemptSink&) {}}).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(aborts_, 1);
}

TEST_F(CallDriverTest, CancelAbortsTheAttempt) {
  // The attempt streams one piece and then hangs until cancelled.
  const absl::Status s = Run({[](AttemptSink& sink) { sink.OnText("x"); }},
                             nullptr, [](LlmCall* call) {
                               call->Cancel();
                               call->Cancel();
                             })
                             .status();
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(aborts_, 1);
}

TEST(RetryDelay, BackoffAndRetryAfter) {
  RetryPolicy p;
  p.initial_backoff = absl::Seconds(1);
  p.max_backoff = absl::Seconds(8);
  EXPECT_EQ(RetryDelay(p, 1, absl::Seconds(-1), 0), absl::Milliseconds(500));
  EXPECT_EQ(RetryDelay(p, 3, absl::Seconds(-1), 0.999999), absl::Seconds(4) - absl::Microseconds(2));
  EXPECT_EQ(RetryDelay(p, 10, absl::Seconds(-1), 0), absl::Seconds(4));
  EXPECT_EQ(RetryDelay(p, 1, absl::Seconds(3), 0), absl::Seconds(3));
  EXPECT_EQ(RetryDelay(p, 1, absl::Seconds(3), 0.5), absl::Milliseconds(3150));
}

TEST(ParseRetryAfter, SecondsMillisecondsAndDates) {
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(ParseRetryAfter("7", "", now), absl::Seconds(7));
  EXPECT_EQ(ParseRetryAfter("7", "1500", now), absl::Milliseconds(1500));
  EXPECT_EQ(ParseRetryAfter(absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT",
                                             now + absl::Seconds(30),
                                             absl::UTCTimeZone()),
                            "", now),
            absl::Seconds(30));
  EXPECT_LT(ParseRetryAfter("", "", now), absl::ZeroDuration());
  EXPECT_LT(ParseRetryAfter("soon", "", now), absl::ZeroDuration());
}

TEST(HttpAttemptError, Classification) {
  EXPECT_TRUE(HttpAttemptError(429, "m", false, absl::Seconds(1)).retryable);
  EXPECT_TRUE(HttpAttemptError(429, "m", false, absl::Seconds(1)).rate_limited);
  EXPECT_FALSE(HttpAttemptError(429, "m", true, absl::Seconds(1)).retryable);
  EXPECT_TRUE(HttpAttemptError(502, "m", false, absl::Seconds(-1)).retryable);
  EXPECT_FALSE(HttpAttemptError(400, "m", false, absl::Seconds(-1)).retryable);
  EXPECT_EQ(HttpAttemptError(403, "m", false, absl::Seconds(-1)).status.code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(HttpAttemptError(404, "m", false, absl::Seconds(-1)).status.message(),
            "HTTP 404: m");
}

TEST_F(CallDriverTest, EveryRequestIsRecordedWithWhatItWasBilled) {
  // A 529, then a stream that drops after billing its prompt, then the
  // reply: three requests, two retried, the dropped one's prompt billed.
  Script dropped = [](AttemptSink& s) {
    AttemptError e;
    e.status = absl::UnavailableError("the stream ended before its last event");
    e.retryable = true;
    e.outcome = "dropped";
    e.http_status = 200;
    e.usage.input = 7;
    e.request_id = "req-2";
    s.OnFailure(e);
  };
  absl::StatusOr<LlmResult> r = Run({Http(529), dropped, Ok({"a"})});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->attempts, 3);
  ASSERT_EQ(requests_.size(), 3u);
  EXPECT_EQ(requests_[0].outcome, "overloaded");
  EXPECT_EQ(requests_[0].http_status, 529);
  EXPECT_TRUE(requests_[0].retried);
  EXPECT_EQ(requests_[1].outcome, "dropped");
  EXPECT_EQ(requests_[1].usage.input, 7);
  EXPECT_EQ(requests_[1].request_id, "req-2");
  EXPECT_TRUE(requests_[1].retried);
  EXPECT_EQ(requests_[2].outcome, "ok");
  EXPECT_FALSE(requests_[2].retried);
  // The call's usage is every request's.
  EXPECT_EQ(r->usage.input, 17);
  EXPECT_EQ(r->requests.size(), 3u);
}

TEST_F(CallDriverTest, AFailedCallNamesTheProvidersRequestId) {
  Script quota = [](AttemptSink& s) {
    AttemptError e = HttpAttemptError(429, "You exceeded your current quota", true,
                                      absl::Seconds(-1));
    e.request_id = "req_abc";
    s.OnFailure(e);
  };
  absl::StatusOr<LlmResult> r = Run({quota});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "HTTP 429: You exceeded your current quota (request id req_abc)");
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_FALSE(requests_[0].retried);
}

TEST(ApplyShouldRetry, TrueAndFalseOverrideOthersDoNot) {
  AttemptError e = HttpAttemptError(529, "x", false, absl::Seconds(-1));
  ApplyShouldRetry("false", &e);
  EXPECT_FALSE(e.retryable);
  ApplyShouldRetry("TRUE", &e);
  EXPECT_TRUE(e.retryable);
  ApplyShouldRetry("maybe", &e);
  EXPECT_TRUE(e.retryable);
  AttemptError c = HttpAttemptError(409, "conflict", false, absl::Seconds(-1));
  EXPECT_TRUE(c.retryable);
}

}  // namespace
}  // namespace kiln
