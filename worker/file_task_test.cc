#include "worker/file_task.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "edit/search_replace.h"

namespace kiln {
namespace {

kiln::v1::JobSpec Job() {
  kiln::v1::JobSpec j;
  j.mutable_repo()->set_path("/repos/svc");
  j.mutable_repo()->set_ref("main");
  return j;
}

kiln::v1::FileSpec File(const std::string& path, kiln::v1::FileMode mode = kiln::v1::FILE_MODE_AUTO) {
  kiln::v1::FileSpec f;
  f.set_path(path);
  f.set_mode(mode);
  return f;
}

std::string Big(int lines) {
  std::string out;
  for (int i = 0; i < lines; ++i) out += "value_" + std::to_string(i) + " = " + std::to_string(i) + "\n";
  return out;
}

TEST(PlanFileTask, AutoEditsAFileThatExistsAndCreatesOneThatDoesNot) {
  auto t = PlanFileTask("svc", Job(), File("a.py"), std::string("x = 1\n"), nullptr);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->edit);
  EXPECT_EQ(t->format, kiln::v1::EDIT_FORMAT_WHOLE);
  t = PlanFileTask("svc", Job(), File("b.py"), absl::nullopt, nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->edit);
}

TEST(PlanFileTask, ModeErrorsNameTheRepoAndPath) {
  auto t = PlanFileTask("svc", Job(), File("gone.py", kiln::v1::FILE_MODE_EDIT), absl::nullopt,
                        nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "svc: gone.py: mode edit, but the file does not exist at main");
  t = PlanFileTask("svc", Job(), File("a.py", kiln::v1::FILE_MODE_CREATE), std::string("x\n"),
                   nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StartsWith(t.status().message(),
                               "svc: a.py: mode create, but the file exists at main"))
      << t.status();
  kiln::v1::FileSpec over = File("a.py", kiln::v1::FILE_MODE_CREATE);
  over.set_overwrite(true);
  t = PlanFileTask("svc", Job(), over, std::string("x\n"), nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->edit);
}

TEST(PlanFileTask, RefusesBinaryAndLargeFilesBeforeAnyCall) {
  auto t = PlanFileTask("svc", Job(), File("logo.py"), std::string("\x89PNG\0\0", 6), nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "svc: logo.py: a binary file"));
  kiln::v1::JobSpec small = Job();
  small.mutable_limits()->set_max_file_bytes(100);
  t = PlanFileTask("svc", small, File("big.py"), Big(20), nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(absl::StrContains(t.status().message(), "over the 100-byte limit"));
}

TEST(PlanFileTask, AutoFormatSwitchesAtTheDocumentedSize) {
  auto t = PlanFileTask("svc", Job(), File("big.py"), Big(400), nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->format, kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  kiln::v1::FileSpec whole = File("big.py");
  whole.set_edit_format(kiln::v1::EDIT_FORMAT_WHOLE);
  EXPECT_EQ(PlanFileTask("svc", Job(), whole, Big(400), nullptr)->format,
            kiln::v1::EDIT_FORMAT_WHOLE);
  kiln::v1::JobSpec blocks = Job();
  blocks.set_edit_format(kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  EXPECT_EQ(PlanFileTask("svc", blocks, File("a.py"), std::string("x\n"), nullptr)->format,
            kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
}

TEST(ApplyReply, BlocksEditKeepingCrlfAndCountingLines) {
  const std::string crlf = "import http_client\r\n\r\nx = http_client.get(1)\r\n";
  kiln::v1::JobSpec job = Job();
  job.set_edit_format(kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  auto t = PlanFileTask("svc", job, File("a.py"), crlf, nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->current, "import http_client\n\nx = http_client.get(1)\n");
  const AppliedReply r = ApplyReply(
      *t, FormatEditBlocks({{"import http_client\n", "from transport import Session\n", 1}}));
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.content, "from transport import Session\r\n\r\nx = http_client.get(1)\r\n");
  EXPECT_EQ(r.edit.result(), "changed");
  EXPECT_EQ(r.edit.lines_added(), 1);
  EXPECT_EQ(r.edit.lines_removed(), 1);
  EXPECT_EQ(r.edit.blocks(), 1);
  EXPECT_EQ(r.edit.format(), "search_replace");
}

TEST(ApplyReply, WholeFileKeepsAMissingFinalNewline) {
  auto t = PlanFileTask("svc", Job(), File("a.py"), std::string("a = 1\nb = 2"), nullptr);
  ASSERT_TRUE(t.ok());
  const AppliedReply r = ApplyReply(*t, "```python\na = 1\nb = 3\n```\n");
  EXPECT_EQ(r.content, "a = 1\nb = 3");
  EXPECT_EQ(r.edit.result(), "changed");
}

TEST(ApplyReply, AnIdenticalEditIsUnchanged) {
  auto t = PlanFileTask("svc", Job(), File("a.py"), std::string("a = 1\n"), nullptr);
  const AppliedReply r = ApplyReply(*t, "```python\na = 1\n```\n");
  EXPECT_EQ(r.edit.result(), "unchanged");
  EXPECT_TRUE(r.failures.empty());
}

TEST(ApplyReply, FailedBlocksBecomeTheRepairsDiagnostics) {
  kiln::v1::JobSpec job = Job();
  job.set_edit_format(kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  auto t = PlanFileTask("svc", job, File("a.py"), std::string("a = 1\nb = 2\n"), nullptr);
  const AppliedReply r = ApplyReply(
      *t, FormatEditBlocks({{"a = 1\n", "a = 10\n", 1}, {"c = 3\n", "c = 30\n", 5}}));
  EXPECT_EQ(r.content, "a = 10\nb = 2\n");  // the block that applied is kept
  EXPECT_EQ(r.edit.blocks_failed(), 1);
  EXPECT_TRUE(absl::StrContains(r.failures, "1 of the 2 SEARCH/REPLACE blocks for `a.py`"))
      << r.failures;
  const AppliedReply bad = ApplyReply(*t, "<<<<<<< SEARCH\na = 1\n");
  EXPECT_TRUE(absl::StrContains(bad.failures, "could not be read")) << bad.failures;
  EXPECT_EQ(bad.content, "a = 1\nb = 2\n");
}

TEST(ApplyReply, ARepairAppliesToTheVersionItRepairs) {
  kiln::v1::JobSpec job = Job();
  job.set_edit_format(kiln::v1::EDIT_FORMAT_SEARCH_REPLACE);
  const std::string repaired = "a = 10\nb = 2 ((\n";
  auto t = PlanFileTask("svc", job, File("a.py"), std::string("a = 1\nb = 2\n"), &repaired);
  ASSERT_TRUE(t.ok());
  const AppliedReply r = ApplyReply(*t, FormatEditBlocks({{"b = 2 ((\n", "b = 2\n", 1}}));
  EXPECT_EQ(r.content, "a = 10\nb = 2\n");
  // Lines are counted against the file at the ref.
  EXPECT_EQ(r.edit.lines_added(), 1);
  EXPECT_EQ(r.edit.lines_removed(), 1);
}

TEST(ApplyReply, ANewFileIsWrittenWhole) {
  auto t = PlanFileTask("svc", Job(), File("new.py"), absl::nullopt, nullptr);
  const AppliedReply r = ApplyReply(*t, "```python\nx = 1\ny = 2\n```\n");
  EXPECT_EQ(r.content, "x = 1\ny = 2\n");
  EXPECT_EQ(r.edit.mode(), "create");
  EXPECT_EQ(r.edit.result(), "created");
  EXPECT_EQ(r.edit.lines_added(), 2);
}

}  // namespace
}  // namespace kiln
