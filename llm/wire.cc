#include "llm/wire.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace kiln {

ProviderErrorBody ReadErrorObject(absl::string_view body) {
  using json = nlohmann::json;
  ProviderErrorBody e;
  const json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) {
    e.message = std::string(body.substr(0, 500));
    return e;
  }
  if (j.contains("request_id") && j["request_id"].is_string()) {
    e.request_id = j["request_id"].get<std::string>();
  }
  const json& err = j["error"];
  auto read = [&](const char* key, std::string* out) {
    if (err.contains(key) && err[key].is_string()) *out = err[key].get<std::string>();
  };
  read("message", &e.message);
  read("type", &e.type);
  read("code", &e.code);
  return e;
}

}  // namespace kiln
