#include "common/repo_path.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kiln {
namespace {

constexpr size_t kMaxPath = 4096;
constexpr size_t kMaxSegment = 255;

// Matches one segment against a pattern segment with * and ?.
bool SegmentMatch(absl::string_view pat, absl::string_view s) {
  size_t p = 0, i = 0, star = absl::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == s[i])) {
      ++p;
      ++i;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (star != absl::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

bool SegmentsMatch(const std::vector<absl::string_view>& pat, size_t pi,
                   const std::vector<absl::string_view>& path, size_t si) {
  while (pi < pat.size()) {
    if (pat[pi] == "**") {
      // Collapse repeated ** and try every split point.
      while (pi + 1 < pat.size() && pat[pi + 1] == "**") ++pi;
      if (pi + 1 == pat.size()) return true;
      for (size_t k = si; k <= path.size(); ++k) {
        if (SegmentsMatch(pat, pi + 1, path, k)) return true;
      }
      return false;
    }
    if (si >= path.size() || !SegmentMatch(pat[pi], path[si])) return false;
    ++pi;
    ++si;
  }
  return si == path.size();
}

}  // namespace

absl::Status CheckRepoPath(absl::string_view path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(why);
  };
  if (path.empty()) return bad("path is empty");
  if (path.size() > kMaxPath) return bad("path is longer than 4096 bytes");
  for (char c : path) {
    if (c == '\0') return bad("path contains a NUL byte");
    if (c == '\\') return bad("path contains a backslash; use '/'");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return bad("path contains a control character");
    }
  }
  if (path.front() == '/') return bad("path is absolute; want repo-relative");
  if (path.size() >= 2 && absl::ascii_isalpha(path[0]) && path[1] == ':') {
    return bad("path starts with a drive letter; want repo-relative");
  }
  for (absl::string_view seg : absl::StrSplit(path, '/')) {
    if (seg.empty()) return bad("path has an empty segment ('//' or a trailing '/')");
    if (seg == "..") return bad("path escapes the repository ('..')");
    if (seg == ".") return bad("path has a '.' segment");
    if (seg.size() > kMaxSegment) return bad("path segment longer than 255 bytes");
  }
  return absl::OkStatus();
}

bool GlobMatch(absl::string_view pattern, absl::string_view path) {
  if (pattern.find('/') == absl::string_view::npos) {
    const size_t slash = path.rfind('/');
    const absl::string_view base =
        slash == absl::string_view::npos ? path : path.substr(slash + 1);
    return pattern == "**" || SegmentMatch(pattern, base);
  }
  const std::vector<absl::string_view> pat = absl::StrSplit(pattern, '/');
  const std::vector<absl::string_view> segs = absl::StrSplit(path, '/');
  return SegmentsMatch(pat, 0, segs, 0);
}

absl::Status CheckGlob(absl::string_view pattern) {
  if (pattern.empty()) return absl::InvalidArgumentError("an empty glob");
  if (pattern.front() == '/') {
    return absl::InvalidArgumentError("a glob is relative to the repo: no leading '/'");
  }
  for (char c : pattern) {
    if (c == '\\') {
      return absl::InvalidArgumentError("paths are '/'-separated: no backslash");
    }
    if (static_cast<unsigned char>(c) < 0x20) {
      return absl::InvalidArgumentError("a control character");
    }
    if (c == '[' || c == ']' || c == '{' || c == '}') {
      return absl::InvalidArgumentError(absl::StrCat(
          "'", std::string(1, c),
          "': character classes and braces are not supported (use *, ? and **, "
          "or several globs)"));
    }
  }
  for (absl::string_view seg : absl::StrSplit(pattern, '/')) {
    if (seg.empty()) return absl::InvalidArgumentError("an empty segment (\"//\")");
    if (seg == "." || seg == "..") {
      return absl::InvalidArgumentError(absl::StrCat("a \"", seg, "\" segment"));
    }
    if (seg != "**" && seg.find("**") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", seg, "\": ** must be a whole segment (\"a/**/b\", \"**/*.py\")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kiln
