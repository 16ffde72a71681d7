#include "edit/text_file.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace kiln {
namespace {

TEST(CheckEditable, RefusesBinaryNonUtf8AndLargeFilesNamingThem) {
  EXPECT_TRUE(CheckEditable("svc", "a.py", "x = 1\n", 100).ok());
  absl::Status s = CheckEditable("svc", "img.py", std::string("ab\0cd", 5), 100);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.message(), "svc: img.py: a binary file")) << s;
  s = CheckEditable("svc", "latin1.py", "caf\xe9\n", 100);
  EXPECT_TRUE(absl::StrContains(s.message(), "not UTF-8")) << s;
  s = CheckEditable("svc", "big.py", std::string(101, 'x'), 100);
  EXPECT_TRUE(absl::StrContains(s.message(), "101 bytes, over the 100-byte limit")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "limits.max_file_bytes"));
}

TEST(LineEndings, CrlfIsKept) {
  const std::string file = "a\r\nb\r\n";
  const LineEndings e = EndingsOf(file);
  EXPECT_TRUE(e.crlf);
  EXPECT_TRUE(e.final_newline);
  EXPECT_EQ(ToLf(file), "a\nb\n");
  EXPECT_EQ(WithEndings("a\nB\nc\n", e), "a\r\nB\r\nc\r\n");
}

TEST(LineEndings, MissingFinalNewlineIsKept) {
  const LineEndings e = EndingsOf("a\nb");
  EXPECT_FALSE(e.crlf);
  EXPECT_FALSE(e.final_newline);
  EXPECT_EQ(WithEndings("a\nB\n", e), "a\nB");
  EXPECT_EQ(WithEndings("a\nB", EndingsOf("x\n")), "a\nB\n");
  EXPECT_EQ(WithEndings("", e), "");
}

TEST(CountLineChanges, CountsAShortestDiff) {
  LineDelta d = CountLineChanges("a\nb\nc\nd\n", "a\nB\nc\nd\ne\n");
  EXPECT_EQ(d.added, 2);
  EXPECT_EQ(d.removed, 1);
  d = CountLineChanges("", "x\ny\n");
  EXPECT_EQ(d.added, 2);
  EXPECT_EQ(d.removed, 0);
  d = CountLineChanges("same\n", "same\n");
  EXPECT_EQ(d.added + d.removed, 0);
}

TEST(CountLineChanges, LargeRewritesStayCheap) {
  std::string a, b;
  for (int i = 0; i < 20000; ++i) {
    a += "line " + std::to_string(i) + "\n";
    b += "other " + std::to_string(i) + "\n";
  }
  const LineDelta d = CountLineChanges(a, b);
  EXPECT_EQ(d.added, 20000);
  EXPECT_EQ(d.removed, 20000);
}

}  // namespace
}  // namespace kiln
