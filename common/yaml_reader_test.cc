#include "common/yaml_reader.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(YamlReader, SyntaxErrorsCarryTheLine) {
  YamlReader r("a.yaml");
  EXPECT_FALSE(r.Load("a: 1\nb: [1, 2\nc: 3\n").has_value());
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].file, "a.yaml");
  EXPECT_GT(r.problems()[0].line, 1);
  EXPECT_NE(r.problems()[0].message.find("invalid YAML"), std::string::npos);
}

TEST(YamlReader, InvalidUtf8IsAProblemAtItsLineAndColumn) {
  YamlReader r("u.yaml");
  EXPECT_FALSE(r.Load("name: x\ninstructions: \"caf\xE9\"\n").has_value());
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].ToString(),
            "u.yaml:2:19: invalid UTF-8 (byte 0xE9 at offset 26)");
}

TEST(YamlReader, DeepNestingNamesTheLimit) {
  YamlReader r("d.yaml");
  EXPECT_FALSE(r.Load("a: " + std::string(3000, '[') + std::string(3000, ']'))
                   .has_value());
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_NE(r.problems()[0].message.find("nested deeper than 499 levels"),
            std::string::npos)
      << r.problems()[0].message;
}

TEST(YamlReader, EmptyDocumentIsAProblem) {
  YamlReader r("e.yaml");
  EXPECT_FALSE(r.Load("# only a comment\n").has_value());
  EXPECT_EQ(r.problems()[0].ToString(), "e.yaml: the document is empty");
}

TEST(YamlReader, TypedValuesAndRanges) {
  YamlReader r("v.yaml");
  auto root = r.Load("n: 12\nbig: 99\nx: 0.5\nd: 1h30m\nb: yes\ns: [a, b]\n");
  ASSERT_TRUE(root.has_value());
  EXPECT_EQ(r.Int((*root)["n"], "n", 0, 100), 12);
  EXPECT_EQ(r.Double((*root)["x"], "x", 0, 1), 0.5);
  EXPECT_EQ(r.Duration((*root)["d"], "d"), absl::Minutes(90));
  EXPECT_TRUE(r.Bool((*root)["b"], "b"));
  EXPECT_EQ(r.StringList((*root)["s"], "s"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.Int((*root)["big"], "big", 0, 10), 10);
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].ToString(),
            "v.yaml:2:6: big: must be between 0 and 10, got 99");
}

TEST(YamlReader, BadDurations) {
  YamlReader r("d.yaml");
  auto root = r.Load("a: 30\nb: -5s\nc: soon\nd: inf\n");
  ASSERT_TRUE(root.has_value());
  for (const char* k : {"a", "b", "c", "d"}) r.Duration((*root)[k], k);
  ASSERT_EQ(r.problems().size(), 4u);
  EXPECT_EQ(r.problems()[1].message, "must not be negative, got '-5s'");
}

TEST(YamlReader, UnknownKeysSuggestTheClosest) {
  YamlReader r("k.yaml");
  auto root = r.Load("job:\n  fiels: []\n  zzzzzzzz: 1\n");
  ASSERT_TRUE(root.has_value());
  r.CheckKeys((*root)["job"], "job", {"files", "name"});
  ASSERT_EQ(r.problems().size(), 2u);
  EXPECT_EQ(r.problems()[0].ToString(),
            "k.yaml:2:3: job.fiels: unknown field 'fiels' (did you mean "
            "'files'?)");
  EXPECT_EQ(r.problems()[1].message,
            "unknown field 'zzzzzzzz'; known fields: files, name");
}

TEST(YamlReader, WrongShapes) {
  YamlReader r("s.yaml");
  auto root = r.Load("m: [1]\nl: {a: 1}\n");
  ASSERT_TRUE(root.has_value());
  EXPECT_FALSE(r.ExpectMap((*root)["m"], "m"));
  EXPECT_FALSE(r.ExpectSeq((*root)["l"], "l"));
  EXPECT_EQ(r.String((*root)["l"], "l"), "");
  ASSERT_EQ(r.problems().size(), 3u);
  EXPECT_EQ(r.problems()[0].message, "want a mapping, got a list");
  EXPECT_EQ(r.problems()[2].message, "want a value, got a mapping");
}

TEST(ProblemsToStatus, JoinsLines) {
  EXPECT_TRUE(ProblemsToStatus({}).ok());
  const absl::Status s = ProblemsToStatus(
      {{"f.yaml", 3, 0, "files[0].path", "required"}, {"", 0, 0, "", "bad"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "f.yaml:3: files[0].path: required\nbad");
}

}  // namespace
}  // namespace kiln
