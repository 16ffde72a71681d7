#include "common/git_names.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kiln {

absl::Status CheckBranchName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("an empty branch name");
  if (name.front() == '-' || name.front() == '/' || name.back() == '/' || name.back() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' must not start with '-' or '/' or end with '/' or '.'"));
  }
  if (absl::EndsWith(name, ".lock") || absl::StrContains(name, "..") ||
      absl::StrContains(name, "@{") || name == "@" || absl::StrContains(name, "//")) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is not a valid branch name"));
  }
  for (char c : name) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' || c == '?' ||
        c == '*' || c == '[' || c == '\\') {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "' has a character git refuses in a branch name ('",
                       std::string(1, c), "')"));
    }
  }
  for (absl::string_view part : absl::StrSplit(name, '/')) {
    if (!part.empty() && part.front() == '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("'", name, "': a component must not start with '.'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderTemplate(absl::string_view tmpl,
                                           const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if ((c == '{' || c == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c != '{') {
      out += c;
      continue;
    }
    const size_t close = tmpl.find('}', i);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("an unclosed '{' in \"", tmpl, "\""));
    }
    const std::string key(tmpl.substr(i + 1, close - i - 1));
    auto it = vars.find(key);
    if (it == vars.end()) {
      std::vector<std::string> known;
      for (const auto& [k, v] : vars) known.push_back(absl::StrCat("{", k, "}"));
      return absl::InvalidArgumentError(absl::StrCat("unknown placeholder {", key, "}; known: ",
                                                     absl::StrJoin(known, ", ")));
    }
    out += it->second;
    i = close;
  }
  return out;
}

namespace {

// [begin, end) of the user information of the URL starting at `at` in
// `text` ("scheme://userinfo@host"), or npos.
std::pair<size_t, size_t> UserInfo(absl::string_view text, size_t scheme_end) {
  const size_t start = scheme_end + 3;  // after "://"
  size_t end = start;
  while (end < text.size() && text[end] != '@' && text[end] != '/' && text[end] != ' ' &&
         text[end] != '\'' && text[end] != '"' && text[end] != '\n') {
    ++end;
  }
  if (end < text.size() && text[end] == '@') return {start, end};
  return {absl::string_view::npos, absl::string_view::npos};
}

}  // namespace

bool UrlHasCredentials(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return false;
  const auto [b, e] = UserInfo(url, scheme);
  if (b == absl::string_view::npos) return false;
  const absl::string_view info = url.substr(b, e - b);
  const size_t colon = info.find(':');
  if (colon == absl::string_view::npos) return false;  // a user name only
  const absl::string_view secret = info.substr(colon + 1);
  return !secret.empty() && !(absl::StartsWith(secret, "${") && absl::EndsWith(secret, "}"));
}

std::string UrlWithoutCredentials(absl::string_view url) {
  const size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return std::string(url);
  const auto [b, e] = UserInfo(url, scheme);
  if (b == absl::string_view::npos) return std::string(url);
  return absl::StrCat(url.substr(0, b), url.substr(e + 1));
}

std::string RedactCredentials(absl::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t scheme = text.find("://", pos);
    if (scheme == absl::string_view::npos) break;
    const auto [b, e] = UserInfo(text, scheme);
    if (b == absl::string_view::npos) {
      absl::StrAppend(&out, text.substr(pos, scheme + 3 - pos));
      pos = scheme + 3;
      continue;
    }
    absl::StrAppend(&out, text.substr(pos, b - pos), "***");
    pos = e;
  }
  absl::StrAppend(&out, text.substr(pos));
  return out;
}

absl::StatusOr<std::string> ExpandEnvVars(absl::string_view url) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t at = url.find("${", pos);
    if (at == absl::string_view::npos) break;
    const size_t close = url.find('}', at);
    if (close == absl::string_view::npos) break;
    const std::string name(url.substr(at + 2, close - at - 2));
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the remote URL names ${", name, "}, which is not set in the worker's environment"));
    }
    absl::StrAppend(&out, url.substr(pos, at - pos), value);
    pos = close + 1;
  }
  absl::StrAppend(&out, url.substr(pos));
  return out;
}

}  // namespace kiln
