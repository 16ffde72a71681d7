// The adapters' reading of the real APIs' responses, from byte-exact
// recordings of both providers' published formats (llm/testdata/wire/),
// fed whole and split at every size: streams, cut-off replies, reasoning
// usage, a stream without message_stop, gateway padding (CRLF, comments,
// "data:" without a space), mid-stream errors and error bodies.
#include "llm/response_reader.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "llm/anthropic_wire.h"
#include "llm/openai_wire.h"

namespace kiln {
namespace {

std::string Fixture(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* ws = std::getenv("TEST_WORKSPACE");
  const std::string path = std::string(srcdir ? srcdir : ".") + "/" +
                           (ws ? ws : "") + "/llm/testdata/wire/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Sink : AttemptSink {
  std::string text;
  int activity = 0;
  std::optional<AttemptSummary> ok;
  std::optional<AttemptError> err;
  int ends = 0;
  void OnActivity() override { ++activity; }
  void OnText(absl::string_view d) override { text.append(d.data(), d.size()); }
  void OnSuccess(AttemptSummary s) override {
    ok = std::move(s);
    ++ends;
  }
  void OnFailure(AttemptError e) override {
    err = std::move(e);
    ++ends;
  }
};

struct Response {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  absl::Status transport = absl::OkStatus();
};

// Feeds `r` in pieces of `split` bytes (0: all at once).
void Feed(const WireProtocol& wire, const Response& r, size_t split, Sink* sink,
          const std::string& note = "") {
  Secret key("sk-test-secret");
  ResponseReader reader(&wire, &key, sink, note);
  reader.OnResponse(r.status, r.headers, absl::UnixEpoch());
  const size_t step = split == 0 ? r.body.size() + 1 : split;
  for (size_t i = 0; i < r.body.size(); i += step) {
    if (!reader.OnBody(absl::string_view(r.body).substr(i, step))) break;
  }
  reader.OnDone(r.transport);
}

const std::vector<size_t> kSplits = {0, 1, 2, 3, 5, 7, 13, 64, 500};

TEST(ResponseReader, OpenAiStreamWithUsageAtAnySplit) {
  Response r;
  r.headers = {{"x-request-id", "req_5f2b0c1e9a"}};
  r.body = Fixture("openai_stream.sse");
  for (size_t split : kSplits) {
    Sink s;
    Feed(OpenAiWire(), r, split, &s);
    ASSERT_TRUE(s.ok.has_value()) << split;
    EXPECT_EQ(s.ends, 1);
    EXPECT_EQ(s.text, "```python\ndef add(a, b):\n    return a + b\n```\n") << split;
    EXPECT_EQ(s.ok->finish_reason, "stop");
    EXPECT_EQ(s.ok->usage.input, 2130 - 1920);
    EXPECT_EQ(s.ok->usage.cache_read, 1920);
    EXPECT_EQ(s.ok->usage.output, 18);
    // Both ids: the body's and the one support asks for.
    EXPECT_EQ(s.ok->request_id, "chatcmpl-CZk2r8mJ0vXq3GZsY7wQfTnHbLd1e");
    EXPECT_EQ(s.ok->http_request_id, "req_5f2b0c1e9a");
    EXPECT_EQ(s.ok->http_status, 200);
  }
}

TEST(ResponseReader, OpenAiLengthIsReportedAsCutOff) {
  Response r;
  r.body = Fixture("openai_length.sse");
  for (size_t split : kSplits) {
    Sink s;
    Feed(OpenAiWire(), r, split, &s);
    ASSERT_TRUE(s.ok.has_value());
    EXPECT_EQ(s.ok->finish_reason, "length");
    EXPECT_TRUE(IsCutOff(s.ok->finish_reason));
    EXPECT_EQ(s.text, "```python\ndef add(a, b):\n    return");
  }
}

TEST(ResponseReader, OpenAiReasoningTokensAreOutput) {
  Response r;
  r.body = Fixture("openai_reasoning.sse");
  Sink s;
  Feed(OpenAiWire(), r, 3, &s);
  ASSERT_TRUE(s.ok.has_value());
  EXPECT_EQ(s.ok->usage.output, 454);  // completion_tokens, reasoning included
  EXPECT_EQ(s.ok->usage.reasoning, 448);
  EXPECT_EQ(s.text, "x = 1\n");
}

TEST(ResponseReader, GatewayPaddingCrlfCommentsAndNoSpace) {
  Response r;
  r.body = Fixture("gateway_crlf.sse");
  for (size_t split : kSplits) {
    Sink s;
    Feed(OpenAiWire(), r, split, &s);
    ASSERT_TRUE(s.ok.has_value()) << split;
    EXPECT_EQ(s.text, "let x = 1;\n") << split;
    EXPECT_EQ(s.ok->usage.input, 40);
    EXPECT_EQ(s.ok->usage.output, 6);
    EXPECT_EQ(s.ok->request_id, "gen-1764547200-abc");
  }
}

TEST(ResponseReader, OpenAiErrorMidStreamIsRetryableServerError) {
  Response r;
  r.body = Fixture("openai_error_midstream.sse");
  Sink s;
  Feed(OpenAiWire(), r, 7, &s);
  ASSERT_TRUE(s.err.has_value());
  EXPECT_EQ(s.ends, 1);
  EXPECT_EQ(s.err->status.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(s.err->retryable);
  EXPECT_EQ(s.err->outcome, "server_error");
  EXPECT_TRUE(absl::StrContains(s.err->status.message(), "The server had an error"));
}

TEST(ResponseReader, AnthropicStreamAtAnySplit) {
  Response r;
  r.headers = {{"request-id", "req_011CVhY5a1"}};
  r.body = Fixture("anthropic_stream.sse");
  for (size_t split : kSplits) {
    Sink s;
    Feed(AnthropicWire(), r, split, &s);
    ASSERT_TRUE(s.ok.has_value()) << split;
    EXPECT_EQ(s.text, "```js\nexport const add = (a, b) => a + b;\n```");
    EXPECT_EQ(s.ok->finish_reason, "end_turn");
    EXPECT_EQ(s.ok->usage.input, 12);
    EXPECT_EQ(s.ok->usage.cache_write, 3000);
    EXPECT_EQ(s.ok->usage.output, 17);
    EXPECT_EQ(s.ok->request_id, "msg_01XFDUDYJgAACzvnptvVoYEL");
    EXPECT_EQ(s.ok->http_request_id, "req_011CVhY5a1");
  }
}

TEST(ResponseReader, AnthropicMaxTokensIsReportedAsCutOff) {
  Response r;
  r.body = Fixture("anthropic_max_tokens.sse");
  Sink s;
  Feed(AnthropicWire(), r, 5, &s);
  ASSERT_TRUE(s.ok.has_value());
  EXPECT_EQ(s.ok->finish_reason, "max_tokens");
  EXPECT_TRUE(IsCutOff(s.ok->finish_reason));
  EXPECT_EQ(s.ok->usage.cache_read, 3000);
}

TEST(ResponseReader, AnthropicStreamEndingAfterMessageDeltaIsWhole) {
  // The official SDKs accept a stream that closes cleanly after the final
  // message_delta without message_stop.
  Response r;
  r.body = Fixture("anthropic_no_message_stop.sse");
  Sink s;
  Feed(AnthropicWire(), r, 0, &s);
  ASSERT_TRUE(s.ok.has_value());
  EXPECT_EQ(s.text, "ok");
  EXPECT_EQ(s.ok->usage.output, 2);
}

TEST(ResponseReader, AnthropicStreamCutBeforeMessageDeltaIsDropped) {
  Response r;
  r.body = Fixture("anthropic_cut_before_delta.sse");
  Sink s;
  Feed(AnthropicWire(), r, 0, &s);
  ASSERT_TRUE(s.err.has_value());
  EXPECT_EQ(s.err->outcome, "dropped");
  EXPECT_TRUE(s.err->retryable);
  // message_start's prompt was billed.
  EXPECT_EQ(s.err->usage.input, 40);
  EXPECT_EQ(s.err->usage.cache_read, 2000);
}

TEST(ResponseReader, AnthropicOverloadMidStreamCarriesWhatWasBilled) {
  Response r;
  r.headers = {{"request-id", "req_mid"}};
  r.body = Fixture("anthropic_overloaded_midstream.sse");
  for (size_t split : kSplits) {
    Sink s;
    Feed(AnthropicWire(), r, split, &s);
    ASSERT_TRUE(s.err.has_value()) << split;
    EXPECT_EQ(s.ends, 1);
    EXPECT_EQ(s.err->outcome, "overloaded");
    EXPECT_TRUE(s.err->retryable);
    EXPECT_EQ(s.err->usage.input, 40);
    EXPECT_EQ(s.err->usage.cache_read, 2000);
    EXPECT_EQ(s.err->request_id, "req_mid");
    EXPECT_EQ(s.err->response_id, "msg_01XFDUDYJgAACzvnptvVoYEL");
  }
}

TEST(ResponseReader, ErrorBodies) {
  struct Case {
    const WireProtocol* wire;
    int status;
    const char* file;
    absl::StatusCode code;
    bool retryable;
    const char* outcome;
    const char* says;
  };
  OpenAiWire openai;
  AnthropicWire anthropic;
  const Case cases[] = {
      {&openai, 429, "openai_429.json", absl::StatusCode::kResourceExhausted, true,
       "rate_limited", "Rate limit reached for gpt-4o"},
      {&openai, 429, "openai_quota_429.json", absl::StatusCode::kFailedPrecondition, false,
       "error", "You exceeded your current quota"},
      {&openai, 404, "openai_404.json", absl::StatusCode::kNotFound, false, "error",
       "does not exist"},
      {&openai, 400, "openai_400_max_tokens.json", absl::StatusCode::kInvalidArgument, false,
       "error", "Use 'max_completion_tokens' instead"},
      {&anthropic, 529, "anthropic_529.json", absl::StatusCode::kUnavailable, true,
       "overloaded", "overloaded_error: Overloaded"},
      {&anthropic, 404, "anthropic_404.json", absl::StatusCode::kNotFound, false, "error",
       "not_found_error: model: claude-3.5-sonnet"},
      {&anthropic, 400, "anthropic_billing_400.json", absl::StatusCode::kFailedPrecondition,
       false, "error", "credit balance is too low"},
  };
  for (const Case& c : cases) {
    Response r;
    r.status = c.status;
    r.body = Fixture(c.file);
    Sink s;
    Feed(*c.wire, r, 4, &s);
    ASSERT_TRUE(s.err.has_value()) << c.file;
    EXPECT_EQ(s.err->status.code(), c.code) << c.file << ": " << s.err->status;
    EXPECT_EQ(s.err->retryable, c.retryable) << c.file;
    EXPECT_EQ(s.err->outcome, c.outcome) << c.file;
    EXPECT_EQ(s.err->http_status, c.status);
    EXPECT_TRUE(absl::StrContains(s.err->status.message(), c.says)) << s.err->status;
  }
}

TEST(ResponseReader, AnthropicErrorBodyRequestIdIsKept) {
  Response r;
  r.status = 529;
  r.body = Fixture("anthropic_529.json");
  Sink s;
  Feed(AnthropicWire(), r, 0, &s);
  ASSERT_TRUE(s.err.has_value());
  EXPECT_EQ(s.err->request_id, "req_011CVhY6Kt4zQ8gWnR2cXbLs");
}

TEST(ResponseReader, NotFoundNamesTheProfileAndTheIdSent) {
  Response r;
  r.status = 404;
  r.body = Fixture("anthropic_404.json");
  Sink s;
  Feed(AnthropicWire(), r, 0, &s,
       "model profile \"claude-3.5-sonnet\" was sent as \"claude-3-5-sonnet-20241022\"");
  ASSERT_TRUE(s.err.has_value());
  EXPECT_TRUE(absl::StrContains(s.err->status.message(),
                                "model profile \"claude-3.5-sonnet\" was sent as "
                                "\"claude-3-5-sonnet-20241022\""))
      << s.err->status;
}

TEST(ResponseReader, ShouldRetryHeaderOverridesTheStatus) {
  // x-should-retry: false on a 529: not retried; true on a 400: retried.
  {
    Response r;
    r.status = 529;
    r.headers = {{"x-should-retry", "false"}};
    r.body = Fixture("anthropic_529.json");
    Sink s;
    Feed(AnthropicWire(), r, 0, &s);
    ASSERT_TRUE(s.err.has_value());
    EXPECT_FALSE(s.err->retryable);
  }
  {
    Response r;
    r.status = 400;
    r.headers = {{"x-should-retry", "true"}};
    r.body = R"({"error":{"message":"try again","type":"invalid_request_error"}})";
    Sink s;
    Feed(OpenAiWire(), r, 0, &s);
    ASSERT_TRUE(s.err.has_value());
    EXPECT_TRUE(s.err->retryable);
  }
}

TEST(ResponseReader, RetryAfterAndDroppedConnections) {
  Response r;
  r.status = 429;
  r.headers = {{"retry-after", "2"}, {"retry-after-ms", "1500"}};
  r.body = Fixture("openai_429.json");
  Sink s;
  Feed(OpenAiWire(), r, 0, &s);
  ASSERT_TRUE(s.err.has_value());
  EXPECT_EQ(s.err->retry_after, absl::Milliseconds(1500));
  EXPECT_TRUE(s.err->rate_limited);

  Response dropped;
  dropped.body = Fixture("openai_stream.sse").substr(0, 300);
  dropped.transport = absl::UnavailableError("connection reset by sk-test-secret");
  Sink d;
  Feed(OpenAiWire(), dropped, 0, &d);
  ASSERT_TRUE(d.err.has_value());
  EXPECT_EQ(d.err->outcome, "dropped");
  EXPECT_FALSE(absl::StrContains(d.err->status.message(), "sk-test-secret"));
}

}  // namespace
}  // namespace kiln
