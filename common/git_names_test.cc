#include "common/git_names.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(CheckBranchName, FollowsGitsRules) {
  EXPECT_TRUE(CheckBranchName("kiln/migrate-http").ok());
  for (const char* bad : {"", "-x", "a..b", "a b", "a:b", "x.lock", "a/", "/a", "a/.b", "a~1",
                          "a@{1}", "a\\b"}) {
    EXPECT_FALSE(CheckBranchName(bad).ok()) << bad;
  }
}

TEST(RenderTemplate, ReplacesKnownPlaceholdersAndNamesUnknownOnes) {
  const std::map<std::string, std::string> vars = {{"batch", "b1"}, {"job", "svc-1"}};
  EXPECT_EQ(*RenderTemplate("kiln/{batch}/{job}", vars), "kiln/b1/svc-1");
  EXPECT_EQ(*RenderTemplate("{{literal}}", vars), "{literal}");
  auto bad = RenderTemplate("kiln/{bogus}", vars);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "unknown placeholder {bogus}; known: {batch}, {job}");
}

TEST(Urls, CredentialsAreFoundStrippedAndRedacted) {
  EXPECT_TRUE(UrlHasCredentials("https://x:s3cr3t@git.example/a.git"));
  EXPECT_FALSE(UrlHasCredentials("https://git@git.example/a.git"));
  EXPECT_FALSE(UrlHasCredentials("https://x:${TOKEN}@git.example/a.git"));
  EXPECT_FALSE(UrlHasCredentials("file:///srv/a.git"));
  EXPECT_EQ(UrlWithoutCredentials("https://x:s3cr3t@git.example/a.git"),
            "https://git.example/a.git");
  EXPECT_EQ(RedactCredentials("fatal: unable to access 'https://x:s3cr3t@h/a.git/': 403"),
            "fatal: unable to access 'https://***@h/a.git/': 403");
  EXPECT_EQ(RedactCredentials("no url here"), "no url here");
}

TEST(ExpandEnvVars, VariablesReachOnlyTheExpandedUrl) {
  setenv("KILN_TEST_TOKEN", "tok", 1);
  EXPECT_EQ(*ExpandEnvVars("https://x:${KILN_TEST_TOKEN}@h/a.git"), "https://x:tok@h/a.git");
  EXPECT_FALSE(ExpandEnvVars("https://x:${KILN_TEST_UNSET_VAR}@h/a.git").ok());
}

}  // namespace
}  // namespace kiln
