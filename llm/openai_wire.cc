#include "llm/openai_wire.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;
using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

json UsageJson(const TokenCounts& u) {
  const int64_t prompt = u.input + u.cache_read + u.cache_write;
  return json{{"prompt_tokens", prompt},
              {"completion_tokens", u.output},
              {"total_tokens", prompt + u.output},
              {"prompt_tokens_details", {{"cached_tokens", u.cache_read}}},
              {"completion_tokens_details", {{"reasoning_tokens", u.reasoning}}}};
}

std::string FinishReason(const SimAnswer& a) {
  return a.finish_reason == "length" ? "length" : "stop";
}

class OpenAiDecoder : public StreamDecoder {
 public:
  absl::Status OnEvent(const SseEvent& event, std::string* text) override {
    if (event.data == "[DONE]") {
      done_ = true;
      return absl::OkStatus();
    }
    const json j = json::parse(event.data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::UnavailableError(
          absl::StrCat("unreadable stream chunk: ", event.data.substr(0, 200)));
    }
    if (j.contains("error")) {
      const json& e = j["error"];
      return absl::UnavailableError(
          absl::StrCat("provider error mid-stream: ",
                       e.is_object() ? e.value("message", e.dump()) : e.dump()));
    }
    if (j.contains("id") && j["id"].is_string()) summary_.request_id = j["id"];
    if (j.contains("choices") && j["choices"].is_array()) {
      for (const json& c : j["choices"]) {
        if (c.contains("delta") && c["delta"].contains("content") &&
            c["delta"]["content"].is_string()) {
          text->append(c["delta"]["content"].get<std::string>());
        }
        if (c.contains("finish_reason") && c["finish_reason"].is_string()) {
          summary_.finish_reason = c["finish_reason"];
        }
      }
    }
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      const int64_t prompt = u.value("prompt_tokens", int64_t{0});
      int64_t cached = 0;
      if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object()) {
        cached = u["prompt_tokens_details"].value("cached_tokens", int64_t{0});
      }
      summary_.usage.cache_read = cached;
      summary_.usage.cache_write = 0;  // implicit caching: billed as input
      summary_.usage.input = prompt - cached;
      // completion_tokens includes the reasoning tokens (billed as output).
      summary_.usage.output = u.value("completion_tokens", int64_t{0});
      if (u.contains("completion_tokens_details") &&
          u["completion_tokens_details"].is_object()) {
        const json& d = u["completion_tokens_details"];
        if (d.contains("reasoning_tokens") && d["reasoning_tokens"].is_number_integer()) {
          summary_.usage.reasoning = d["reasoning_tokens"].get<int64_t>();
        }
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::vector<std::string> OpenAiWire::Headers(const std::string& api_key) const {
  std::vector<std::string> h = {"Content-Type: application/json",
                                "Accept: text/event-stream"};
  if (!api_key.empty()) h.push_back("Authorization: Bearer " + api_key);
  return h;
}

std::string OpenAiWire::RequestBody(const Prompt& prompt,
                                    const WireRequest& request) const {
  json messages = json::array();
  json parts = json::array();
  auto flush_user = [&] {
    if (parts.empty()) return;
    messages.push_back({{"role", "user"}, {"content", parts}});
    parts = json::array();
  };
  for (const PromptBlock& b : prompt.blocks()) {
    if (b.kind() == PromptBlock::KIND_SYSTEM) {
      flush_user();
      messages.push_back({{"role", "system"}, {"content", b.text()}});
    } else if (b.kind() == PromptBlock::KIND_ASSISTANT) {
      flush_user();
      messages.push_back({{"role", "assistant"}, {"content", b.text()}});
    } else {
      parts.push_back({{"type", "text"}, {"text", b.text()}});
    }
  }
  flush_user();
  json body = {{"model", request.model.empty() ? prompt.model() : request.model},
               {"messages", messages},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  const int32_t max_tokens = prompt.max_output_tokens() > 0
                                 ? prompt.max_output_tokens()
                                 : request.default_max_tokens;
  if (max_tokens > 0) {
    body[request.max_tokens_param.empty() ? "max_tokens" : request.max_tokens_param] =
        max_tokens;
  }
  const auto& s = prompt.sampling();
  if (request.sampling_params) {
    if (s.has_temperature()) body["temperature"] = s.temperature();
    if (s.has_top_p()) body["top_p"] = s.top_p();
  }
  if (s.has_seed()) body["seed"] = s.seed();
  if (s.stop_size() > 0) {
    body["stop"] = std::vector<std::string>(s.stop().begin(), s.stop().end());
  }
  if (!prompt.prefix_key().empty()) body["prompt_cache_key"] = prompt.prefix_key();
  return body.dump();
}

std::unique_ptr<StreamDecoder> OpenAiWire::NewDecoder() const {
  return std::make_unique<OpenAiDecoder>();
}

ProviderErrorBody OpenAiWire::ParseError(absl::string_view body) const {
  ProviderErrorBody e = ReadErrorObject(body);
  e.quota = e.code == "insufficient_quota" || e.type == "insufficient_quota" ||
            e.code == "billing_hard_limit_reached";
  return e;
}

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
