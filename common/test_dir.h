// A fresh directory for one test: under $TEST_TMPDIR (Bazel's per-test
// scratch space), or /tmp outside Bazel; emptied first.
#ifndef KILN_COMMON_TEST_DIR_H_
#define KILN_COMMON_TEST_DIR_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace kiln {

inline std::string FreshTestDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  const std::filesystem::path p = std::filesystem::path(t != nullptr ? t : "/tmp") / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace kiln

#endif  // KILN_COMMON_TEST_DIR_H_
