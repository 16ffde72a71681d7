#include "tests/kiln_cli.h"

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"

namespace kiln {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Bin(const std::string& runfile) {
  return std::filesystem::absolute(runfile).string();
}

KilnResult RunKiln(const std::string& cwd, const std::string& args, const std::string& env) {
  const std::string o = cwd + "/.stdout", e = cwd + "/.stderr";
  const std::string cmd = absl::StrCat("cd ", cwd, " && env XDG_CONFIG_HOME=", cwd, "/.cfg ",
                                       env, " ", Bin("cli/kiln"), " ", args, " >", o, " 2>", e);
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, Slurp(o), Slurp(e)};
}

}  // namespace kiln
