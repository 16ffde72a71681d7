#include "cli/settings.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/yaml_reader.h"

namespace kiln {
namespace cli {
namespace {

std::vector<SettingSpec> BuildSettings() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  using T = SettingType;
  return {
      {"coordinator", T::kString, "HOST:PORT", "",
       "the coordinator to use; empty: the embedded one (kiln run starts it, "
       "with its state under --state_dir)"},
      {"token_env", T::kString, "NAME", "KILN_TOKEN",
       "environment variable holding the coordinator's bearer token"},
      {"secrets_file", T::kString, "FILE", "",
       "NAME=value file consulted for --token_env and --api_key_env when the "
       "variables are unset"},
      {"tls_ca", T::kString, "FILE", "",
       "PEM CA that the coordinator's certificate must chain to (enables TLS)"},
      {"state_dir", T::kString, "DIR", ".kiln",
       "the embedded coordinator's state, workers' checkouts and run records"},
      {"provider", T::kChoice, "NAME", "sim",
       "LLM provider of the embedded workers", {"sim", "openai", "anthropic"}},
      {"base_url", T::kString, "URL", "",
       "provider endpoint; empty: the provider's public API (e.g. "
       "http://localhost:8000/v1 for vLLM, or kiln_llmsim)"},
      {"api_key_env", T::kString, "NAME", "",
       "environment variable holding the provider's API key; empty: "
       "OPENAI_API_KEY or ANTHROPIC_API_KEY"},
      {"models", T::kString, "FILE", "", "YAML file of extra or overriding model profiles"},
      {"api_model_key", T::kString, "NAME", "",
       "which api_model id of a profile the embedded workers send (anthropic, openai, "
       "openrouter, moonshot, ...); empty: from base_url, else the provider"},
      {"max_continuations", T::kInt, "N", "3",
       "continuations of a reply cut off at its output cap before the attempt fails", {}, 0,
       16},
      {"workers", T::kInt, "N", "2", "embedded workers", {}, 1, 64},
      {"llm_slots", T::kInt, "N", "64", "concurrent LLM calls per embedded worker", {}, 1,
       4096},
      {"build_slots", T::kInt, "N", "0",
       "concurrent checks and builds per embedded worker; 0: cores / workers (at least 1)",
       {}, 0, 256},
      {"permits", T::kString, "NAME=N,...", absl::StrCat("compile=", cores),
       "permits of the embedded coordinator's semaphores (checks and builds take "
       "`compile`)"},
      {"min_free_mib", T::kInt, "MIB", "256",
       "the embedded coordinator refuses submissions while its state directory's "
       "filesystem has less than this free, and stops writing (reads go on) below a "
       "quarter of it; 0: no checks",
       {}, 0, 1 << 30},
      {"max_batch_tasks", T::kInt, "N", "100000",
       "the embedded coordinator refuses a batch of more tasks than this (matrix "
       "expanded)",
       {}, 1, 100000000},
      {"sandbox", T::kChoice, "KIND", "bwrap",
       "how embedded workers run checks: bwrap (no network, read-only outside the "
       "worktree) or none (limits only)",
       {"bwrap", "none"}},
      {"time_scale", T::kDouble, "X", "1",
       "sim provider: simulated seconds per real second (10 runs a 60 s job in 6 s)", {},
       0.001, 100000},
      {"defect_rate", T::kDouble, "P", "0",
       "sim provider: share of first attempts whose file fails its check (exercises "
       "repairs)",
       {}, 0, 1},
      {"sim_seed", T::kInt, "N", "1", "sim provider: random seed", {}, 0, 1e15},
      {"otlp_endpoint", T::kString, "HOST:PORT", "",
       "export trace spans over OTLP/gRPC to this receiver (Jaeger: localhost:4317; "
       "http:// or https:// may prefix it); the embedded coordinator and workers "
       "export there too; empty: tracing off"},
      {"trace_sample_ratio", T::kDouble, "P", "1",
       "share of the batches this command starts that are traced", {}, 0, 1},
  };
}

std::string EnvName(const std::string& name) {
  return absl::StrCat("KILN_", absl::AsciiStrToUpper(name));
}

// Checks `value` against the spec's type; "" when fine, else the problem.
std::string Check(const SettingSpec& s, const std::string& value) {
  switch (s.type) {
    case SettingType::kString:
      return "";
    case SettingType::kChoice:
      for (const auto& c : s.choices) {
        if (c == value) return "";
      }
      return absl::StrCat("want one of ", absl::StrJoin(s.choices, ", "), ", got \"", value,
                          "\"");
    case SettingType::kInt: {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v) || v < s.min || v > s.max) {
        return absl::StrCat("want an integer from ", static_cast<int64_t>(s.min), " to ",
                            static_cast<int64_t>(s.max), ", got \"", value, "\"");
      }
      return "";
    }
    case SettingType::kDouble: {
      double v = 0;
      if (!absl::SimpleAtod(value, &v) || v < s.min || v > s.max) {
        return absl::StrCat("want a number from ", s.min, " to ", s.max, ", got \"", value,
                            "\"");
      }
      return "";
    }
  }
  return "";
}

std::string ConfigPath(const Args& args, const EnvLookup& env, bool* explicit_path) {
  *explicit_path = true;
  if (args.Has("config")) return args.Get("config");
  if (const char* p = env("KILN_CONFIG"); p != nullptr && *p) return p;
  *explicit_path = false;
  if (const char* x = env("XDG_CONFIG_HOME"); x != nullptr && *x) {
    return absl::StrCat(x, "/kiln/config.yaml");
  }
  if (const char* h = env("HOME"); h != nullptr && *h) {
    return absl::StrCat(h, "/.config/kiln/config.yaml");
  }
  return "";
}

}  // namespace

const std::vector<SettingSpec>& AllSettings() {
  static const auto* settings = new std::vector<SettingSpec>(BuildSettings());
  return *settings;
}

std::vector<Option> SettingOptions() {
  std::vector<Option> out;
  out.push_back({"config", "FILE",
                 "config file (YAML mapping of these names); else $KILN_CONFIG, else "
                 "~/.config/kiln/config.yaml if present",
                 ""});
  for (const SettingSpec& s : AllSettings()) {
    out.push_back({s.name, s.value_name, absl::StrCat(s.help, "; env ", EnvName(s.name)),
                   s.default_value.empty() ? "" : s.default_value});
  }
  return out;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) { return std::getenv(name.c_str()); };
}

absl::StatusOr<Settings> Settings::Resolve(const Args& args, const EnvLookup& env) {
  Settings out;
  std::vector<InputProblem> problems;

  // The config file: values with their lines.
  struct FileValue {
    std::string value;
    int line = 0;
    int column = 0;
  };
  std::map<std::string, FileValue> file_values;
  bool explicit_path = false;
  const std::string path = ConfigPath(args, env, &explicit_path);
  if (!path.empty()) {
    std::ifstream in(path);
    if (!in) {
      if (explicit_path) {
        return absl::InvalidArgumentError(
            absl::StrCat("config file ", path, " cannot be read"));
      }
    } else {
      std::stringstream text;
      text << in.rdbuf();
      out.config_file_ = path;
      YamlReader reader(path);
      absl::optional<YAML::Node> root = reader.Load(text.str());
      if (root && reader.ExpectMap(*root, "")) {
        std::vector<absl::string_view> names;
        for (const SettingSpec& s : AllSettings()) names.push_back(s.name);
        for (const auto& kv : *root) {
          const std::string key = kv.first.Scalar();
          bool known = false;
          for (const SettingSpec& s : AllSettings()) known = known || s.name == key;
          if (!known) {
            std::string message = absl::StrCat("unknown setting '", key, "'");
            const std::string best = ClosestName(key, names);
            if (!best.empty()) absl::StrAppend(&message, " (did you mean '", best, "'?)");
            reader.Problem(kv.first, key, message);
            continue;
          }
          const std::string value = reader.String(kv.second, key);
          file_values[key] = {value, kv.second.Mark().line + 1, kv.second.Mark().column + 1};
        }
      }
      problems = reader.problems();
    }
  }

  for (const SettingSpec& s : AllSettings()) {
    Value v{s.default_value, "default"};
    InputProblem where;
    if (args.Has(s.name)) {
      v = {args.Get(s.name), absl::StrCat("flag --", s.name)};
      where.field = absl::StrCat("--", s.name);
    } else if (const char* e = env(EnvName(s.name)); e != nullptr) {
      v = {e, absl::StrCat("env ", EnvName(s.name))};
      where.field = EnvName(s.name);
    } else if (auto it = file_values.find(s.name); it != file_values.end()) {
      v = {it->second.value, absl::StrCat("config ", path, ":", it->second.line)};
      where = {path, it->second.line, it->second.column, s.name, ""};
    }
    if (std::string problem = Check(s, v.value); !problem.empty() && v.source != "default") {
      where.message = problem;
      problems.push_back(where);
    }
    out.values_[s.name] = std::move(v);
  }
  if (!problems.empty()) return ProblemsToStatus(std::move(problems));
  return out;
}

const std::string& Settings::Get(const std::string& name) const {
  return values_.at(name).value;
}

int Settings::Int(const std::string& name) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(Get(name), &v);
  return static_cast<int>(v);
}

double Settings::Double(const std::string& name) const {
  double v = 0;
  (void)absl::SimpleAtod(Get(name), &v);
  return v;
}

const std::string& Settings::Source(const std::string& name) const {
  return values_.at(name).source;
}

}  // namespace cli
}  // namespace kiln
