// Command-line parsing for `kiln` and its subcommands: `--name=value`,
// `--name value`, boolean `--name` / `--no-name`, `--` ending the options,
// and help text generated from the same table the parser reads, so the two
// cannot disagree.
#ifndef KILN_CLI_FLAGS_H_
#define KILN_CLI_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln {
namespace cli {

struct Option {
  std::string name;        // without the dashes
  std::string value_name;  // "FILE", "N"; empty for a boolean
  std::string help;
  std::string default_text;  // shown in help; empty: none shown
};

struct Command {
  std::string name;     // "run"
  std::string args;     // "FILE.yaml"
  std::string summary;  // one line for `kiln --help`
  // Paragraphs for `kiln help run`, separated by blank lines; a paragraph
  // indented by two spaces (an example) is printed as written.
  std::string details;
  std::vector<Option> options;
  int min_args = 0;
  int max_args = 0;
};

struct Args {
  std::map<std::string, std::string> values;  // "true"/"false" for booleans
  std::vector<std::string> positional;
  bool help = false;

  bool Has(const std::string& name) const { return values.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  bool Flag(const std::string& name) const;
};

// Parses `argv` (after the subcommand) against the command's options and the
// `shared` ones. INVALID_ARGUMENT naming the flag: unknown (with the closest
// known name), missing value, value given to a boolean, wrong number of
// positional arguments. `--help` / `-h` sets `help` and skips the argument
// count check.
absl::StatusOr<Args> ParseArgs(const Command& command,
                               const std::vector<Option>& shared,
                               const std::vector<std::string>& argv);

// The command's help: usage line, details, its options and the shared ones,
// each with its value name, default and help, wrapped at 80 columns.
std::string CommandHelp(const Command& command, const std::vector<Option>& shared,
                        const std::string& shared_title);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_FLAGS_H_
