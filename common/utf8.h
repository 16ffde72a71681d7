// UTF-8 checks for text that users hand to Kiln (specs, file paths): where
// the first invalid byte is, which code points hide or reorder text, and
// canonical equivalence (two spellings of one name).
#ifndef KILN_COMMON_UTF8_H_
#define KILN_COMMON_UTF8_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace kiln {

// Where a text stops being valid UTF-8.
struct Utf8Error {
  size_t offset = 0;  // of the first bad byte
  int line = 1;       // 1-based
  int column = 1;     // 1-based, in code points
  unsigned char byte = 0;

  // "invalid UTF-8 (byte 0xE9 starts no valid sequence)".
  std::string Message() const;
};

// The first position where `text` is not well-formed UTF-8 (overlong forms,
// surrogates and code points past U+10FFFF included), or nullopt.
absl::optional<Utf8Error> FindInvalidUtf8(absl::string_view text);

// A code point that is invisible or changes the display order of text:
// bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
// U+061C) and zero-width ones (U+200B-U+200D, U+2060, U+FEFF, U+180E,
// U+00AD). `text` must be valid UTF-8.
struct HiddenCodePoint {
  char32_t code_point = 0;
  size_t offset = 0;
  // "U+202E (right-to-left override)".
  std::string Describe() const;
};
absl::optional<HiddenCodePoint> FindHiddenCodePoint(absl::string_view text);

// The canonical decomposition (NFD) of valid UTF-8 `text`: two strings are
// canonically equivalent (the same after NFC or NFD normalization) exactly
// when their decompositions are equal.
std::string CanonicalDecomposition(absl::string_view text);

}  // namespace kiln

#endif  // KILN_COMMON_UTF8_H_
