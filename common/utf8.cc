#include "common/utf8.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_format.h"

namespace kiln {
namespace {

struct CanonicalStep {
  char32_t code_point;
  char32_t first;
  char32_t second;
};
struct CombiningClass {
  char32_t code_point;
  unsigned char value;
};
#include "common/unicode_tables.inc"

// Decodes one well-formed sequence at text[i]; returns its length, 0 when
// it is not well-formed.
size_t DecodeOne(absl::string_view text, size_t i, char32_t* out) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) {
    *out = c;
    return 1;
  }
  size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *out = cp;
  return len;
}

void Encode(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const char* HiddenName(char32_t cp) {
  switch (cp) {
    case 0x00AD: return "soft hyphen";
    case 0x061C: return "Arabic letter mark";
    case 0x180E: return "Mongolian vowel separator";
    case 0x200B: return "zero-width space";
    case 0x200C: return "zero-width non-joiner";
    case 0x200D: return "zero-width joiner";
    case 0x200E: return "left-to-right mark";
    case 0x200F: return "right-to-left mark";
    case 0x202A: return "left-to-right embedding";
    case 0x202B: return "right-to-left embedding";
    case 0x202C: return "pop directional formatting";
    case 0x202D: return "left-to-right override";
    case 0x202E: return "right-to-left override";
    case 0x2060: return "word joiner";
    case 0x2066: return "left-to-right isolate";
    case 0x2067: return "right-to-left isolate";
    case 0x2068: return "first strong isolate";
    case 0x2069: return "pop directional isolate";
    case 0xFEFF: return "zero-width no-break space";
    default: return nullptr;
  }
}

void Decompose(char32_t cp, std::vector<char32_t>* out) {
  // Hangul syllables, by the Unicode algorithm (section 3.12).
  constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161,
                     kTBase = 0x11A7;
  constexpr int kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                kSCount = 19 * kNCount;
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = static_cast<int>(cp - kSBase);
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const auto* end = std::end(kCanonicalSteps);
  const auto* it = std::lower_bound(
      std::begin(kCanonicalSteps), end, cp,
      [](const CanonicalStep& s, char32_t c) { return s.code_point < c; });
  if (it == end || it->code_point != cp) {
    out->push_back(cp);
    return;
  }
  Decompose(it->first, out);
  if (it->second != 0) Decompose(it->second, out);
}

int CombiningClassOf(char32_t cp) {
  const auto* end = std::end(kCombiningClasses);
  const auto* it = std::lower_bound(
      std::begin(kCombiningClasses), end, cp,
      [](const CombiningClass& c, char32_t v) { return c.code_point < v; });
  return it != end && it->code_point == cp ? it->value : 0;
}

}  // namespace

std::string Utf8Error::Message() const {
  return absl::StrFormat("invalid UTF-8 (byte 0x%02X at offset %d)", byte,
                         offset);
}

absl::optional<Utf8Error> FindInvalidUtf8(absl::string_view text) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t n = DecodeOne(text, i, &cp);
    if (n == 0) {
      Utf8Error e;
      e.offset = i;
      e.line = line;
      e.column = column;
      e.byte = static_cast<unsigned char>(text[i]);
      return e;
    }
    if (cp == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += n;
  }
  return absl::nullopt;
}

std::string HiddenCodePoint::Describe() const {
  const char* name = HiddenName(code_point);
  return absl::StrFormat("U+%04X (%s)", static_cast<uint32_t>(code_point),
                         name != nullptr ? name : "invisible");
}

absl::optional<HiddenCodePoint> FindHiddenCodePoint(absl::string_view text) {
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t n = DecodeOne(text, i, &cp);
    if (n == 0) {
      ++i;
      continue;
    }
    if (HiddenName(cp) != nullptr) return HiddenCodePoint{cp, i};
    i += n;
  }
  return absl::nullopt;
}

std::string CanonicalDecomposition(absl::string_view text) {
  std::vector<char32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    const size_t n = DecodeOne(text, i, &cp);
    if (n == 0) {  // not UTF-8: kept byte for byte, as U+FFFD would merge them
      cps.push_back(0x110000 + static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    Decompose(cp, &cps);
    i += n;
  }
  // Canonical ordering: stable sort of each run of non-starters by class.
  for (size_t i = 0; i < cps.size();) {
    if (CombiningClassOf(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && CombiningClassOf(cps[j]) != 0) ++j;
    std::stable_sort(cps.begin() + i, cps.begin() + j,
                     [](char32_t a, char32_t b) {
                       return CombiningClassOf(a) < CombiningClassOf(b);
                     });
    i = j;
  }
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : cps) {
    if (cp >= 0x110000) {
      out.push_back(static_cast<char>(cp - 0x110000));
    } else {
      Encode(cp, &out);
    }
  }
  return out;
}

}  // namespace kiln
