#include "llm/sim/codegen.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A tree of generated files, each written with its deps' generated code as
// the simulator would see it in a prompt.
class Tree {
 public:
  explicit Tree(CodegenOptions options) : options_(options) {
    dir_ = fs::path(std::getenv("TEST_TMPDIR")) /
           absl::StrCat("tree", counter_++);
    fs::create_directories(dir_);
    // The generated JavaScript is ES modules. Without this, node 20's
    // `--check` passes any file that uses `export`, broken or not.
    std::ofstream(dir_ / "package.json") << "{\"type\": \"module\"}\n";
  }

  std::string Generate(const std::string& path, std::vector<std::string> deps,
                       int64_t expected = 400, bool diagnostics = false) {
    PromptFacts f;
    f.path = path;
    f.language = LanguageForPath(path);
    f.expected_tokens = expected;
    f.has_diagnostics = diagnostics;
    for (const std::string& d : deps) f.deps.push_back({d, files_.at(d)});
    const std::string code = ExtractCode(SimReply(f, options_));
    files_[path] = code;
    fs::create_directories((dir_ / path).parent_path());
    std::ofstream(dir_ / path) << code;
    return code;
  }

  // Runs the language's checker on `path`; true when it accepts the file.
  bool Check(const std::string& path) const {
    const std::string lang = LanguageForPath(path);
    const std::string file = (dir_ / path).string();
    std::string cmd;
    if (lang == "cpp") {
      cmd = absl::StrCat("g++ -std=c++17 -fsyntax-only -I", dir_.string(), " ",
                         absl::EndsWith(path, ".h") ? "-x c++ " : "", file);
    } else if (lang == "javascript") {
      cmd = absl::StrCat("node --check ", file);
    } else if (lang == "python") {
      cmd = absl::StrCat("python3 -m py_compile ", file);
    } else {
      return true;
    }
    return std::system((cmd + " > /dev/null 2>&1").c_str()) == 0;
  }

  const std::string& at(const std::string& path) const { return files_.at(path); }

 private:
  static inline int counter_ = 0;
  CodegenOptions options_;
  fs::path dir_;
  std::map<std::string, std::string> files_;
};

TEST(SimCodegen, EveryLanguagePassesItsChecker) {
  Tree t({7, 0});
  t.Generate("src/tokenizer.h", {});
  t.Generate("src/tokenizer.cc", {"src/tokenizer.h"});
  t.Generate("src/parser.h", {"src/tokenizer.h"});
  t.Generate("src/parser.cc", {"src/parser.h", "src/tokenizer.h"});
  t.Generate("src/main.cc", {"src/parser.h"});
  t.Generate("web/lib/util.js", {});
  t.Generate("web/app.js", {"web/lib/util.js"});
  t.Generate("pkg/models.py", {});
  t.Generate("pkg/service.py", {"pkg/models.py"});
  t.Generate("web/base.css", {});
  t.Generate("web/theme.css", {"web/base.css"});
  t.Generate("web/index.html", {"web/theme.css", "web/app.js"});
  for (const char* path :
       {"src/tokenizer.h", "src/tokenizer.cc", "src/parser.h", "src/parser.cc",
        "src/main.cc", "web/lib/util.js", "web/app.js", "pkg/models.py",
        "pkg/service.py"}) {
    EXPECT_TRUE(t.Check(path)) << path << ":\n" << t.at(path);
  }
  EXPECT_NE(t.at("src/main.cc").find("int main()"), std::string::npos);
  EXPECT_TRUE(absl::StartsWith(t.at("web/index.html"), "<!DOCTYPE html>"));
  EXPECT_TRUE(absl::EndsWith(t.at("web/index.html"), "</html>\n"));
}

TEST(SimCodegen, FilesUseWhatTheirDepsExport) {
  Tree t({3, 0});
  t.Generate("src/tokenizer.h", {});
  const std::string cc = t.Generate("src/tokenizer.cc", {"src/tokenizer.h"});
  const std::string parser = t.Generate("src/parser.cc", {"src/tokenizer.h"});
  const std::vector<std::string> declared =
      ExportedSymbols("src/tokenizer.h", t.at("src/tokenizer.h"));
  ASSERT_FALSE(declared.empty());
  // The source file implements its header; another file calls it.
  for (const std::string& f : declared) {
    EXPECT_NE(cc.find("int " + f + "(int value) {"), std::string::npos) << f;
  }
  EXPECT_NE(parser.find("#include \"src/tokenizer.h\""), std::string::npos);
  EXPECT_NE(parser.find(declared[0] + "(acc % 17)"), std::string::npos);

  t.Generate("web/lib/util.js", {});
  const std::string app = t.Generate("web/app.js", {"web/lib/util.js"});
  const auto util = ExportedSymbols("web/lib/util.js", t.at("web/lib/util.js"));
  EXPECT_NE(app.find("from './lib/util.js';"), std::string::npos) << app;
  EXPECT_NE(app.find(util[0] + "(acc % 17)"), std::string::npos);

  t.Generate("pkg/models.py", {});
  const std::string svc = t.Generate("pkg/service.py", {"pkg/models.py"});
  EXPECT_NE(svc.find("from pkg.models import "), std::string::npos);

  t.Generate("web/base.css", {});
  const std::string html = t.Generate("web/index.html", {"web/base.css", "web/app.js"});
  const auto classes = ExportedSymbols("web/base.css", t.at("web/base.css"));
  ASSERT_FALSE(classes.empty());
  EXPECT_NE(html.find("href=\"base.css\""), std::string::npos);
  EXPECT_NE(html.find("class=\"" + classes[0] + "\""), std::string::npos);
  EXPECT_NE(html.find("from './app.js'"), std::string::npos);
}

TEST(SimCodegen, DefectsFailTheCheckAndRepairsFixThem) {
  Tree t({11, 1.0});
  for (const char* path : {"src/a.h", "src/b.cc", "web/c.js", "pkg/d.py"}) {
    t.Generate(path, {});
    EXPECT_FALSE(t.Check(path)) << path << " should carry a defect:\n" << t.at(path);
    t.Generate(path, {}, 400, /*diagnostics=*/true);
    EXPECT_TRUE(t.Check(path)) << path << " should be repaired:\n" << t.at(path);
  }
}

TEST(SimCodegen, DefectRateIsAShareOfFiles) {
  CodegenOptions o{5, 0.25};
  int defects = 0;
  for (int i = 0; i < 400; ++i) {
    defects += SimInjectsDefect(absl::StrCat("src/f", i, ".cc"), o);
  }
  EXPECT_GT(defects, 60);
  EXPECT_LT(defects, 140);
  EXPECT_FALSE(SimInjectsDefect("src/f1.cc", CodegenOptions{5, 0}));
}

TEST(SimCodegen, SizeFollowsTheExpectedTokens) {
  for (const char* path : {"a.cc", "a.h", "a.js", "a.py", "a.css", "a.html",
                           "a.json", "a.md"}) {
    for (int64_t expected : {300, 1500, 6000}) {
      PromptFacts f;
      f.path = path;
      f.expected_tokens = expected;
      const int64_t got = EstimateTokens(ExtractCode(SimReply(f, {1, 0})));
      EXPECT_GE(got, expected * 8 / 10) << path << " " << expected;
      EXPECT_LE(got, expected * 13 / 10 + 60) << path << " " << expected;
    }
  }
}

TEST(SimCodegen, DeterministicForASeed) {
  PromptFacts f;
  f.path = "src/x.py";
  f.expected_tokens = 500;
  EXPECT_EQ(SimReply(f, {42, 0.5}), SimReply(f, {42, 0.5}));
  EXPECT_NE(SimReply(f, {42, 0}), SimReply(f, {43, 0}));
}

TEST(SimCodegen, PlansAreYamlWithConsistentDeps) {
  PromptFacts f;
  f.plan = true;
  f.plan_task = "A small inventory service in Python.";
  const YAML::Node plan = YAML::Load(ExtractCode(SimReply(f, {1, 0})));
  ASSERT_TRUE(plan["files"].IsSequence());
  ASSERT_GE(plan["files"].size(), 3u);
  std::set<std::string> seen;
  for (const YAML::Node& file : plan["files"]) {
    const std::string path = file["path"].as<std::string>();
    EXPECT_TRUE(absl::EndsWith(path, ".py")) << path;
    EXPECT_FALSE(file["instructions"].as<std::string>().empty());
    EXPECT_GT(file["expected_tokens"].as<int>(), 0);
    if (file["deps"]) {
      for (const YAML::Node& d : file["deps"]) {
        EXPECT_TRUE(seen.count(d.as<std::string>())) << d.as<std::string>();
      }
    }
    seen.insert(path);
  }
}

TEST(SimCodegen, PlansUseTheFilesTheTaskNames) {
  PromptFacts f;
  f.plan = true;
  f.plan_task = "Write `lib/db.py` and then `app.py` on top of it.";
  const YAML::Node plan = YAML::Load(ExtractCode(SimReply(f, {1, 0})));
  ASSERT_EQ(plan["files"].size(), 2u);
  EXPECT_EQ(plan["files"][0]["path"].as<std::string>(), "lib/db.py");
  EXPECT_EQ(plan["files"][1]["path"].as<std::string>(), "app.py");
  EXPECT_EQ(plan["files"][1]["deps"][0].as<std::string>(), "lib/db.py");
}

TEST(RelativePath, FromTheFilesDirectory) {
  EXPECT_EQ(RelativePath("web/app.js", "web/util.js"), "util.js");
  EXPECT_EQ(RelativePath("web/app.js", "lib/util.js"), "../lib/util.js");
  EXPECT_EQ(RelativePath("app.js", "lib/x/util.js"), "lib/x/util.js");
  EXPECT_EQ(RelativePath("a/b/c.js", "a/d.js"), "../d.js");
}

}  // namespace
}  // namespace kiln
