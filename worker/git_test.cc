#include "worker/git.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(GitRunner, RawGivesTheOutputAndOutTrimsIt) {
  HostSandbox host;
  GitRunner git(&host, {});
  absl::StatusOr<CommandResult> r = git.Raw({"version"}, {{"KILN_EXTRA", "1"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(r->output, "git version ")) << r->output;
  absl::StatusOr<std::string> out = git.Out({"version"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_FALSE(absl::EndsWith(*out, "\n"));  // trimmed
}

TEST(GitRunner, AFailureNamesTheSubcommandAndRedactsCredentials) {
  HostSandbox host;
  GitRunner git(&host, {});
  const std::string dir = "/nonexistent/https://kiln:s3cr3t@git.example.com/r.git";
  absl::StatusOr<std::string> out = git.Out({"-C", dir, "fetch", "--quiet"});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StartsWith(out.status().message(), "git fetch: exit ")) << out.status();
  EXPECT_FALSE(absl::StrContains(out.status().message(), "s3cr3t")) << out.status();
  EXPECT_EQ(GitRunner::Tail("  a\nbcdef\n", 3), "def");
}

}  // namespace
}  // namespace kiln
