#include "llm/prompt.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

using kiln::v1::PromptBlock;

PromptInputs Inputs() {
  PromptInputs in;
  in.model = "gpt-4o";
  in.system = "You write production code.";
  in.instructions = "Use 2-space indentation.";
  in.context = {{"schema.sql", "CREATE TABLE users (id INT);\n"},
                {"docs/api.md", "# API\n"}};
  in.deps = {{"src/user.h", "int user_load(int value);\n"}};
  in.path = "src/user.cc";
  in.file_instructions = "Implement user loading.";
  in.expected_tokens = 700;
  in.max_output_tokens = 1200;
  return in;
}

TEST(BuildPrompt, StableBlocksFirstThenVariable) {
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(Inputs());
  ASSERT_TRUE(p.ok()) << p.status();
  std::vector<PromptBlock::Kind> kinds;
  bool seen_variable = false;
  for (const PromptBlock& b : p->blocks()) {
    kinds.push_back(b.kind());
    if (!b.stable()) seen_variable = true;
    EXPECT_FALSE(b.stable() && seen_variable) << "stable after variable";
  }
  EXPECT_EQ(kinds, (std::vector<PromptBlock::Kind>{
                       PromptBlock::KIND_SYSTEM, PromptBlock::KIND_INSTRUCTIONS,
                       PromptBlock::KIND_REPO_CONTEXT,
                       PromptBlock::KIND_REPO_CONTEXT, PromptBlock::KIND_DEP_CODE,
                       PromptBlock::KIND_FILE_INSTRUCTIONS}));
  EXPECT_EQ(p->max_output_tokens(), 1200);
  EXPECT_EQ(p->blocks(4).source_path(), "src/user.h");
}

TEST(BuildPrompt, PrefixKeyFollowsTheStableBlocksOnly) {
  PromptInputs a = Inputs();
  PromptInputs b = Inputs();
  b.path = "src/other.cc";
  b.deps.clear();
  EXPECT_EQ(BuildPrompt(a)->prefix_key(), BuildPrompt(b)->prefix_key());
  PromptInputs c = Inputs();
  c.context[0].content += "CREATE TABLE posts (id INT);\n";
  EXPECT_NE(BuildPrompt(a)->prefix_key(), BuildPrompt(c)->prefix_key());
  PromptInputs d = Inputs();
  d.model = "gpt-4o-mini";
  EXPECT_NE(BuildPrompt(a)->prefix_key(), BuildPrompt(d)->prefix_key());
}

TEST(BuildPrompt, DeduplicatesContextByPathAndContent) {
  PromptInputs in = Inputs();
  in.context.push_back({"schema.sql", "something else"});
  in.context.push_back({"copy/schema.sql", "CREATE TABLE users (id INT);\n"});
  PromptStats stats;
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(in, &stats);
  ASSERT_TRUE(p.ok());
  int context = 0;
  for (const PromptBlock& b : p->blocks()) {
    context += b.kind() == PromptBlock::KIND_REPO_CONTEXT;
  }
  EXPECT_EQ(context, 2);
  EXPECT_EQ(stats.deduplicated,
            (std::vector<std::string>{"schema.sql", "copy/schema.sql"}));
}

TEST(BuildPrompt, CutsOrOmitsFilesOverTheCategoryBudget) {
  PromptInputs in = Inputs();
  std::string big;
  for (int i = 0; i < 2000; ++i) big += "line " + std::to_string(i) + "\n";
  in.context = {{"big.txt", big}, {"later.txt", big + "x"}};
  in.budget.context_tokens = 1000;
  PromptStats stats;
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(in, &stats);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(stats.truncated, std::vector<std::string>{"big.txt"});
  EXPECT_EQ(stats.omitted, std::vector<std::string>{"later.txt"});
  const std::string& text = p->blocks(2).text();
  EXPECT_LE(EstimateTokens(text), 1000);
  EXPECT_NE(text.find("line 0\n"), std::string::npos);
  EXPECT_NE(text.find("line 1999\n"), std::string::npos);
  EXPECT_NE(text.find("lines omitted"), std::string::npos);
}

TEST(BuildPrompt, RepairKeepsTheLatestTurns) {
  PromptInputs in = Inputs();
  in.repairs = {{"reply 1", "diag 1"}, {"reply 2", "diag 2"}, {"reply 3", "diag 3"}};
  in.budget.repair_window = 2;
  PromptStats stats;
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(in, &stats);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(stats.dropped_repair_turns, 1);
  const std::string text = PromptText(*p);
  EXPECT_EQ(text.find("reply 1"), std::string::npos);
  EXPECT_NE(text.find("reply 2"), std::string::npos);
  EXPECT_NE(text.find("diag 3"), std::string::npos);
  const auto& last = p->blocks(p->blocks_size() - 1);
  EXPECT_EQ(last.kind(), PromptBlock::KIND_DIAGNOSTICS);
}

TEST(BuildPrompt, NeedsAPathOrAPlanTask) {
  PromptInputs in = Inputs();
  in.path.clear();
  EXPECT_EQ(BuildPrompt(in).status().code(), absl::StatusCode::kInvalidArgument);
  in.plan_task = "Write a todo service in python";
  EXPECT_TRUE(BuildPrompt(in).ok());
}

TEST(CacheBreakpoints, LastStableBlockOfEachKindAtMostFour) {
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(Inputs());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(CacheBreakpoints(*p), (std::vector<int>{0, 1, 3}));
  EXPECT_EQ(CacheBreakpoints(*p, 2), (std::vector<int>{1, 3}));
  PromptInputs none = Inputs();
  none.system.clear();
  none.instructions.clear();
  none.context.clear();
  EXPECT_TRUE(CacheBreakpoints(*BuildPrompt(none)).empty());
}

TEST(ReadPromptFacts, ReadsBackWhatBuildPromptWrote) {
  PromptInputs in = Inputs();
  in.deps.push_back({"src/log.js", "export function log_x(value) {}\n```\nodd"});
  const PromptFacts f = ReadPromptFacts(PromptText(*BuildPrompt(in)));
  EXPECT_FALSE(f.plan);
  EXPECT_EQ(f.path, "src/user.cc");
  EXPECT_EQ(f.language, "cpp");
  EXPECT_EQ(f.expected_tokens, 700);
  ASSERT_EQ(f.deps.size(), 2u);
  EXPECT_EQ(f.deps[0].path, "src/user.h");
  EXPECT_EQ(f.deps[0].content, "int user_load(int value);\n");
  // A file with a fence inside is quoted with a longer fence.
  EXPECT_EQ(f.deps[1].content, "export function log_x(value) {}\n```\nodd\n");
  EXPECT_FALSE(f.has_diagnostics);

  in.repairs = {{"x", "src/user.cc:3:1: error: boom"}};
  EXPECT_TRUE(ReadPromptFacts(PromptText(*BuildPrompt(in))).has_diagnostics);

  PromptInputs plan = Inputs();
  plan.path.clear();
  plan.plan_task = "A todo service in Python.";
  const PromptFacts pf = ReadPromptFacts(PromptText(*BuildPrompt(plan)));
  EXPECT_TRUE(pf.plan);
  EXPECT_EQ(pf.plan_task, "A todo service in Python.");
}

TEST(FilterDiagnostics, KeepsTheTargetFilesGccDiagnostics) {
  const std::string out =
      "In file included from src/a.cc:1:\n"
      "src/b.h:4:10: error: 'x' was not declared\n"
      "    4 |   return x;\n"
      "      |          ^\n"
      "src/a.cc: In function 'int f()':\n"
      "src/a.cc:7:3: error: expected ';' before '}' token\n"
      "    7 |   return 1\n"
      "      |           ^\n"
      "/abs/path/src/a.cc:9:1: warning: unused\n"
      "src/c.cc:1:1: error: other file\n";
  const std::string got = FilterDiagnostics(out, "src/a.cc");
  EXPECT_EQ(got,
            "src/a.cc: In function 'int f()':\n"
            "src/a.cc:7:3: error: expected ';' before '}' token\n"
            "    7 |   return 1\n"
            "      |           ^\n"
            "/abs/path/src/a.cc:9:1: warning: unused\n");
}

TEST(FilterDiagnostics, UnderstandsNodeAndPythonAndFallsBackToAll) {
  const std::string node =
      "/tmp/w/web/app.js:12\n"
      "  return acc %% 3;\n"
      "             ^\n\n"
      "SyntaxError: Unexpected token '%'\n";
  EXPECT_NE(FilterDiagnostics(node, "web/app.js").find("SyntaxError"),
            std::string::npos);
  const std::string py =
      "  File \"src/app.py\", line 3\n"
      "    def f(x)\n"
      "            ^\n"
      "SyntaxError: expected ':'\n";
  EXPECT_EQ(FilterDiagnostics(py, "src/app.py"), py + "\n");
  EXPECT_EQ(FilterDiagnostics("make: *** [all] Error 1", "src/app.py"),
            "make: *** [all] Error 1");
}

TEST(FilterDiagnostics, CutsToHeadAndTail) {
  std::string out;
  for (int i = 0; i < 1000; ++i) {
    out += "src/a.cc:" + std::to_string(i + 1) + ":1: error: number " +
           std::to_string(i) + "\n";
  }
  const std::string got = FilterDiagnostics(out, "src/a.cc", 1024);
  EXPECT_LE(got.size(), 1100u);
  EXPECT_EQ(got.rfind("src/a.cc:1:1: error: number 0\n", 0), 0u);
  EXPECT_NE(got.find("number 999\n"), std::string::npos);
  EXPECT_NE(got.find("lines omitted ...]"), std::string::npos);
}

TEST(ExtractCode, FirstFencedBlockOrTheWholeReply) {
  EXPECT_EQ(ExtractCode("Here:\n```cpp\nint x;\n```\nDone."), "int x;\n");
  EXPECT_EQ(ExtractCode("````md\na\n```\nb\n````\n"), "a\n```\nb\n");
  EXPECT_EQ(ExtractCode("  int y;\n"), "int y;");
  EXPECT_EQ(ExtractCode("```py\ncut off"), "cut off");
}

TEST(LanguageForPath, ByExtension) {
  EXPECT_EQ(LanguageForPath("a/b.cc"), "cpp");
  EXPECT_EQ(LanguageForPath("x.H"), "cpp");
  EXPECT_EQ(LanguageForPath("web/app.mjs"), "javascript");
  EXPECT_EQ(LanguageForPath("a.py"), "python");
  EXPECT_EQ(LanguageForPath("index.html"), "html");
  EXPECT_EQ(LanguageForPath("s.css"), "css");
  EXPECT_EQ(LanguageForPath("v1.2/README"), "text");
}

}  // namespace
}  // namespace kiln

namespace kiln {
namespace {

// The same migration applied to one file in two repositories.
PromptInputs EditOf(const std::string& path, const std::string& current) {
  PromptInputs in;
  in.model = "gpt-4o-mini";
  in.system = "You apply one migration across many services.";
  in.instructions = "Keep every other line as it is.";
  in.path = path;
  in.edit = true;
  in.current = current;
  in.search_replace = true;
  in.file_instructions = "Replace `import http_client` with `from transport import Session`.";
  return in;
}

TEST(BuildPrompt, AnEditQuotesTheCurrentFileAfterEveryStableBlock) {
  absl::StatusOr<kiln::v1::Prompt> p = BuildPrompt(EditOf("svc/a.py", "import http_client\n"));
  ASSERT_TRUE(p.ok()) << p.status();
  int current = -1, last_stable = -1;
  for (int i = 0; i < p->blocks_size(); ++i) {
    if (p->blocks(i).stable()) last_stable = i;
    if (p->blocks(i).kind() == kiln::v1::PromptBlock::KIND_CURRENT_FILE) current = i;
  }
  ASSERT_GE(current, 0);
  EXPECT_GT(current, last_stable);
  EXPECT_FALSE(p->blocks(current).stable());
  EXPECT_NE(p->blocks(current).text().find("import http_client"), std::string::npos);
  EXPECT_NE(p->blocks(current).text().find("<<<<<<< SEARCH"), std::string::npos);
}

TEST(BuildPrompt, TwoReposEditPromptsShareTheirPrefixByteForByte) {
  const kiln::v1::Prompt a =
      *BuildPrompt(EditOf("service/users.py", "import http_client\n\nA = 1\n"));
  const kiln::v1::Prompt b =
      *BuildPrompt(EditOf("service/billing/invoices.py", "import http_client\n\nB = 2\n"));
  EXPECT_EQ(a.prefix_key(), b.prefix_key());
  std::string stable_a, stable_b;
  for (const auto& blk : a.blocks()) {
    if (blk.stable()) stable_a += blk.text();
  }
  for (const auto& blk : b.blocks()) {
    if (blk.stable()) stable_b += blk.text();
  }
  EXPECT_FALSE(stable_a.empty());
  EXPECT_EQ(stable_a, stable_b);
  // The whole texts agree up to the first variable block.
  const std::string ta = PromptText(a), tb = PromptText(b);
  size_t same = 0;
  while (same < ta.size() && same < tb.size() && ta[same] == tb[same]) ++same;
  EXPECT_GE(same, stable_a.size());
}

TEST(ReadPromptFacts, ReadsAnEditBack) {
  const PromptFacts f = ReadPromptFacts(
      PromptText(*BuildPrompt(EditOf("svc/a.py", "import http_client\nx = 1\n"))));
  EXPECT_TRUE(f.edit);
  EXPECT_EQ(f.path, "svc/a.py");
  EXPECT_EQ(f.language, "python");
  EXPECT_EQ(f.current, "import http_client\nx = 1\n");
  EXPECT_TRUE(f.search_replace);
  EXPECT_EQ(f.instructions,
            "Replace `import http_client` with `from transport import Session`.");
  EXPECT_FALSE(f.has_diagnostics);
  PromptInputs whole = EditOf("svc/a.py", "x\n");
  whole.search_replace = false;
  EXPECT_FALSE(ReadPromptFacts(PromptText(*BuildPrompt(whole))).search_replace);
}

TEST(ReadPromptFacts, TellsBlockFailuresFromAFailedCheck) {
  PromptInputs in = EditOf("svc/a.py", "x\n");
  in.repairs.push_back({"", "1 of the 2 SEARCH/REPLACE blocks for `svc/a.py` did not apply."});
  PromptFacts f = ReadPromptFacts(PromptText(*BuildPrompt(in)));
  EXPECT_TRUE(f.has_diagnostics);
  EXPECT_TRUE(f.blocks_failed);
  in.repairs = {{"", "  File \"svc/a.py\", line 1\nSyntaxError: invalid syntax\n"}};
  const kiln::v1::Prompt p = *BuildPrompt(in);
  f = ReadPromptFacts(PromptText(p));
  EXPECT_TRUE(f.has_diagnostics);
  EXPECT_FALSE(f.blocks_failed);
  // An edit's repair has no assistant turn: the current content stands for it.
  for (const auto& b : p.blocks()) EXPECT_NE(b.kind(), kiln::v1::PromptBlock::KIND_ASSISTANT);
}

}  // namespace
}  // namespace kiln
