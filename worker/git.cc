#include "worker/git.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/git_names.h"

namespace kiln {

namespace {

// The subcommand of `git args...` ("fetch" in `git -C dir fetch origin`).
std::string Subcommand(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "-C" || args[i] == "-c" || args[i] == "--git-dir") {
      ++i;  // and its value
    } else if (args[i].empty() || args[i][0] != '-') {
      return args[i];
    }
  }
  return "";
}

}  // namespace

GitRunner::GitRunner(Sandbox* host, Options options)
    : host_(host), options_(std::move(options)) {}

absl::StatusOr<CommandResult> GitRunner::Raw(const std::vector<std::string>& args,
                                             const std::map<std::string, std::string>& extra_env) {
  CommandSpec spec;
  spec.argv = {"git"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = options_.cwd;
  spec.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  for (const auto& [k, v] : options_.env) spec.env[k] = v;
  for (const auto& [k, v] : extra_env) spec.env[k] = v;
  spec.timeout = options_.timeout;
  spec.memory_bytes = 0;
  return host_->Run(spec, options_.cancel);
}

absl::StatusOr<std::string> GitRunner::Out(const std::vector<std::string>& args,
                                           const std::map<std::string, std::string>& extra_env) {
  absl::StatusOr<CommandResult> r = Raw(args, extra_env);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    // Only the subcommand: the other arguments may hold a remote's URL.
    return absl::UnavailableError(absl::StrCat("git ", Subcommand(args), ": exit ",
                                               r->exit_code, ": ",
                                               RedactCredentials(Tail(r->output))));
  }
  return std::string(absl::StripAsciiWhitespace(r->output));
}

std::string GitRunner::Tail(absl::string_view out, size_t max) {
  out = absl::StripAsciiWhitespace(out);
  return std::string(out.size() <= max ? out : out.substr(out.size() - max));
}

}  // namespace kiln
