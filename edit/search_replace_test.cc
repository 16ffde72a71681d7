#include "edit/search_replace.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

namespace kiln {
namespace {

std::vector<EditBlock> Blocks(const std::string& reply) {
  absl::StatusOr<std::vector<EditBlock>> b = ParseEditBlocks(reply);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : std::vector<EditBlock>{};
}

EditBlock Block(std::string search, std::string replace) {
  return EditBlock{std::move(search), std::move(replace), 1};
}

TEST(ParseEditBlocks, ReadsBlocksAndIgnoresTheTextAround) {
  const std::vector<EditBlock> b = Blocks(
      "Here is the change.\n"
      "svc/a.py\n"
      "```python\n"
      "<<<<<<< SEARCH\n"
      "import http_client\n"
      "=======\n"
      "from transport import Session\n"
      ">>>>>>> REPLACE\n"
      "```\n"
      "<<<<<<< SEARCH\r\n"
      "x = 1\r\n"
      "=======\r\n"
      ">>>>>>> REPLACE\r\n");
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].search, "import http_client\n");
  EXPECT_EQ(b[0].replace, "from transport import Session\n");
  EXPECT_EQ(b[0].reply_line, 4);
  EXPECT_EQ(b[1].search, "x = 1\n");
  EXPECT_EQ(b[1].replace, "");
}

TEST(ParseEditBlocks, NoMarkersMeansNoBlocks) {
  EXPECT_FALSE(HasEditMarkers("No change is needed."));
  EXPECT_TRUE(Blocks("No change is needed.").empty());
}

TEST(ParseEditBlocks, AnUnfinishedBlockNamesItsLine) {
  absl::StatusOr<std::vector<EditBlock>> b =
      ParseEditBlocks("intro\n<<<<<<< SEARCH\nx\n=======\ny\n");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "reply line 2"));
  EXPECT_TRUE(absl::StrContains(b.status().message(), ">>>>>>> REPLACE"));
  b = ParseEditBlocks("<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n");
  ASSERT_FALSE(b.ok());
  EXPECT_TRUE(absl::StrContains(b.status().message(), "no `=======`"));
  b = ParseEditBlocks("=======\n");
  EXPECT_FALSE(b.ok());
}

TEST(ApplyEditBlocks, ExactMatchKeepsTheRestByteForByte) {
  const std::string file = "a\n  b\nc\nd\n";
  EditOutcome o = ApplyEditBlocks(file, {Block("  b\nc\n", "  B\nC\n")});
  EXPECT_TRUE(o.failed.empty());
  EXPECT_EQ(o.text, "a\n  B\nC\nd\n");
  EXPECT_EQ(o.applied, 1);
  EXPECT_EQ(o.tolerant, 0);
}

TEST(ApplyEditBlocks, TrailingWhitespaceIsTolerated) {
  EditOutcome o = ApplyEditBlocks("a  \nb\t\nc\n", {Block("a\nb\n", "x\n")});
  EXPECT_TRUE(o.failed.empty());
  EXPECT_EQ(o.text, "x\nc\n");
  EXPECT_EQ(o.tolerant, 1);
}

TEST(ApplyEditBlocks, IndentationIsToleratedAndReplaceReindented) {
  const std::string file = "def f():\n    if x:\n        y()\n    return 1\n";
  EditOutcome o =
      ApplyEditBlocks(file, {Block("if x:\n    y()\n", "if x:\n    z()\n    w()\n")});
  ASSERT_TRUE(o.failed.empty());
  EXPECT_EQ(o.text, "def f():\n    if x:\n        z()\n        w()\n    return 1\n");
  EXPECT_EQ(o.tolerant, 1);
}

TEST(ApplyEditBlocks, AmbiguousBlockFailsWithItsMatches) {
  const std::string file = "x = 1\ny\nx = 1\n";
  EditOutcome o = ApplyEditBlocks(file, {Block("x = 1\n", "x = 2\n")});
  ASSERT_EQ(o.failed.size(), 1u);
  EXPECT_EQ(o.failed[0].kind, BlockFailure::kAmbiguous);
  EXPECT_EQ(o.failed[0].match_lines, (std::vector<int>{1, 3}));
  EXPECT_EQ(o.text, file);
  const std::string d = DescribeFailures("a.py", {Block("x = 1\n", "x = 2\n")}, o);
  EXPECT_TRUE(absl::StrContains(d, "Block 1 (reply line 1) matched 2 places (lines 1, 3)"));
}

TEST(ApplyEditBlocks, MissingBlockFailsAloneAndQuotesTheClosestLines) {
  const std::string file = "import os\n\ndef fetch(url):\n    return http_client.get(url)\n";
  const std::vector<EditBlock> blocks = {
      Block("import os\n", "import os\nimport sys\n"),
      Block("def fetch(uri):\n    return http_client.get(uri)\n", "x\n")};
  EditOutcome o = ApplyEditBlocks(file, blocks);
  ASSERT_EQ(o.failed.size(), 1u);
  EXPECT_EQ(o.failed[0].block, 1);
  EXPECT_EQ(o.failed[0].kind, BlockFailure::kNoMatch);
  EXPECT_EQ(o.applied, 1);
  EXPECT_TRUE(absl::StartsWith(o.text, "import os\nimport sys\n"));
  const std::string d = DescribeFailures("svc/a.py", blocks, o);
  EXPECT_TRUE(absl::StrContains(d, "1 of the 2 SEARCH/REPLACE blocks for `svc/a.py`"));
  EXPECT_TRUE(absl::StrContains(d, "Block 2 (reply line 1) matched no lines"));
  EXPECT_TRUE(absl::StrContains(d, "     3 | def fetch(url):")) << d;
  EXPECT_TRUE(absl::StrContains(d, "def fetch(uri):"));  // the block itself
}

TEST(ApplyEditBlocks, NothingAlikeSaysSo) {
  EditOutcome o = ApplyEditBlocks("alpha\nbeta\n", {Block("zzzzzzzzzz qqq\n", "x\n")});
  ASSERT_EQ(o.failed.size(), 1u);
  EXPECT_TRUE(o.failed[0].closest.empty());
  EXPECT_TRUE(absl::StrContains(DescribeFailures("f", {Block("zzzzzzzzzz qqq\n", "x\n")}, o),
                                "No lines of the file resemble"));
}

TEST(ApplyEditBlocks, OverlappingBlocksConflict) {
  const std::string file = "a\nb\nc\nd\n";
  const std::vector<EditBlock> blocks = {Block("a\nb\n", "A\nB\n"), Block("b\nc\n", "X\n")};
  EditOutcome o = ApplyEditBlocks(file, blocks);
  ASSERT_EQ(o.failed.size(), 1u);
  EXPECT_EQ(o.failed[0].kind, BlockFailure::kOverlap);
  EXPECT_EQ(o.failed[0].overlaps, 0);
  EXPECT_EQ(o.text, "A\nB\nc\nd\n");
  EXPECT_TRUE(absl::StrContains(DescribeFailures("f", blocks, o), "block 1 also changes"));
}

TEST(ApplyEditBlocks, BlocksApplyInAnyOrder) {
  EditOutcome o = ApplyEditBlocks("a\nb\nc\n", {Block("c\n", "C\n"), Block("a\n", "A\n")});
  EXPECT_TRUE(o.failed.empty());
  EXPECT_EQ(o.text, "A\nb\nC\n");
}

TEST(ApplyEditBlocks, EmptySearchAppends) {
  EXPECT_EQ(ApplyEditBlocks("a\n", {Block("", "b\nc\n")}).text, "a\nb\nc\n");
  EXPECT_EQ(ApplyEditBlocks("", {Block("", "new\n")}).text, "new\n");
  // A file without a final newline keeps it that way.
  EXPECT_EQ(ApplyEditBlocks("a", {Block("", "b\n")}).text, "a\nb");
}

TEST(ApplyEditBlocks, EmptyReplaceDeletes) {
  EXPECT_EQ(ApplyEditBlocks("a\nb\nc\n", {Block("b\n", "")}).text, "a\nc\n");
  EXPECT_EQ(ApplyEditBlocks("a\n", {Block("a\n", "")}).text, "");
}

TEST(ApplyEditBlocks, LastLineWithoutNewlineMatches) {
  EditOutcome o = ApplyEditBlocks("a\nlast", {Block("last\n", "final\n")});
  EXPECT_TRUE(o.failed.empty());
  EXPECT_EQ(o.text, "a\nfinal");
}

TEST(FormatEditBlocks, RoundTrips) {
  const std::vector<EditBlock> in = {Block("a\n", "b\n"), Block("", "c\n")};
  const std::vector<EditBlock> out = Blocks(FormatEditBlocks(in));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].search, "a\n");
  EXPECT_EQ(out[1].replace, "c\n");
}

}  // namespace
}  // namespace kiln
