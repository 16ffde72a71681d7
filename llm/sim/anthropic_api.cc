#include "llm/sim/api_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "llm/prompt.h"
#include "llm/sse.h"
#include "nlohmann/json.hpp"

namespace kiln {

using json = nlohmann::json;
using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

namespace {

std::string StopReason(const SimAnswer& a) {
  return a.finish_reason == "length" ? "max_tokens" : "end_turn";
}

json UsageJson(const TokenCounts& u, int64_t output) {
  return json{{"input_tokens", u.input},
              {"cache_creation_input_tokens", u.cache_write},
              {"cache_read_input_tokens", u.cache_read},
              {"output_tokens", output}};
}

}  // namespace

absl::StatusOr<ApiRequest> ParseAnthropicRequest(absl::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return FieldError("body", "not a JSON object");
  ApiRequest r;
  if (!j.contains("model") || !j["model"].is_string()) {
    return FieldError("model", "required string");
  }
  r.prompt.set_model(j["model"].get<std::string>());
  if (!j.contains("max_tokens") || !j["max_tokens"].is_number_integer() ||
      j["max_tokens"].get<int64_t>() < 1) {
    return FieldError("max_tokens", "required positive integer");
  }
  r.prompt.set_max_output_tokens(j["max_tokens"].get<int32_t>());
  // One block per text block; breakpoints where cache_control is set.
  auto add_blocks = [&](const json& content, PromptBlock::Kind kind,
                        const std::string& field) -> absl::Status {
    if (content.is_string()) {
      PromptBlock* b = r.prompt.add_blocks();
      b->set_kind(kind);
      b->set_text(content.get<std::string>());
      return absl::OkStatus();
    }
    if (!content.is_array()) return FieldError(field, "must be a string or an array of blocks");
    int k = 0;
    for (const json& block : content) {
      const std::string bf = absl::StrCat(field, "[", k++, "]");
      if (!block.is_object() || block.value("type", "") != "text" ||
          !block.contains("text") || !block["text"].is_string()) {
        return FieldError(bf, "only text blocks are supported");
      }
      PromptBlock* b = r.prompt.add_blocks();
      b->set_kind(kind);
      b->set_text(block["text"].get<std::string>());
      if (block.contains("cache_control") && !block["cache_control"].is_null()) {
        r.cache_points.push_back(r.prompt.blocks_size() - 1);
      }
    }
    return absl::OkStatus();
  };
  if (j.contains("system")) {
    absl::Status s = add_blocks(j["system"], PromptBlock::KIND_SYSTEM, "system");
    if (!s.ok()) return s;
  }
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) {
    return FieldError("messages", "required non-empty array");
  }
  int i = 0;
  for (const json& m : j["messages"]) {
    const std::string field = absl::StrCat("messages[", i++, "]");
    const std::string role = m.is_object() ? m.value("role", "") : "";
    if (role != "user" && role != "assistant") {
      return FieldError(field + ".role", "must be \"user\" or \"assistant\"");
    }
    if (!m.contains("content")) return FieldError(field + ".content", "required");
    absl::Status s = add_blocks(m["content"],
                                role == "assistant" ? PromptBlock::KIND_ASSISTANT
                                                    : PromptBlock::KIND_UNSPECIFIED,
                                field + ".content");
    if (!s.ok()) return s;
  }
  if (r.cache_points.size() > 4) {
    return FieldError("cache_control", "a request may set at most 4 cache breakpoints");
  }
  if (j.contains("temperature") && j["temperature"].is_number()) {
    const double t = j["temperature"];
    if (t < 0 || t > 1) return FieldError("temperature", "must be within [0, 1]");
    r.prompt.mutable_sampling()->set_temperature(t);
  }
  r.stream = j.value("stream", false);
  return r;
}

std::string AnthropicResponseBody(const SimAnswer& a, const std::string& model) {
  const json body = {
      {"id", "msg_" + a.request_id},
      {"type", "message"},
      {"role", "assistant"},
      {"model", model},
      {"content", json::array({{{"type", "text"}, {"text", a.text}}})},
      {"stop_reason", StopReason(a)},
      {"stop_sequence", nullptr},
      {"usage", UsageJson(a.response.usage, a.response.usage.output)}};
  return body.dump();
}

StreamPlan AnthropicStreamPlan(const SimAnswer& a, const std::string& model) {
  StreamPlan p;
  const json start = {
      {"type", "message_start"},
      {"message",
       {{"id", "msg_" + a.request_id},
        {"type", "message"},
        {"role", "assistant"},
        {"content", json::array()},
        {"model", model},
        {"stop_reason", nullptr},
        {"stop_sequence", nullptr},
        {"usage", UsageJson(a.response.usage, 1)}}}};
  p.head.push_back(FormatSse("message_start", start.dump()));
  p.head.push_back(FormatSse(
      "content_block_start",
      json{{"type", "content_block_start"},
           {"index", 0},
           {"content_block", {{"type", "text"}, {"text", ""}}}}
          .dump()));
  p.head.push_back(FormatSse("ping", R"({"type": "ping"})"));
  for (const auto& [at, piece] : a.chunks) {
    p.chunk_events.push_back(FormatSse(
        "content_block_delta",
        json{{"type", "content_block_delta"},
             {"index", 0},
             {"delta", {{"type", "text_delta"}, {"text", piece}}}}
            .dump()));
  }
  p.tail.push_back(FormatSse(
      "content_block_stop", json{{"type", "content_block_stop"}, {"index", 0}}.dump()));
  p.tail.push_back(FormatSse(
      "message_delta",
      json{{"type", "message_delta"},
           {"delta", {{"stop_reason", StopReason(a)}, {"stop_sequence", nullptr}}},
           {"usage", {{"output_tokens", a.response.usage.output}}}}
          .dump()));
  p.tail.push_back(FormatSse("message_stop", R"({"type": "message_stop"})"));
  return p;
}

ApiError AnthropicError(int http_status, absl::string_view type,
                        absl::string_view message) {
  ApiError e;
  e.http_status = http_status;
  e.body = json{{"type", "error"}, {"error", {{"type", type}, {"message", message}}}}.dump();
  return e;
}

}  // namespace kiln
