#include "edit/search_replace.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "edit/affix.h"

namespace kiln {
namespace {

enum class Marker { kNone, kSearch, kDivider, kReplace };

Marker MarkerOf(absl::string_view line) {
  line = absl::StripTrailingAsciiWhitespace(line);
  auto run = [&](char c, absl::string_view word) {
    size_t n = 0;
    while (n < line.size() && line[n] == c) ++n;
    if (n < 5 || n > 9) return false;
    absl::string_view rest = line.substr(n);
    absl::ConsumePrefix(&rest, " ");
    return rest == word;
  };
  if (run('<', "SEARCH")) return Marker::kSearch;
  if (run('=', "")) return Marker::kDivider;
  if (run('>', "REPLACE")) return Marker::kReplace;
  return Marker::kNone;
}

// A text's lines without their "\n" (a final "\n" ends the last line, it
// does not start an empty one).
std::vector<absl::string_view> Lines(absl::string_view text) {
  std::vector<absl::string_view> out;
  if (text.empty()) return out;
  if (text.back() == '\n') text.remove_suffix(1);
  for (absl::string_view l : absl::StrSplit(text, '\n')) out.push_back(l);
  return out;
}

absl::string_view Indent(absl::string_view line) {
  size_t n = 0;
  while (n < line.size() && (line[n] == ' ' || line[n] == '\t')) ++n;
  return line.substr(0, n);
}

enum class Tier { kExact, kTrailing, kIndent };

bool LineEq(absl::string_view a, absl::string_view b, Tier tier) {
  switch (tier) {
    case Tier::kExact:
      return a == b;
    case Tier::kTrailing:
      return absl::StripTrailingAsciiWhitespace(a) ==
             absl::StripTrailingAsciiWhitespace(b);
    case Tier::kIndent:
      return absl::StripAsciiWhitespace(a) == absl::StripAsciiWhitespace(b);
  }
  return false;
}

struct Found {
  Tier tier = Tier::kExact;
  std::vector<int> at;  // first lines, 0-based
};

Found Locate(const std::vector<absl::string_view>& file,
             const std::vector<absl::string_view>& search) {
  Found f;
  const int n = static_cast<int>(file.size());
  const int m = static_cast<int>(search.size());
  for (Tier tier : {Tier::kExact, Tier::kTrailing, Tier::kIndent}) {
    f.tier = tier;
    for (int i = 0; i + m <= n; ++i) {
      int k = 0;
      while (k < m && LineEq(file[i + k], search[k], tier)) ++k;
      if (k == m) f.at.push_back(i);
    }
    if (!f.at.empty()) return f;
  }
  return f;
}

// How alike two lines are, in [0, 1]: the share of the longer one that a
// common head and tail cover (indentation ignored).
double Likeness(absl::string_view a, absl::string_view b) {
  a = absl::StripAsciiWhitespace(a);
  b = absl::StripAsciiWhitespace(b);
  if (a == b) return 1.0;
  const size_t longest = std::max(a.size(), b.size());
  if (longest == 0) return 1.0;
  const auto [head, tail] = CommonHeadTail(a, b);
  return static_cast<double>(head + tail) / static_cast<double>(longest);
}

void Closest(const std::vector<absl::string_view>& file,
             const std::vector<absl::string_view>& search, BlockFailure* out) {
  const int n = static_cast<int>(file.size());
  const int m = static_cast<int>(search.size());
  if (n == 0 || m == 0) return;
  const int window = std::min(m, n);
  // Bounded work on huge files: compare only every so many starts.
  const int64_t work = static_cast<int64_t>(n) * window;
  const int step = static_cast<int>(std::max<int64_t>(1, work / 4000000));
  double best = 0;
  int best_at = -1;
  for (int i = 0; i + window <= n; i += step) {
    double score = 0;
    for (int k = 0; k < window; ++k) score += Likeness(file[i + k], search[k]);
    if (score > best) {
      best = score;
      best_at = i;
    }
  }
  if (best_at < 0 || best / window < 0.3) return;
  const int from = std::max(0, best_at - 1);
  const int to = std::min(n, best_at + window + 1);
  const int shown = std::min(to, from + 20);
  for (int i = from; i < shown; ++i) {
    absl::StrAppendFormat(&out->closest, "%6d | %s\n", i + 1, file[i]);
  }
  out->closest_line = from + 1;
}

void AppendLines(const std::vector<absl::string_view>& lines, int from, int to,
                 std::vector<std::string>* out) {
  for (int i = from; i < to; ++i) out->emplace_back(lines[i]);
}

}  // namespace

bool HasEditMarkers(absl::string_view reply) {
  for (absl::string_view line : absl::StrSplit(reply, '\n')) {
    if (MarkerOf(absl::StripSuffix(line, "\r")) != Marker::kNone) return true;
  }
  return false;
}

absl::StatusOr<std::vector<EditBlock>> ParseEditBlocks(absl::string_view reply) {
  std::vector<EditBlock> blocks;
  enum { kOutside, kSearch, kReplace } state = kOutside;
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(reply, '\n')) {
    ++line_no;
    const absl::string_view line = absl::StripSuffix(raw, "\r");
    const Marker m = MarkerOf(line);
    switch (state) {
      case kOutside:
        if (m == Marker::kSearch) {
          blocks.emplace_back();
          blocks.back().reply_line = line_no;
          state = kSearch;
        } else if (m != Marker::kNone) {
          return absl::InvalidArgumentError(absl::StrCat(
              "reply line ", line_no, ": `", line,
              "` outside a SEARCH/REPLACE block (a block starts with `<<<<<<< SEARCH`)"));
        }
        break;
      case kSearch:
        if (m == Marker::kDivider) {
          state = kReplace;
        } else if (m != Marker::kNone) {
          return absl::InvalidArgumentError(absl::StrCat(
              "reply line ", line_no, ": block ", blocks.size(),
              " (reply line ", blocks.back().reply_line,
              ") has no `=======` line between its SEARCH and REPLACE parts"));
        } else {
          absl::StrAppend(&blocks.back().search, line, "\n");
        }
        break;
      case kReplace:
        if (m == Marker::kReplace) {
          state = kOutside;
        } else if (m == Marker::kSearch) {
          return absl::InvalidArgumentError(absl::StrCat(
              "reply line ", line_no, ": block ", blocks.size(),
              " (reply line ", blocks.back().reply_line,
              ") has no `>>>>>>> REPLACE` line"));
        } else {
          absl::StrAppend(&blocks.back().replace, line, "\n");
        }
        break;
    }
  }
  if (state != kOutside) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block ", blocks.size(), " (reply line ", blocks.back().reply_line,
        ") is not finished: the reply ends before its `",
        state == kSearch ? "=======" : ">>>>>>> REPLACE", "` line"));
  }
  return blocks;
}

std::string FormatEditBlocks(const std::vector<EditBlock>& blocks) {
  std::string out;
  for (const EditBlock& b : blocks) {
    absl::StrAppend(&out, "<<<<<<< SEARCH\n", b.search, "=======\n", b.replace,
                    ">>>>>>> REPLACE\n");
  }
  return out;
}

EditOutcome ApplyEditBlocks(absl::string_view text,
                            const std::vector<EditBlock>& blocks) {
  EditOutcome out;
  const std::vector<absl::string_view> file = Lines(text);
  const bool final_newline = text.empty() || text.back() == '\n';
  struct Region {
    int begin, end;  // lines [begin, end) of the file
    int block;
    std::vector<std::string> lines;  // what replaces them
  };
  std::vector<Region> regions;
  for (int b = 0; b < static_cast<int>(blocks.size()); ++b) {
    const std::vector<absl::string_view> search = Lines(blocks[b].search);
    const std::vector<absl::string_view> replace = Lines(blocks[b].replace);
    Region r;
    r.block = b;
    if (search.empty()) {  // append
      r.begin = r.end = static_cast<int>(file.size());
      for (absl::string_view l : replace) r.lines.emplace_back(l);
      regions.push_back(std::move(r));
      continue;
    }
    const Found f = Locate(file, search);
    if (f.at.size() != 1) {
      BlockFailure fail;
      fail.block = b;
      if (f.at.empty()) {
        fail.kind = BlockFailure::kNoMatch;
        Closest(file, search, &fail);
      } else {
        fail.kind = BlockFailure::kAmbiguous;
        for (int at : f.at) fail.match_lines.push_back(at + 1);
      }
      out.failed.push_back(std::move(fail));
      continue;
    }
    r.begin = f.at[0];
    r.end = r.begin + static_cast<int>(search.size());
    const Region* clash = nullptr;
    for (const Region& o : regions) {
      if (o.begin < r.end && r.begin < o.end) clash = &o;
    }
    if (clash != nullptr) {
      BlockFailure fail;
      fail.block = b;
      fail.kind = BlockFailure::kOverlap;
      fail.overlaps = clash->block;
      out.failed.push_back(std::move(fail));
      continue;
    }
    // Re-indent by the difference a tolerant match found.
    std::string from, to;
    if (f.tier == Tier::kIndent) {
      for (size_t k = 0; k < search.size(); ++k) {
        if (absl::StripAsciiWhitespace(search[k]).empty()) continue;
        from = std::string(Indent(search[k]));
        to = std::string(Indent(file[r.begin + k]));
        break;
      }
    }
    for (absl::string_view l : replace) {
      if (from != to && !absl::StripAsciiWhitespace(l).empty() &&
          absl::StartsWith(l, from)) {
        r.lines.push_back(absl::StrCat(to, l.substr(from.size())));
      } else {
        r.lines.emplace_back(l);
      }
    }
    if (f.tier != Tier::kExact) out.tolerant++;
    regions.push_back(std::move(r));
  }
  out.applied = static_cast<int>(regions.size());
  std::stable_sort(regions.begin(), regions.end(),
                   [](const Region& a, const Region& b) { return a.begin < b.begin; });
  std::vector<std::string> lines;
  int at = 0;
  for (const Region& r : regions) {
    AppendLines(file, at, r.begin, &lines);
    lines.insert(lines.end(), r.lines.begin(), r.lines.end());
    at = std::max(at, r.end);
  }
  AppendLines(file, at, static_cast<int>(file.size()), &lines);
  out.text = absl::StrJoin(lines, "\n");
  if (!lines.empty() && final_newline) out.text += '\n';
  return out;
}

std::string DescribeFailures(absl::string_view path,
                             const std::vector<EditBlock>& blocks,
                             const EditOutcome& outcome) {
  std::string out = absl::StrFormat(
      "%d of the %d SEARCH/REPLACE blocks for `%s` did not apply. The other %d "
      "did: the current file has them. Reply with corrected blocks for the "
      "failed ones only.\n",
      outcome.failed.size(), blocks.size(), path, outcome.applied);
  for (const BlockFailure& f : outcome.failed) {
    const EditBlock& b = blocks[f.block];
    absl::StrAppendFormat(&out, "\nBlock %d (reply line %d) ", f.block + 1, b.reply_line);
    switch (f.kind) {
      case BlockFailure::kNoMatch:
        out += "matched no lines of the file";
        break;
      case BlockFailure::kAmbiguous:
        absl::StrAppend(&out, "matched ", f.match_lines.size(),
                        " places (lines ", absl::StrJoin(f.match_lines, ", "),
                        "): add unchanged lines around it so that it matches one");
        break;
      case BlockFailure::kOverlap:
        absl::StrAppend(&out, "changes lines that block ", f.overlaps + 1,
                        " also changes: merge the two into one block");
        break;
    }
    absl::StrAppend(&out, ":\n", FormatEditBlocks({b}));
    if (f.kind == BlockFailure::kNoMatch) {
      if (f.closest.empty()) {
        out += "No lines of the file resemble its SEARCH part.\n";
      } else {
        absl::StrAppend(&out, "The closest lines of the file (from line ",
                        f.closest_line, "):\n", f.closest);
      }
    }
  }
  return out;
}

}  // namespace kiln
