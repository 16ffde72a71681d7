#include "llm/sim/edit_sim.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "edit/search_replace.h"

namespace kiln {
namespace {

constexpr char kInstructions[] =
    "Migrate: replace `import http_client` with `from transport import Session` and "
    "`http_client.get(` with `Session().get(`. Keep every other line as it is.";

std::string Module(int functions) {
  std::string out = "\"\"\"A module.\"\"\"\n\nimport http_client\n\n";
  for (int i = 0; i < functions; ++i) {
    absl::StrAppend(&out, "\n\ndef f", i, "(x):\n    total = x * ", i, "\n");
    if (i % 20 == 3) absl::StrAppend(&out, "    total += http_client.get(\"/v/%d\" % x).json()\n");
    absl::StrAppend(&out, "    return total\n");
  }
  return out;
}

PromptFacts Facts(const std::string& current, bool blocks) {
  PromptFacts f;
  f.edit = true;
  f.path = "svc/mod.py";
  f.language = "python";
  f.current = current;
  f.search_replace = blocks;
  f.instructions = kInstructions;
  return f;
}

bool Compiles(const std::string& code) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/edit_sim_check.py");
  std::ofstream(path) << code;
  return std::system(absl::StrCat("python3 -m py_compile ", path, " 2>/dev/null").c_str()) == 0;
}

TEST(RewriteRules, ReadsTheInstructionsPairs) {
  const auto rules = RewriteRules(kInstructions);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].first, "import http_client");  // longest first
  EXPECT_EQ(rules[0].second, "from transport import Session");
  EXPECT_EQ(rules[1].first, "http_client.get(");
  EXPECT_TRUE(RewriteRules("rename `a` to `b`; `c` -> `d`").size() == 2);
  EXPECT_TRUE(RewriteRules("Just make it better.").empty());
}

TEST(SimEditReply, BlocksApplyAndKeepTheRestByteForByte) {
  const std::string file = Module(200);
  const std::string reply = SimEditReply(Facts(file, true), CodegenOptions{});
  auto blocks = ParseEditBlocks(reply);
  ASSERT_TRUE(blocks.ok()) << blocks.status();
  EXPECT_GE(blocks->size(), 2u);
  const EditOutcome o = ApplyEditBlocks(file, *blocks);
  ASSERT_TRUE(o.failed.empty()) << DescribeFailures("svc/mod.py", *blocks, o);
  EXPECT_FALSE(absl::StrContains(o.text, "http_client"));
  EXPECT_TRUE(absl::StrContains(o.text, "from transport import Session\n"));
  EXPECT_TRUE(Compiles(o.text));
  // The reply is a small part of the file.
  EXPECT_LT(reply.size() * 4, file.size());
}

TEST(SimEditReply, WholeFileIsTheEditedFile) {
  const std::string file = Module(5);
  const std::string reply = SimEditReply(Facts(file, false), CodegenOptions{});
  EXPECT_TRUE(absl::StartsWith(reply, "```python\n"));
  EXPECT_TRUE(absl::StrContains(reply, "from transport import Session"));
  EXPECT_TRUE(absl::StrContains(reply, "Session().get("));
}

TEST(SimEditReply, WithoutRewritesItCommentsTheInstruction) {
  PromptFacts f = Facts("x = 1\n", true);
  f.instructions = "Add type hints where they help.";
  auto blocks = ParseEditBlocks(SimEditReply(f, CodegenOptions{}));
  ASSERT_TRUE(blocks.ok());
  const EditOutcome o = ApplyEditBlocks("x = 1\n", *blocks);
  EXPECT_EQ(o.text, "# Add type hints where they help.\nx = 1\n");
}

TEST(SimEditReply, DefectsFailThenTheRepairFixesThem) {
  CodegenOptions always{1, 1.0};
  int typos = 0, syntax = 0;
  for (const char* path : {"a.py", "b.py", "c.py", "d.py", "e.py", "f.py"}) {
    PromptFacts f = Facts(Module(40), true);
    f.path = path;
    auto blocks = ParseEditBlocks(SimEditReply(f, always));
    ASSERT_TRUE(blocks.ok());
    EditOutcome o = ApplyEditBlocks(f.current, *blocks);
    if (!o.failed.empty()) {
      ++typos;
    } else {
      EXPECT_FALSE(Compiles(o.text)) << path;
      ++syntax;
    }
    // The repair sees the file as it is now and the diagnostics.
    PromptFacts repair = f;
    repair.current = o.text;
    repair.has_diagnostics = true;
    repair.blocks_failed = !o.failed.empty();
    auto fixes = ParseEditBlocks(SimEditReply(repair, always));
    ASSERT_TRUE(fixes.ok());
    const EditOutcome fixed = ApplyEditBlocks(o.text, *fixes);
    EXPECT_TRUE(fixed.failed.empty()) << path;
    EXPECT_TRUE(Compiles(fixed.text)) << path;
    EXPECT_FALSE(absl::StrContains(fixed.text, "http_client")) << path;
  }
  EXPECT_GT(typos, 0);
  EXPECT_GT(syntax, 0);
}

}  // namespace
}  // namespace kiln
