// git as the worker runs it (the mirror cache, the worktrees, LAND): on the
// host, never inside the check sandbox; never prompting for credentials; in
// the C locale (its messages are matched, e.g. a rejected push's); under a
// timeout and an optional cancellation.
#ifndef KILN_WORKER_GIT_H_
#define KILN_WORKER_GIT_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "worker/sandbox.h"

namespace kiln {

class GitRunner {
 public:
  struct Options {
    std::string cwd;                         // "": the process's
    std::map<std::string, std::string> env;  // on top of the defaults above
    absl::Duration timeout = absl::Minutes(10);
    Cancellation* cancel = nullptr;
  };
  // `host` runs the commands; it must outlive the runner.
  GitRunner(Sandbox* host, Options options);

  // Runs `git args...`; its exit code and output, whatever they are.
  absl::StatusOr<CommandResult> Raw(const std::vector<std::string>& args,
                                    const std::map<std::string, std::string>& extra_env = {});
  // The trimmed output of a command that must succeed; else UNAVAILABLE
  // naming the subcommand, its exit code and the end of its output, with
  // any credentials in URLs redacted.
  absl::StatusOr<std::string> Out(const std::vector<std::string>& args,
                                  const std::map<std::string, std::string>& extra_env = {});

  // The last `max` bytes of `out`, trimmed.
  static std::string Tail(absl::string_view out, size_t max = 2000);

 private:
  Sandbox* const host_;
  const Options options_;
};

}  // namespace kiln

#endif  // KILN_WORKER_GIT_H_
