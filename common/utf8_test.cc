#include "common/utf8.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(FindInvalidUtf8, AcceptsWellFormedText) {
  EXPECT_FALSE(FindInvalidUtf8("").has_value());
  EXPECT_FALSE(FindInvalidUtf8("plain ascii\n").has_value());
  EXPECT_FALSE(FindInvalidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80").has_value());
}

TEST(FindInvalidUtf8, NamesLineColumnAndByte) {
  auto e = FindInvalidUtf8("a: 1\nb: caf\xE9 x\n");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->line, 2);
  EXPECT_EQ(e->column, 7);
  EXPECT_EQ(e->byte, 0xE9);
  EXPECT_EQ(e->offset, 11u);
  EXPECT_EQ(e->Message(), "invalid UTF-8 (byte 0xE9 at offset 11)");
  // Columns count code points, not bytes.
  e = FindInvalidUtf8("\xC3\xA9\xC3\xA9\xFF");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->column, 3);
}

TEST(FindInvalidUtf8, RefusesOverlongSurrogatesAndTruncation) {
  EXPECT_TRUE(FindInvalidUtf8("\xC0\xAF").has_value());          // overlong '/'
  EXPECT_TRUE(FindInvalidUtf8("\xE0\x80\xAF").has_value());      // overlong
  EXPECT_TRUE(FindInvalidUtf8("\xED\xA0\x80").has_value());      // U+D800
  EXPECT_TRUE(FindInvalidUtf8("\xF4\x90\x80\x80").has_value());  // > U+10FFFF
  EXPECT_TRUE(FindInvalidUtf8("ok\xE2\x82").has_value());        // cut short
  EXPECT_TRUE(FindInvalidUtf8("\x80").has_value());              // lone continuation
}

TEST(FindHiddenCodePoint, FindsBidiAndZeroWidth) {
  EXPECT_FALSE(FindHiddenCodePoint("src/caf\xC3\xA9.py").has_value());
  auto h = FindHiddenCodePoint("src/a\xE2\x80\xAE" "yp.exe");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->code_point, 0x202Eu);
  EXPECT_EQ(h->offset, 5u);
  EXPECT_EQ(h->Describe(), "U+202E (right-to-left override)");
  h = FindHiddenCodePoint("a\xE2\x80\x8B" "b");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->Describe(), "U+200B (zero-width space)");
  EXPECT_TRUE(FindHiddenCodePoint("\xEF\xBB\xBFx").has_value());  // BOM
  EXPECT_TRUE(FindHiddenCodePoint("\xE2\x81\xA6x").has_value());  // LRI
}

TEST(CanonicalDecomposition, PrecomposedAndCombiningSpellingsAreEqual) {
  // "é" as U+00E9 and as e + U+0301.
  EXPECT_EQ(CanonicalDecomposition("caf\xC3\xA9.py"),
            CanonicalDecomposition("cafe\xCC\x81.py"));
  EXPECT_NE(CanonicalDecomposition("cafe.py"),
            CanonicalDecomposition("caf\xC3\xA9.py"));
  // Hangul syllable 한 = U+1112 U+1161 U+11AB.
  EXPECT_EQ(CanonicalDecomposition("\xED\x95\x9C"),
            "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB");
  // Combining marks are put in canonical order: a + dot below (220) +
  // acute (230) in either order.
  EXPECT_EQ(CanonicalDecomposition("a\xCC\x81\xCC\xA3"),
            CanonicalDecomposition("a\xCC\xA3\xCC\x81"));
  // Angstrom sign U+212B is canonically A + ring above.
  EXPECT_EQ(CanonicalDecomposition("\xE2\x84\xAB"), "A\xCC\x8A");
  // Compatibility forms are not folded (ﬁ stays itself).
  EXPECT_EQ(CanonicalDecomposition("\xEF\xAC\x81"), "\xEF\xAC\x81");
}

}  // namespace
}  // namespace kiln
