#include "common/repo_file.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(WriteRepoFile, WritesInsideAndCreatesDirectories) {
  const std::string root = FreshTestDir("w-inside");
  ASSERT_TRUE(WriteRepoFile(root, "src/a/b.js", "x").ok());
  EXPECT_EQ(Slurp(fs::path(root) / "src/a/b.js"), "x");
  ASSERT_TRUE(WriteRepoFile(root, "src/a/b.js", "y").ok());  // replaced
  EXPECT_EQ(Slurp(fs::path(root) / "src/a/b.js"), "y");
  auto back = ReadRepoFile(root, "src/a/b.js");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "y");
}

TEST(WriteRepoFile, RefusesPathsThatLeaveByTheirSpelling) {
  const std::string root = FreshTestDir("w-spelling");
  for (const char* bad : {"../../etc/passwd", "/etc/passwd", "a/../../x", "a\\b"}) {
    absl::Status s = WriteRepoFile(root, bad, "x");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StrContains(s.message(), bad)) << s;
  }
}

TEST(WriteRepoFile, RefusesSymlinksThatLeaveTheWorktree) {
  const std::string root = FreshTestDir("w-link");
  const std::string outside = FreshTestDir("w-link-outside");
  fs::create_symlink(outside, fs::path(root) / "out");
  fs::create_directories(fs::path(root) / "real");
  fs::create_symlink("real", fs::path(root) / "alias");
  absl::Status s = WriteRepoFile(root, "out/x.js", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "outside the worktree")) << s;
  EXPECT_TRUE(fs::is_empty(outside));
  // A link that stays inside is followed.
  ASSERT_TRUE(WriteRepoFile(root, "alias/y.js", "y").ok());
  EXPECT_EQ(Slurp(fs::path(root) / "real/y.js"), "y");
  // A link at the file itself is replaced, never written through.
  fs::create_symlink(fs::path(outside) / "victim", fs::path(root) / "leaf.js");
  ASSERT_TRUE(WriteRepoFile(root, "leaf.js", "z").ok());
  EXPECT_FALSE(fs::exists(fs::path(outside) / "victim"));
  EXPECT_FALSE(fs::is_symlink(fs::path(root) / "leaf.js"));
  // Reading through a link that leaves is refused too.
  std::ofstream(fs::path(outside) / "secret") << "s";
  fs::create_symlink(fs::path(outside) / "secret", fs::path(root) / "secret");
  const absl::Status read = ReadRepoFile(root, "secret").status();
  EXPECT_EQ(read.code(), absl::StatusCode::kPermissionDenied);
  // ... and said as a read, not a write.
  EXPECT_TRUE(absl::StrContains(read.message(), "repo files are read only from inside the worktree"))
      << read;
  EXPECT_FALSE(absl::StrContains(read.message(), "written")) << read;
}

}  // namespace
}  // namespace kiln
