// The adapters' requests as kiln_llmsim reads them, and its answers as the
// adapters read them: both sides of each protocol against each other.
#include "llm/sim/api_codec.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "llm/anthropic_wire.h"
#include "llm/openai_wire.h"
#include "llm/prompt.h"
#include "llm/sse.h"
#include "llm/wire.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;

kiln::v1::Prompt MakePrompt() {
  PromptInputs in;
  in.model = "m";
  in.system = "sys";
  in.instructions = "shared";
  in.context = {{"a.sql", "A"}, {"b.sql", "B"}};
  in.deps = {{"x.h", "int x_f(int value);\n"}};
  in.path = "x.cc";
  in.file_instructions = "do";
  in.repairs = {{"old reply", "x.cc:1:1: error: e"}};
  in.max_output_tokens = 777;
  in.sampling.set_temperature(0.2);
  in.sampling.add_stop("END");
  return *BuildPrompt(in);
}

// Runs a stream plan through a decoder, as the adapter would.
std::string Decode(const StreamPlan& plan, StreamDecoder* d) {
  SseParser parser;
  std::string text;
  std::string wire;
  for (const auto* part : {&plan.head, &plan.chunk_events, &plan.tail}) {
    for (const std::string& e : *part) wire += e;
  }
  parser.Feed(wire, [&](SseEvent e) { EXPECT_TRUE(d->OnEvent(e, &text).ok()); });
  return text;
}

SimAnswer Answer() {
  SimAnswer a;
  a.text = "hello world";
  a.finish_reason = "stop";
  a.request_id = "abc";
  a.chunks = {{MonotonicTime(), "hello"}, {MonotonicTime(), " world"}};
  a.response.usage = TokenCounts{100, 2000, 300, 3};
  return a;
}

TEST(OpenAiWire, RequestCarriesMessagesStreamingAndSampling) {
  const json body = json::parse(OpenAiWire().RequestBody(MakePrompt(), {}));
  EXPECT_EQ(body["model"], "m");
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(body["max_tokens"], 777);
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["stop"], json::array({"END"}));
  EXPECT_EQ(body["prompt_cache_key"].get<std::string>().size(), 64u);
  const json& m = body["messages"];
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0]["role"], "system");
  EXPECT_EQ(m[1]["role"], "user");
  EXPECT_EQ(m[1]["content"].size(), 5u);  // shared, 2 context, dep, file
  EXPECT_EQ(m[2]["role"], "assistant");
  EXPECT_EQ(m[2]["content"], "old reply");
  EXPECT_EQ(m[3]["role"], "user");
  const std::vector<std::string> h = OpenAiWire().Headers("k");
  EXPECT_NE(std::find(h.begin(), h.end(), "Authorization: Bearer k"), h.end());
}

TEST(OpenAiWire, SimulatorReadsBackWhatTheAdapterSends) {
  const kiln::v1::Prompt p = MakePrompt();
  absl::StatusOr<ApiRequest> r = ParseOpenAiRequest(OpenAiWire().RequestBody(p, {}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(PromptText(r->prompt), PromptText(p));
  EXPECT_EQ(r->prompt.max_output_tokens(), 777);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->cache_points.size(), static_cast<size_t>(p.blocks_size() - 1));
}

TEST(OpenAiWire, DecoderMapsUsageAndText) {
  auto d = OpenAiWire().NewDecoder();
  EXPECT_EQ(Decode(OpenAiStreamPlan(Answer(), "m", 1, true), d.get()), "hello world");
  EXPECT_TRUE(d->done());
  const AttemptSummary s = d->summary();
  // prompt_tokens = 2400 of which 2000 cached: the write is billed as input.
  EXPECT_EQ(s.usage.input, 400);
  EXPECT_EQ(s.usage.cache_read, 2000);
  EXPECT_EQ(s.usage.cache_write, 0);
  EXPECT_EQ(s.usage.output, 3);
  EXPECT_EQ(s.request_id, "chatcmpl-abc");
  EXPECT_EQ(s.finish_reason, "stop");
}

TEST(OpenAiWire, ErrorsAndQuota) {
  const ProviderErrorBody q = OpenAiWire().ParseError(
      OpenAiError(429, "You exceeded your current quota", "insufficient_quota",
                  "insufficient_quota")
          .body);
  EXPECT_TRUE(q.quota);
  EXPECT_EQ(q.message, "You exceeded your current quota");
  const ProviderErrorBody r = OpenAiWire().ParseError(
      OpenAiError(429, "slow down", "requests", "rate_limit_exceeded").body);
  EXPECT_FALSE(r.quota);
  EXPECT_EQ(OpenAiWire().ParseError("<html>bad gateway</html>").message,
            "<html>bad gateway</html>");
}

TEST(OpenAiWire, BadRequestsNameTheField) {
  EXPECT_EQ(ParseOpenAiRequest("{}").status().message(), "model: required string");
  EXPECT_EQ(ParseOpenAiRequest(R"({"model":"m","messages":[{"role":"user","content":"x"},
                                   {"role":"robot","content":"y"}]})")
                .status()
                .message(),
            "messages[1].role: unknown role \"robot\"");
  EXPECT_EQ(ParseOpenAiRequest(R"({"model":"m","max_tokens":0,
                                   "messages":[{"role":"user","content":"x"}]})")
                .status()
                .message(),
            "max_tokens: must be a positive integer");
}

TEST(AnthropicWire, RequestPutsCacheControlOnStableBlocks) {
  const kiln::v1::Prompt p = MakePrompt();
  const json body = json::parse(AnthropicWire().RequestBody(p, {}));
  EXPECT_EQ(body["max_tokens"], 777);
  EXPECT_EQ(body["stop_sequences"], json::array({"END"}));
  ASSERT_EQ(body["system"].size(), 1u);
  EXPECT_EQ(body["system"][0]["cache_control"]["type"], "ephemeral");
  const json& user = body["messages"][0]["content"];
  ASSERT_EQ(user.size(), 5u);
  EXPECT_TRUE(user[0].contains("cache_control"));   // shared instructions
  EXPECT_FALSE(user[1].contains("cache_control"));  // first context file
  EXPECT_TRUE(user[2].contains("cache_control"));   // last context file
  EXPECT_FALSE(user[3].contains("cache_control"));  // deps: variable
  EXPECT_EQ(body["messages"][1]["role"], "assistant");
  const std::vector<std::string> h = AnthropicWire().Headers("k");
  EXPECT_NE(std::find(h.begin(), h.end(), "x-api-key: k"), h.end());
  EXPECT_NE(std::find(h.begin(), h.end(), "anthropic-version: 2023-06-01"), h.end());
  // Anthropic requires max_tokens even when the prompt sets none.
  kiln::v1::Prompt no_cap = p;
  no_cap.set_max_output_tokens(0);
  EXPECT_EQ(json::parse(AnthropicWire().RequestBody(no_cap, {}))["max_tokens"], 4096);
}

TEST(AnthropicWire, SimulatorSeesTheSameBreakpoints) {
  const kiln::v1::Prompt p = MakePrompt();
  absl::StatusOr<ApiRequest> r = ParseAnthropicRequest(AnthropicWire().RequestBody(p, {}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(PromptText(r->prompt), PromptText(p));
  EXPECT_EQ(r->cache_points, CacheBreakpoints(p));
}

TEST(AnthropicWire, DecoderMapsUsageAndText) {
  auto d = AnthropicWire().NewDecoder();
  EXPECT_EQ(Decode(AnthropicStreamPlan(Answer(), "m"), d.get()), "hello world");
  EXPECT_TRUE(d->done());
  const AttemptSummary s = d->summary();
  EXPECT_EQ(s.usage.input, 100);
  EXPECT_EQ(s.usage.cache_read, 2000);
  EXPECT_EQ(s.usage.cache_write, 300);
  EXPECT_EQ(s.usage.output, 3);
  EXPECT_EQ(s.request_id, "msg_abc");
  EXPECT_EQ(s.finish_reason, "end_turn");
}

TEST(AnthropicWire, ErrorEventsAndQuota) {
  auto d = AnthropicWire().NewDecoder();
  std::string text;
  const absl::Status s = d->OnEvent(
      {"error", R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})",
       ""},
      &text);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(s.message(), "Overloaded"));
  EXPECT_TRUE(AnthropicWire()
                  .ParseError(AnthropicError(400, "billing_error", "no credit").body)
                  .quota);
  EXPECT_EQ(AnthropicWire().ParseError(AnthropicError(401, "authentication_error", "bad").body)
                .message,
            "authentication_error: bad");
  EXPECT_EQ(ParseAnthropicRequest(R"({"model":"m","messages":[]})").status().message(),
            "max_tokens: required positive integer");
}

}  // namespace
}  // namespace kiln
