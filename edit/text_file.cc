#include "edit/text_file.h"

#include <algorithm>
#include <unordered_map>

#include "absl/container/flat_hash_map.h"
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"
#include "edit/affix.h"

namespace kiln {

absl::Status CheckEditable(absl::string_view repo, absl::string_view path,
                           absl::string_view content, int64_t max_bytes) {
  const std::string where = absl::StrCat(repo, ": ", path);
  if (max_bytes <= 0) max_bytes = kDefaultMaxEditBytes;
  if (static_cast<int64_t>(content.size()) > max_bytes) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s: %d bytes, over the %d-byte limit of files Kiln edits "
        "(limits.max_file_bytes)",
        where, content.size(), max_bytes));
  }
  if (const size_t nul = content.find('\0'); nul != absl::string_view::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": a binary file (a NUL byte at offset ", nul, "): not edited"));
  }
  if (absl::optional<Utf8Error> bad = FindInvalidUtf8(content)) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": not UTF-8 text (line ", bad->line, ": ", bad->Message(),
        "): not edited"));
  }
  return absl::OkStatus();
}

LineEndings EndingsOf(absl::string_view content) {
  LineEndings e;
  int64_t lf = 0, crlf = 0;
  for (size_t i = 0; i < content.size(); ++i) {
    if (content[i] != '\n') continue;
    ++lf;
    if (i > 0 && content[i - 1] == '\r') ++crlf;
  }
  e.crlf = crlf > 0 && crlf * 2 >= lf;
  e.final_newline = content.empty() || content.back() == '\n';
  return e;
}

std::string ToLf(absl::string_view content) {
  return absl::StrReplaceAll(content, {{"\r\n", "\n"}});
}

std::string WithEndings(absl::string_view edited, const LineEndings& endings) {
  std::string out = ToLf(edited);
  if (out.empty()) return out;
  if (endings.final_newline) {
    if (out.back() != '\n') out += '\n';
  } else {
    while (!out.empty() && out.back() == '\n') out.pop_back();
  }
  if (endings.crlf) out = absl::StrReplaceAll(out, {{"\n", "\r\n"}});
  return out;
}

namespace {

// Lines as small integers (equal lines, equal ids).
std::vector<int> LineIds(absl::string_view text,
                         absl::flat_hash_map<absl::string_view, int>* ids) {
  std::vector<int> out;
  if (text.empty()) return out;
  if (text.back() == '\n') text.remove_suffix(1);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    auto [it, fresh] = ids->emplace(line, static_cast<int>(ids->size()));
    out.push_back(it->second);
  }
  return out;
}

// Length of the shortest edit script (insertions + deletions) between a and
// b: Myers' O((N+M)D) greedy forward search, given up (-1) past `limit`.
int64_t EditDistance(const std::vector<int>& a, const std::vector<int>& b,
                     int64_t limit) {
  const int64_t n = static_cast<int64_t>(a.size());
  const int64_t m = static_cast<int64_t>(b.size());
  const int64_t max = n + m;
  if (max == 0) return 0;
  std::vector<int64_t> v(2 * max + 2, 0);
  const int64_t off = max;
  for (int64_t d = 0; d <= max; ++d) {
    if (d > limit) return -1;
    for (int64_t k = -d; k <= d; k += 2) {
      int64_t x;
      if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1])) {
        x = v[off + k + 1];
      } else {
        x = v[off + k - 1] + 1;
      }
      int64_t y = x - k;
      while (x < n && y < m && a[x] == b[y]) {
        ++x;
        ++y;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return d;
    }
  }
  return max;
}

}  // namespace

LineDelta CountLineChanges(absl::string_view before, absl::string_view after) {
  absl::flat_hash_map<absl::string_view, int> ids;
  std::vector<int> a = LineIds(before, &ids);
  std::vector<int> b = LineIds(after, &ids);
  // The common head and tail cost nothing; only the middle is searched.
  const auto [head, tail] = CommonHeadTail(a, b);
  std::vector<int> ma(a.begin() + head, a.end() - tail);
  std::vector<int> mb(b.begin() + head, b.end() - tail);
  int64_t d = EditDistance(ma, mb, /*limit=*/4096);
  if (d < 0) {
    // A rewrite: the lines of each side the other side lacks (as multisets),
    // which a shortest diff can only match or beat by a little.
    std::unordered_map<int, int64_t> count;
    for (int x : ma) count[x]++;
    int64_t common = 0;
    for (int x : mb) {
      auto it = count.find(x);
      if (it != count.end() && it->second > 0) {
        it->second--;
        ++common;
      }
    }
    d = static_cast<int64_t>(ma.size() + mb.size()) - 2 * common;
  }
  // d = added + removed and removed - added = |a| - |b|.
  const int64_t diff = static_cast<int64_t>(ma.size()) - static_cast<int64_t>(mb.size());
  LineDelta out;
  out.removed = (d + diff) / 2;
  out.added = (d - diff) / 2;
  return out;
}

}  // namespace kiln
