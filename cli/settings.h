// The CLI's settings, each resolved from (highest first) its flag, its
// environment variable (KILN_<NAME>), the config file, or its default. The
// config file is --config, else $KILN_CONFIG, else
// ${XDG_CONFIG_HOME:-~/.config}/kiln/config.yaml when it exists; it is a
// YAML mapping of the same names.
#ifndef KILN_CLI_SETTINGS_H_
#define KILN_CLI_SETTINGS_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/flags.h"

namespace kiln {
namespace cli {

enum class SettingType { kString, kInt, kDouble, kChoice };

struct SettingSpec {
  std::string name;  // flag and config key; env is KILN_ + upper case
  SettingType type = SettingType::kString;
  std::string value_name;
  std::string default_value;  // "" for none
  std::string help;
  std::vector<std::string> choices;  // kChoice
  double min = 0, max = 0;           // kInt, kDouble (inclusive)
};

// Every setting, in the order help and `kiln config` list them.
const std::vector<SettingSpec>& AllSettings();

// The settings as flags (for the parser and the help text), plus --config.
std::vector<Option> SettingOptions();

// Reads an environment variable; nullptr when unset. Tests pass a map.
using EnvLookup = std::function<const char*(const std::string&)>;
EnvLookup ProcessEnv();

class Settings {
 public:
  // Resolves every setting. INVALID_ARGUMENT (one problem per line, each
  // naming where the value came from: "--workers", "KILN_WORKERS", or
  // "file:line:column: workers") for an unreadable or malformed config
  // file, unknown config keys, or values of the wrong type or range.
  static absl::StatusOr<Settings> Resolve(const Args& args, const EnvLookup& env);

  const std::string& Get(const std::string& name) const;
  int Int(const std::string& name) const;
  double Double(const std::string& name) const;
  // "flag", "env KILN_X", "config FILE:LINE" or "default".
  const std::string& Source(const std::string& name) const;
  // The config file read, or "" when none was.
  const std::string& config_file() const { return config_file_; }

 private:
  struct Value {
    std::string value;
    std::string source;
  };
  std::map<std::string, Value> values_;
  std::string config_file_;
};

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_SETTINGS_H_
