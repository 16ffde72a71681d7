#include "common/secret.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace kiln {

std::string Secret::Scrub(absl::string_view text) const {
  if (value_.size() < 4) return std::string(text);
  return absl::StrReplaceAll(text, {{value_, "[redacted]"}});
}

absl::StatusOr<Secret> LoadSecret(absl::string_view name,
                                  absl::string_view secrets_file) {
  if (!secrets_file.empty()) {
    std::ifstream in{std::string(secrets_file)};
    if (!in) {
      return absl::NotFoundError(
          absl::StrCat("secrets file ", secrets_file, " cannot be read"));
    }
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      absl::string_view l = absl::StripAsciiWhitespace(line);
      if (l.empty() || l[0] == '#') continue;
      const size_t eq = l.find('=');
      if (eq == absl::string_view::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            secrets_file, ":", n, ": expected NAME=value (the value is not shown)"));
      }
      if (absl::StripAsciiWhitespace(l.substr(0, eq)) == name) {
        std::string v(absl::StripAsciiWhitespace(l.substr(eq + 1)));
        if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') &&
            v.back() == v.front()) {
          v = v.substr(1, v.size() - 2);
        }
        if (v.empty()) break;
        return Secret(std::move(v));
      }
    }
    return absl::NotFoundError(
        absl::StrCat("secrets file ", secrets_file, " has no value for ", name));
  }
  const char* v = std::getenv(std::string(name).c_str());
  if (v == nullptr || *v == '\0') {
    return absl::NotFoundError(
        absl::StrCat("environment variable ", name, " is not set"));
  }
  return Secret(v);
}

}  // namespace kiln
