#include "llm/openai_wire.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;
using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

class OpenAiDecoder : public StreamDecoder {
 public:
  absl::Status OnEvent(const SseEvent& event, std::string* text) override {
    if (event.data == "[DONE]") {
      done_ = true;
      return absl::OkStatus();
    }
    const json j = json::parse(event.data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      error_outcome_ = "server_error";
      return absl::UnavailableError(
          absl::StrCat("unreadable stream chunk: ", event.data.substr(0, 200)));
    }
    if (j.contains("error")) {
      error_outcome_ = "server_error";
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

}  // namespace kiln
