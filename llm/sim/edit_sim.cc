#include "llm/sim/edit_sim.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "edit/search_replace.h"

namespace kiln {
namespace {

// What the defect leaves on a line: an unclosed call no checker accepts.
constexpr absl::string_view kDefect = " ((";

uint64_t Fnv(absl::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<std::string> SplitLines(absl::string_view text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  if (text.back() == '\n') text.remove_suffix(1);
  for (absl::string_view l : absl::StrSplit(text, '\n')) out.emplace_back(l);
  return out;
}

std::string JoinLines(const std::vector<std::string>& lines) {
  return lines.empty() ? "" : absl::StrCat(absl::StrJoin(lines, "\n"), "\n");
}

std::string CommentPrefix(const std::string& lang) {
  if (lang == "python" || lang == "shell" || lang == "yaml" || lang == "text") return "# ";
  if (lang == "cpp" || lang == "c" || lang == "javascript" || lang == "typescript" ||
      lang == "go" || lang == "rust" || lang == "java") {
    return "// ";
  }
  if (lang == "sql") return "-- ";
  return "";
}

// How often `lines[from, from+n)` occurs in `lines`.
int Occurrences(const std::vector<std::string>& lines, int from, int n) {
  int count = 0;
  for (int i = 0; i + n <= static_cast<int>(lines.size()); ++i) {
    int k = 0;
    while (k < n && lines[i + k] == lines[from + k]) ++k;
    if (k == n) ++count;
  }
  return count;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> RewriteRules(
    absl::string_view instructions) {
  std::vector<std::pair<std::string, std::string>> rules;
  const std::vector<absl::string_view> parts = absl::StrSplit(instructions, '`');
  for (size_t i = 1; i + 2 < parts.size(); i += 2) {
    const std::string sep =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(parts[i + 1]));
    if (sep == "->" || sep == "=>" || sep == "\xe2\x86\x92" || sep == "with" || sep == "to" ||
        sep == "by" || sep == "becomes") {
      if (!parts[i].empty() && parts[i] != parts[i + 2]) {
        rules.emplace_back(std::string(parts[i]), std::string(parts[i + 2]));
      }
      i += 2;
    }
  }
  std::stable_sort(rules.begin(), rules.end(), [](const auto& a, const auto& b) {
    return a.first.size() > b.first.size();
  });
  return rules;
}

std::string SimEditReply(const PromptFacts& facts, const CodegenOptions& options) {
  const std::string lang = facts.language.empty() ? LanguageForPath(facts.path) : facts.language;
  const std::vector<std::string> before = SplitLines(facts.current);
  std::vector<std::string> after = before;
  for (std::string& line : after) {
    if (facts.has_diagnostics && absl::EndsWith(line, kDefect)) {
      line.resize(line.size() - kDefect.size());  // the repair of the defect
    }
    for (const auto& [from, to] : RewriteRules(facts.instructions)) {
      if (absl::StrContains(line, from)) line = absl::StrReplaceAll(line, {{from, to}});
    }
  }

  // The changed regions as [begin, end) line ranges of `before`, with what
  // replaces each.
  struct Region {
    int begin, end;
    std::vector<std::string> lines;
  };
  std::vector<Region> regions;
  const int n = static_cast<int>(before.size());
  for (int i = 0; i < n; ++i) {
    if (before[i] == after[i]) continue;
    if (!regions.empty() && regions.back().end >= i - 1) {
      for (int k = regions.back().end; k <= i; ++k) regions.back().lines.push_back(after[k]);
      regions.back().end = i + 1;
    } else {
      regions.push_back({i, i + 1, {after[i]}});
    }
  }
  if (regions.empty() && RewriteRules(facts.instructions).empty() && !facts.has_diagnostics) {
    // Nothing to rewrite: the instruction as a comment at the top (after a
    // shebang, which must stay first).
    const std::string prefix = CommentPrefix(lang);
    std::string gist(absl::StripAsciiWhitespace(
        absl::string_view(facts.instructions).substr(0, facts.instructions.find('\n'))));
    if (gist.size() > 72) gist.resize(72);
    const std::string comment = absl::StrCat(prefix, gist);
    const int at = n > 0 && absl::StartsWith(before[0], "#!") ? 1 : 0;
    const bool has = at < n && before[at] == comment;
    if (!prefix.empty() && !gist.empty() && !has) {
      if (n == 0) {
        regions.push_back({0, 0, {comment}});
      } else if (at < n) {
        regions.push_back({at, at + 1, {comment, before[at]}});
      } else {
        regions.push_back({n - 1, n, {before[n - 1], comment}});
      }
    }
  }

  const bool defect = !facts.has_diagnostics && !regions.empty() &&
                      SimInjectsDefect(facts.path, options);
  const bool typo = defect && facts.search_replace && (Fnv(facts.path, options.seed) & 1);
  if (defect && !typo) {
    Region& r = regions.front();
    if (r.lines.empty()) r.lines.push_back("");
    absl::StrAppend(&r.lines.back(), kDefect);
  }

  if (!facts.search_replace) {
    std::vector<std::string> whole;
    int at = 0;
    for (const Region& r : regions) {
      for (; at < r.begin; ++at) whole.push_back(before[at]);
      whole.insert(whole.end(), r.lines.begin(), r.lines.end());
      at = std::max(at, r.end);
    }
    for (; at < static_cast<int>(before.size()); ++at) whole.push_back(before[at]);
    return absl::StrCat("```", lang, "\n", JoinLines(whole), "```\n");
  }
  if (regions.empty()) return "No change is needed: the file already does what the instructions ask.\n";

  std::vector<EditBlock> blocks;
  for (const Region& r : regions) {
    EditBlock b;
    if (r.begin == r.end && n == 0) {
      b.replace = JoinLines(r.lines);
      blocks.push_back(std::move(b));
      continue;
    }
    // A line of context each side, more until the SEARCH is unique.
    int from = std::max(0, r.begin - 1), to = std::min(n, r.end + 1);
    while (Occurrences(before, from, to - from) > 1 && (from > 0 || to < n)) {
      from = std::max(0, from - 1);
      to = std::min(n, to + 1);
    }
    std::vector<std::string> search(before.begin() + from, before.begin() + to);
    std::vector<std::string> replace(before.begin() + from, before.begin() + r.begin);
    replace.insert(replace.end(), r.lines.begin(), r.lines.end());
    replace.insert(replace.end(), before.begin() + r.end, before.begin() + to);
    b.search = JoinLines(search);
    b.replace = JoinLines(replace);
    blocks.push_back(std::move(b));
  }
  if (typo) {
    // The first block's SEARCH misquotes its first changed line.
    EditBlock& b = blocks.front();
    const size_t at = b.search.find(before[regions.front().begin]);
    if (at != std::string::npos) {
      b.search.insert(at + before[regions.front().begin].size(), "_");
    }
  }
  return absl::StrCat(facts.path, "\n```", lang, "\n", FormatEditBlocks(blocks), "```\n");
}

}  // namespace kiln
