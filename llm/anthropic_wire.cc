#include "llm/anthropic_wire.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "llm/prompt.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;
using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

int64_t Int(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

class AnthropicDecoder : public StreamDecoder {
 public:
  absl::Status OnEvent(const SseEvent& event, std::string* text) override {
    const json j = json::parse(event.data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      error_outcome_ = "server_error";
      return absl::UnavailableError(
          absl::StrCat("unreadable stream event: ", event.data.substr(0, 200)));
    }
    const std::string type = j.value("type", event.event);
    if (type == "message_start" && j.contains("message")) {
      const json& m = j["message"];
      if (m.contains("id") && m["id"].is_string()) summary_.request_id = m["id"];
      if (m.contains("usage") && m["usage"].is_object()) {
        const json& u = m["usage"];
        summary_.usage.input = Int(u, "input_tokens");
        summary_.usage.cache_write = Int(u, "cache_creation_input_tokens");
        summary_.usage.cache_read = Int(u, "cache_read_input_tokens");
        summary_.usage.output = Int(u, "output_tokens");
      }
    } else if (type == "content_block_delta" && j.contains("delta")) {
      const json& d = j["delta"];
      if (d.value("type", "") == "text_delta" && d.contains("text") &&
          d["text"].is_string()) {
        text->append(d["text"].get<std::string>());
      }
    } else if (type == "message_delta") {
      if (j.contains("delta") && j["delta"].contains("stop_reason") &&
          j["delta"]["stop_reason"].is_string()) {
        summary_.finish_reason = j["delta"]["stop_reason"];
        stopped_ = true;
      }
      // Cumulative output tokens.
      if (j.contains("usage") && j["usage"].is_object()) {
        summary_.usage.output = Int(j["usage"], "output_tokens");
      }
    } else if (type == "message_stop") {
      done_ = true;
    } else if (type == "error") {
      const json& e = j.contains("error") ? j["error"] : j;
      const std::string etype = e.value("type", "error");
      const std::string msg = absl::StrCat(etype, ": ", e.value("message", ""));
      error_outcome_ = etype == "overloaded_error"        ? "overloaded"
                       : etype == "invalid_request_error" ? "error"
                                                          : "server_error";
      // Overload and api errors mid-stream are transient.
      return etype == "invalid_request_error" ? absl::InvalidArgumentError(msg)
                                              : absl::UnavailableError(msg);
    }
    return absl::OkStatus();  // ping, content_block_start/stop, unknown
  }

  bool CompleteAtEnd() const override { return done_ || stopped_; }

 private:
  bool stopped_ = false;  // the final message_delta arrived
};

}  // namespace

std::vector<std::string> AnthropicWire::Headers(const std::string& api_key) const {
  std::vector<std::string> h = {"Content-Type: application/json",
                                "Accept: text/event-stream",
                                "anthropic-version: 2023-06-01"};
  if (!api_key.empty()) h.push_back("x-api-key: " + api_key);
  return h;
}

std::string AnthropicWire::RequestBody(const Prompt& prompt,
                                       const WireRequest& request) const {
  const std::vector<int> points = CacheBreakpoints(prompt, 4);
  const std::set<int> marked(points.begin(), points.end());
  json system = json::array();
  json messages = json::array();
  json content = json::array();
  auto flush_user = [&] {
    if (content.empty()) return;
    messages.push_back({{"role", "user"}, {"content", content}});
    content = json::array();
  };
  for (int i = 0; i < prompt.blocks_size(); ++i) {
    const PromptBlock& b = prompt.blocks(i);
    json block = {{"type", "text"}, {"text", b.text()}};
    if (marked.count(i)) block["cache_control"] = {{"type", "ephemeral"}};
    if (b.kind() == PromptBlock::KIND_SYSTEM) {
      system.push_back(std::move(block));
    } else if (b.kind() == PromptBlock::KIND_ASSISTANT) {
      flush_user();
      messages.push_back({{"role", "assistant"}, {"content", json::array({block})}});
    } else {
      content.push_back(std::move(block));
    }
  }
  flush_user();
  const int32_t max_tokens =
      prompt.max_output_tokens() > 0
          ? prompt.max_output_tokens()
          : (request.default_max_tokens > 0 ? request.default_max_tokens : 4096);
  json body = {{"model", request.model.empty() ? prompt.model() : request.model},
               {"max_tokens", max_tokens},
               {"messages", messages},
               {"stream", true}};
  if (!system.empty()) body["system"] = system;
  const auto& s = prompt.sampling();
  if (request.sampling_params) {
    if (s.has_temperature()) body["temperature"] = s.temperature();
    if (s.has_top_p()) body["top_p"] = s.top_p();
  }
  if (s.stop_size() > 0) {
    body["stop_sequences"] = std::vector<std::string>(s.stop().begin(), s.stop().end());
  }
  return body.dump();
}

std::unique_ptr<StreamDecoder> AnthropicWire::NewDecoder() const {
  return std::make_unique<AnthropicDecoder>();
}

ProviderErrorBody AnthropicWire::ParseError(absl::string_view body) const {
  ProviderErrorBody e = ReadErrorObject(body);
  if (!e.type.empty()) e.message = absl::StrCat(e.type, ": ", e.message);
  e.quota = e.type == "billing_error" ||
            e.message.find("credit balance is too low") != std::string::npos;
  return e;
}

}  // namespace kiln
