// Running the `kiln` binary from a test, as a shell would: in a directory,
// with no user config (XDG_CONFIG_HOME under it), capturing its output.
#ifndef KILN_TESTS_KILN_CLI_H_
#define KILN_TESTS_KILN_CLI_H_

#include <string>

namespace kiln {

struct KilnResult {
  int code = -1;  // exit code; -1 if it did not exit normally
  std::string out;
  std::string err;
};

// The file's content ("" when unreadable).
std::string Slurp(const std::string& path);

// The absolute path of a runfile (e.g. "cli/kiln").
std::string Bin(const std::string& runfile);

// Runs `kiln ARGS` in `cwd` with `env` ("NAME=value ..."; may be empty)
// prepended; `cwd`/.cfg is its config directory.
KilnResult RunKiln(const std::string& cwd, const std::string& args,
                   const std::string& env = "");

}  // namespace kiln

#endif  // KILN_TESTS_KILN_CLI_H_
