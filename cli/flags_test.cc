#include "cli/flags.h"

#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

const Command kRun{"run", "FILE.yaml", "Run a file.", "",
                   {{"out", "DIR", "where files go", "kiln-out"}, {"plain", "", "plain lines", ""}},
                   1, 1};
const std::vector<Option> kShared{{"workers", "N", "embedded workers", "2"}};

TEST(ParseArgs, ValuesInBothSpellingsBooleansAndPositionals) {
  auto a = ParseArgs(kRun, kShared, {"--out=o", "job.yaml", "--workers", "3", "--plain"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Get("out"), "o");
  EXPECT_EQ(a->Get("workers"), "3");
  EXPECT_TRUE(a->Flag("plain"));
  EXPECT_EQ(a->positional, std::vector<std::string>{"job.yaml"});
  EXPECT_EQ(a->Get("missing", "fallback"), "fallback");
}

TEST(ParseArgs, NegatedBooleanAndDoubleDash) {
  auto a = ParseArgs(kRun, kShared, {"--no-plain", "--", "--weird-name.yaml"});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->Flag("plain"));
  EXPECT_TRUE(a->Has("plain"));
  EXPECT_EQ(a->positional[0], "--weird-name.yaml");
}

TEST(ParseArgs, ErrorsNameTheFlag) {
  auto unknown = ParseArgs(kRun, kShared, {"--ot=x", "a.yaml"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "kiln run: unknown flag --ot (did you mean --out?); see kiln help run");
  auto missing = ParseArgs(kRun, kShared, {"a.yaml", "--out"});
  EXPECT_EQ(missing.status().message(), "kiln run: --out needs a value (DIR)");
  auto boolean = ParseArgs(kRun, kShared, {"a.yaml", "--plain=yes"});
  EXPECT_EQ(boolean.status().message(), "kiln run: --plain takes no value (got \"yes\")");
  auto shorty = ParseArgs(kRun, kShared, {"-o", "a.yaml"});
  EXPECT_EQ(shorty.status().message(),
            "kiln run: unknown option -o (options are spelled --name)");
}

TEST(ParseArgs, ArgumentCount) {
  auto none = ParseArgs(kRun, kShared, {});
  EXPECT_EQ(none.status().message(), "kiln run: expected FILE.yaml; see kiln help run");
  auto two = ParseArgs(kRun, kShared, {"a.yaml", "b.yaml"});
  EXPECT_EQ(two.status().message(),
            "kiln run: expected FILE.yaml, got \"a.yaml b.yaml\"; see kiln help run");
  auto help = ParseArgs(kRun, kShared, {"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_TRUE(help->help);
}

TEST(CommandHelp, ListsUsageOptionsDefaultsAndKeepsExamples) {
  Command c = kRun;
  c.details = "First paragraph wraps.\n\n  kiln run job.yaml";
  const std::string help = CommandHelp(c, kShared, "settings");
  EXPECT_NE(help.find("usage: kiln run [options] FILE.yaml\n"), std::string::npos) << help;
  EXPECT_NE(help.find("  --out=DIR"), std::string::npos) << help;
  EXPECT_NE(help.find("where files go (default: kiln-out)"), std::string::npos) << help;
  EXPECT_NE(help.find("\nsettings:\n  --workers=N"), std::string::npos) << help;
  EXPECT_NE(help.find("\n  kiln run job.yaml\n"), std::string::npos) << help;
  for (size_t start = 0, end; (end = help.find('\n', start)) != std::string::npos;
       start = end + 1) {
    EXPECT_LE(end - start, 80u) << help.substr(start, end - start);
  }
}

}  // namespace
}  // namespace cli
}  // namespace kiln
