#include "tests/migration_check.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<std::string> FilesUsingTheClient(const std::string& repo) {
  std::vector<std::string> out;
  const fs::path root = fs::path(repo) / "service";
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".py") continue;
    if (absl::StartsWith(e.path().filename().string(), "test_")) continue;
    if (absl::StrContains(Read(e.path()), "http_client")) {
      out.push_back(e.path().lexically_relative(repo).generic_string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> MigrationProblems(const std::string& repo,
                                           const std::map<std::string, std::string>& changed,
                                           const std::string& scratch) {
  std::vector<std::string> problems;
  const std::vector<std::string> expected = FilesUsingTheClient(repo);
  std::vector<std::string> got;
  for (const auto& [path, content] : changed) got.push_back(path);
  if (got != expected) {
    problems.push_back(absl::StrCat(repo, ": changed {", absl::StrJoin(got, ", "),
                                    "}, expected {", absl::StrJoin(expected, ", "), "}"));
  }
  fs::create_directories(scratch);
  for (const auto& [path, content] : changed) {
    const std::string original = Read(fs::path(repo) / path);
    if (content == original) problems.push_back(absl::StrCat(path, ": unchanged"));
    if (absl::StrContains(content, "http_client")) {
      problems.push_back(absl::StrCat(path, ": still uses http_client"));
    }
    const std::vector<std::string> before = absl::StrSplit(original, '\n');
    const std::vector<std::string> after = absl::StrSplit(content, '\n');
    if (before.size() != after.size()) {
      problems.push_back(absl::StrCat(path, ": ", before.size(), " lines became ", after.size()));
    } else {
      for (size_t i = 0; i < before.size(); ++i) {
        if (before[i] != after[i] && !absl::StrContains(before[i], "http_client")) {
          problems.push_back(absl::StrCat(path, ":", i + 1, ": a line without the client changed: '",
                                          before[i], "' -> '", after[i], "'"));
        }
      }
    }
    const fs::path file = fs::path(scratch) / "check.py";
    std::ofstream(file, std::ios::binary) << content;
    const std::string cmd =
        absl::StrCat("python3 -m py_compile ", file.string(), " >/dev/null 2>&1");
    if (std::system(cmd.c_str()) != 0) problems.push_back(absl::StrCat(path, ": does not compile"));
  }
  return problems;
}

}  // namespace kiln
