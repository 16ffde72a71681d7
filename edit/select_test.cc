#include "edit/select.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "common/test_dir.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

kiln::v1::FileSelection Sel(std::vector<std::string> globs, std::string contains = "",
                            std::vector<std::string> exclude = {}, int max_files = 0) {
  kiln::v1::FileSelection s;
  for (auto& g : globs) s.add_glob(g);
  s.set_contains(contains);
  for (auto& x : exclude) s.add_exclude(x);
  s.set_max_files(max_files);
  return s;
}

std::vector<std::string> Paths(const absl::StatusOr<std::vector<SelectedFile>>& r) {
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<std::string> out;
  if (r.ok()) {
    for (const auto& f : *r) out.push_back(f.path);
  }
  return out;
}

class SelectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshTestDir("select_test");
    Write(root_ / "service/api.py", "import http_client\n");
    Write(root_ / "service/db/store.py", "x = http_client.get('u')\n");
    Write(root_ / "service/util.py", "import os\n");
    Write(root_ / "service/test_api.py", "import http_client\n");
    Write(root_ / "README.md", "http_client\n");
    Write(root_ / ".git/config", "http_client\n");
  }
  fs::path root_;
};

TEST_F(SelectTest, GlobsRegexAndExcludes) {
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"service/**/*.py"}))),
            (std::vector<std::string>{"service/api.py", "service/db/store.py",
                                      "service/test_api.py", "service/util.py"}));
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"**/*.py"}, "http_client", {"**/test_*.py"}))),
            (std::vector<std::string>{"service/api.py", "service/db/store.py"}));
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"*.py", "*.md"}, R"(http_client\.get\()"))),
            (std::vector<std::string>{"service/db/store.py"}));
  // The .git directory is never looked at.
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"**"}, "http_client"))).size(), 4u);
}

TEST_F(SelectTest, RecordsDigestAndSize) {
  auto r = SelectFiles(root_, Sel({"service/api.py"}));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].bytes, 19);
  EXPECT_EQ((*r)[0].digest.size(), 64u);
}

TEST_F(SelectTest, SkipsListedFiles) {
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"service/*.py"}, "http_client"), {"service/api.py"})),
            (std::vector<std::string>{"service/test_api.py"}));
}

TEST_F(SelectTest, MoreThanMaxFilesFailsWithTheCount) {
  auto r = SelectFiles(root_, Sel({"**/*.py"}, "", {}, 3));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "matched 4 files, more than max_files (3)"))
      << r.status();
}

TEST_F(SelectTest, NoMatchIsEmptyNotAnError) {
  EXPECT_TRUE(Paths(SelectFiles(root_, Sel({"**/*.go"}))).empty());
}

TEST_F(SelectTest, LinksAreNeverFollowedOutOfTheRepo) {
  const fs::path outside = FreshTestDir("select_test_outside");
  Write(outside / "secret.py", "http_client = 'outside'\n");
  fs::create_directory_symlink(outside, root_ / "service/linked");
  fs::create_symlink(outside / "secret.py", root_ / "service/link.py");
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"**/*.py"}, "outside"))),
            std::vector<std::string>{});
  EXPECT_EQ(Paths(SelectFiles(root_, Sel({"**/*.py"}))).size(), 4u);
}

TEST(CheckSelection, BadGlobsAndRegexesNameTheField) {
  absl::Status s = CheckSelection(Sel({"src/**x/*.py"}));
  EXPECT_TRUE(absl::StartsWith(s.message(), "glob: \"src/**x/*.py\"")) << s;
  s = CheckSelection(Sel({"*.py"}, "(unclosed"));
  EXPECT_TRUE(absl::StartsWith(s.message(), "contains: '(unclosed' is not an RE2")) << s;
  s = CheckSelection(Sel({"*.py"}, "", {"../x"}));
  EXPECT_TRUE(absl::StartsWith(s.message(), "exclude[0]:")) << s;
  s = CheckSelection(Sel({}));
  EXPECT_TRUE(absl::StartsWith(s.message(), "glob: required")) << s;
  s = CheckSelection(Sel({"*.{py,js}"}));
  EXPECT_TRUE(absl::StrContains(s.message(), "braces")) << s;
  EXPECT_TRUE(CheckSelection(Sel({"**/*.py"}, "http_client|requests")).ok());
}

}  // namespace
}  // namespace kiln
