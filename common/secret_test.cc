#include "common/secret.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

std::string File(const std::string& name, const std::string& text) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(Secret, FromTheEnvironment) {
  setenv("KILN_TEST_KEY", "sk-env-1234", 1);
  absl::StatusOr<Secret> s = LoadSecret("KILN_TEST_KEY");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Reveal(), "sk-env-1234");
  const absl::Status missing = LoadSecret("KILN_TEST_UNSET_KEY").status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "environment variable KILN_TEST_UNSET_KEY is not set");
}

TEST(Secret, FromASecretsFile) {
  const std::string path =
      File("secrets", "# keys\nOTHER=zzz\nOPENAI_API_KEY = \"sk-file-5678\"\n");
  absl::StatusOr<Secret> s = LoadSecret("OPENAI_API_KEY", path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->Reveal(), "sk-file-5678");
  EXPECT_EQ(LoadSecret("NOPE", path).status().code(), absl::StatusCode::kNotFound);
  const absl::Status bad = LoadSecret("X", File("bad", "X sk-leak-9999\n")).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(absl::StrContains(bad.message(), "sk-leak-9999"));
}

TEST(Secret, NeverPrintsItsValue) {
  const Secret s("sk-print-0000");
  std::ostringstream os;
  os << s;
  EXPECT_EQ(os.str(), "[redacted]");
  EXPECT_EQ(s.Scrub("Incorrect API key provided: sk-print-0000."),
            "Incorrect API key provided: [redacted].");
}

}  // namespace
}  // namespace kiln
