#include "llm/sim/api_codec.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "llm/sse.h"
#include "nlohmann/json.hpp"

namespace kiln {

using json = nlohmann::json;
using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

absl::Status FieldError(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

namespace {

json UsageJson(const TokenCounts& u) {
  const int64_t prompt = u.prompt();
  return json{{"prompt_tokens", prompt},
              {"completion_tokens", u.output},
              {"total_tokens", prompt + u.output},
              {"prompt_tokens_details", {{"cached_tokens", u.cache_read}}},
              {"completion_tokens_details", {{"reasoning_tokens", u.reasoning}}}};
}

std::string FinishReason(const SimAnswer& a) {
  return a.finish_reason == "length" ? "length" : "stop";
}

}  // namespace

absl::StatusOr<ApiRequest> ParseOpenAiRequest(absl::string_view body) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return FieldError("body", "not a JSON object");
  }
  ApiRequest r;
  if (!j.contains("model") || !j["model"].is_string()) {
    return FieldError("model", "required string");
  }
  r.prompt.set_model(j["model"].get<std::string>());
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty()) {
    return FieldError("messages", "required non-empty array");
  }
  int i = 0;
  for (const json& m : j["messages"]) {
    const std::string field = absl::StrCat("messages[", i++, "]");
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      return FieldError(field + ".role", "required string");
    }
    const std::string role = m["role"];
    PromptBlock::Kind kind = PromptBlock::KIND_UNSPECIFIED;
    if (role == "system" || role == "developer") {
      kind = PromptBlock::KIND_SYSTEM;
    } else if (role == "assistant") {
      kind = PromptBlock::KIND_ASSISTANT;
    } else if (role != "user" && role != "tool") {
      return FieldError(field + ".role", "unknown role \"" + role + "\"");
    }
    auto add = [&](const std::string& text) {
      PromptBlock* b = r.prompt.add_blocks();
      b->set_kind(kind);
      b->set_text(text);
    };
    if (!m.contains("content")) return FieldError(field + ".content", "required");
    const json& c = m["content"];
    if (c.is_string()) {
      add(c.get<std::string>());
    } else if (c.is_array()) {
      int k = 0;
      for (const json& part : c) {
        const std::string pf = absl::StrCat(field, ".content[", k++, "]");
        if (!part.is_object() || part.value("type", "") != "text" ||
            !part.contains("text") || !part["text"].is_string()) {
          return FieldError(pf, "only text parts are supported");
        }
        add(part["text"].get<std::string>());
      }
    } else if (!c.is_null()) {
      return FieldError(field + ".content", "must be a string or an array of parts");
    }
  }
  for (const char* key : {"max_completion_tokens", "max_tokens"}) {
    if (j.contains(key) && !j[key].is_null()) {
      if (!j[key].is_number_integer() || j[key].get<int64_t>() < 1) {
        return FieldError(key, "must be a positive integer");
      }
      r.prompt.set_max_output_tokens(j[key].get<int32_t>());
      r.max_tokens_field = key;
      break;
    }
  }
  if (j.contains("temperature") && j["temperature"].is_number()) {
    const double t = j["temperature"];
    if (t < 0 || t > 2) return FieldError("temperature", "must be within [0, 2]");
    r.prompt.mutable_sampling()->set_temperature(t);
  }
  r.stream = j.value("stream", false);
  if (j.contains("stream_options") && j["stream_options"].is_object()) {
    r.include_usage = j["stream_options"].value("include_usage", false);
  }
  if (j.contains("prompt_cache_key") && j["prompt_cache_key"].is_string()) {
    r.prompt.set_prefix_key(j["prompt_cache_key"].get<std::string>());
  }
  // Implicit prefix caching: every boundary before the last block.
  for (int b = 0; b + 1 < r.prompt.blocks_size(); ++b) r.cache_points.push_back(b);
  return r;
}

std::string OpenAiResponseBody(const SimAnswer& a, const std::string& model,
                               int64_t created) {
  const json body = {
      {"id", "chatcmpl-" + a.request_id},
      {"object", "chat.completion"},
      {"created", created},
      {"model", model},
      {"choices",
       json::array({{{"index", 0},
                     {"message", {{"role", "assistant"}, {"content", a.text}}},
                     {"finish_reason", FinishReason(a)}}})},
      {"usage", UsageJson(a.response.usage)}};
  return body.dump();
}

StreamPlan OpenAiStreamPlan(const SimAnswer& a, const std::string& model,
                            int64_t created, bool include_usage) {
  const std::string id = "chatcmpl-" + a.request_id;
  auto chunk = [&](json delta, json finish) {
    json c = {{"id", id},
              {"object", "chat.completion.chunk"},
              {"created", created},
              {"model", model},
              {"choices", json::array({{{"index", 0},
                                        {"delta", std::move(delta)},
                                        {"finish_reason", std::move(finish)}}})}};
    if (include_usage) c["usage"] = nullptr;
    return c;
  };
  StreamPlan p;
  p.head.push_back(FormatSse("", chunk({{"role", "assistant"}, {"content", ""}}, nullptr).dump()));
  for (const auto& [at, piece] : a.chunks) {
    p.chunk_events.push_back(FormatSse("", chunk({{"content", piece}}, nullptr).dump()));
  }
  p.tail.push_back(FormatSse("", chunk(json::object(), FinishReason(a)).dump()));
  if (include_usage) {
    const json usage = {{"id", id},
                        {"object", "chat.completion.chunk"},
                        {"created", created},
                        {"model", model},
                        {"choices", json::array()},
                        {"usage", UsageJson(a.response.usage)}};
    p.tail.push_back(FormatSse("", usage.dump()));
  }
  p.tail.push_back(FormatSse("", "[DONE]"));
  return p;
}

ApiError OpenAiError(int http_status, absl::string_view message,
                     absl::string_view type, absl::string_view code) {
  ApiError e;
  e.http_status = http_status;
  json err = {{"message", message}, {"type", type}, {"param", nullptr}};
  err["code"] = code.empty() ? json(nullptr) : json(code);
  e.body = json{{"error", err}}.dump();
  return e;
}

}  // namespace kiln
