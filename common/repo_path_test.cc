#include "common/repo_path.h"

#include <string>

#include "gtest/gtest.h"

namespace kiln {
namespace {

std::string Why(absl::string_view path) {
  return std::string(CheckRepoPath(path).message());
}

TEST(CheckRepoPath, AcceptsCleanRelativePaths) {
  for (const char* p : {"a.js", "web/renderer.go", "x/y/z.tar.gz", ".github/ci.yml",
                        "a..b/c", "...", "dir/.hidden"}) {
    EXPECT_TRUE(CheckRepoPath(p).ok()) << p << ": " << Why(p);
  }
}

TEST(CheckRepoPath, RejectsEscapesAndTricks) {
  EXPECT_EQ(Why(""), "path is empty");
  EXPECT_EQ(Why("/etc/passwd"), "path is absolute; want repo-relative");
  EXPECT_EQ(Why("../../etc/passwd"), "path escapes the repository ('..')");
  EXPECT_EQ(Why("a/../../b"), "path escapes the repository ('..')");
  EXPECT_EQ(Why("a/.."), "path escapes the repository ('..')");
  EXPECT_EQ(Why("..\\..\\x"), "path contains a backslash; use '/'");
  EXPECT_EQ(Why(std::string("a\0b", 3)), "path contains a NUL byte");
  EXPECT_EQ(Why("a\nb"), "path contains a control character");
  EXPECT_EQ(Why("C:/x"), "path starts with a drive letter; want repo-relative");
  EXPECT_EQ(Why("a//b"), "path has an empty segment ('//' or a trailing '/')");
  EXPECT_EQ(Why("a/"), "path has an empty segment ('//' or a trailing '/')");
  EXPECT_EQ(Why("./a"), "path has a '.' segment");
  EXPECT_EQ(Why(std::string(300, 'x')), "path segment longer than 255 bytes");
  EXPECT_EQ(Why(std::string(5000, 'x')), "path is longer than 4096 bytes");
  EXPECT_EQ(CheckRepoPath("/x").code(), absl::StatusCode::kInvalidArgument);
}

TEST(GlobMatch, BasenamePatterns) {
  EXPECT_TRUE(GlobMatch("*.css", "web/site.css"));
  EXPECT_TRUE(GlobMatch("*.css", "site.css"));
  EXPECT_FALSE(GlobMatch("*.css", "web/site.cssx"));
  EXPECT_TRUE(GlobMatch("test_?.py", "a/test_1.py"));
  EXPECT_FALSE(GlobMatch("test_?.py", "a/test_12.py"));
  EXPECT_TRUE(GlobMatch("Makefile", "sub/Makefile"));
}

TEST(GlobMatch, PathPatterns) {
  EXPECT_TRUE(GlobMatch("web/*.js", "web/a.js"));
  EXPECT_FALSE(GlobMatch("web/*.js", "web/x/a.js"));
  EXPECT_TRUE(GlobMatch("web/**", "web/x/y/a.js"));
  EXPECT_TRUE(GlobMatch("web/**/*.js", "web/a.js"));
  EXPECT_TRUE(GlobMatch("web/**/*.js", "web/x/y/a.js"));
  EXPECT_FALSE(GlobMatch("web/**/*.js", "api/a.js"));
  EXPECT_TRUE(GlobMatch("**/handlers/*.go", "svc/api/handlers/user.go"));
  EXPECT_TRUE(GlobMatch("**/**/a", "a"));
}

}  // namespace
}  // namespace kiln
