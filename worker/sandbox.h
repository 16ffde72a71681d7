// Running check and build commands with limits (DESIGN.md, "Worker").
//
// A Sandbox runs one command under a process guard (worker/process_guard.h)
// with CPU, memory and wall-time limits and a cap on the output it keeps.
// Nothing the command starts outlives it, its time limit, its cancel (a lost
// permit lease, a cancelled attempt) or the worker itself, with either
// implementation. Two implementations:
//   - BwrapSandbox: inside bubblewrap, with no network, the whole file
//     system read-only except the given writable directories, a private
//     /tmp, /proc and /dev, and its own PID namespace (so killing it kills
//     everything it started);
//   - HostSandbox: the limits and the guard only, for machines
//     without user namespaces (`--sandbox=none`) and for the worker's own
//     git commands.
#ifndef KILN_WORKER_SANDBOX_H_
#define KILN_WORKER_SANDBOX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"

namespace kiln {

// Set by one thread, observed by another (the command's runner). Once
// cancelled it stays cancelled.
class Cancellation {
 public:
  void Cancel(const std::string& reason);
  bool cancelled() const;
  std::string reason() const;
  // Runs `fn` when Cancel is called (at once if it was). One callback at a
  // time; Clear before the objects it uses go away.
  void OnCancel(std::function<void()> fn);
  void ClearOnCancel();
  // Waits up to `d`; whether it was cancelled (by then).
  bool WaitFor(absl::Duration d);

 private:
  mutable Mutex mu_;
  CondVar cv_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::string reason_ ABSL_GUARDED_BY(mu_);
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
};

struct CommandSpec {
  // argv[0] is looked up in PATH.
  std::vector<std::string> argv;
  // Working directory (must exist).
  std::string cwd;
  // Directories the command may write (besides a private /tmp); with
  // BwrapSandbox everything else is read-only.
  std::vector<std::string> writable;
  // Added to (or replacing in) the worker's environment.
  std::map<std::string, std::string> env;
  // Wall-time limit; the process group is killed when it passes.
  absl::Duration timeout = absl::Minutes(1);
  // Address-space limit per process (RLIMIT_AS); 0: none.
  int64_t memory_bytes = int64_t{2} << 30;
  // CPU-time limit per process (RLIMIT_CPU); 0: the timeout's seconds + 1.
  int64_t cpu_seconds = 0;
  // Output kept: the first and last halves of this many bytes.
  size_t output_cap = 1 << 20;
};

struct CommandResult {
  // The exit code; -N when killed by signal N.
  int exit_code = 0;
  // Killed because the time limit passed.
  bool timed_out = false;
  // Killed because the Cancellation fired (its reason says why).
  bool cancelled = false;
  // stdout and stderr interleaved, capped (see CommandSpec.output_cap) with
  // "[... N bytes omitted ...]" between head and tail.
  std::string output;
  int64_t omitted_bytes = 0;
  absl::Duration duration;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  // "bwrap" or "none".
  virtual std::string name() const = 0;
  // Runs the command to its end (or its kill). An error only when it could
  // not be started; a failing command is a result with its exit code.
  // `cancel` may be null. Thread-safe.
  virtual absl::StatusOr<CommandResult> Run(const CommandSpec& spec,
                                            Cancellation* cancel) = 0;
};

class HostSandbox : public Sandbox {
 public:
  std::string name() const override { return "none"; }
  absl::StatusOr<CommandResult> Run(const CommandSpec& spec,
                                    Cancellation* cancel) override;
};

class BwrapSandbox : public Sandbox {
 public:
  // `bwrap` is the bubblewrap binary (looked up in PATH).
  explicit BwrapSandbox(std::string bwrap = "bwrap");
  std::string name() const override { return "bwrap"; }
  absl::StatusOr<CommandResult> Run(const CommandSpec& spec,
                                    Cancellation* cancel) override;
  // Runs `true` in a sandbox: FAILED_PRECONDITION, with bubblewrap's own
  // words, when this machine cannot (no bwrap, no user namespaces).
  absl::Status Probe();

 private:
  const std::string bwrap_;
};

// "bwrap" (probed) or "none". INVALID_ARGUMENT for other kinds.
absl::StatusOr<std::unique_ptr<Sandbox>> MakeSandbox(const std::string& kind);

// `s` quoted for /bin/sh (single quotes).
std::string ShellQuote(const std::string& s);

}  // namespace kiln

#endif  // KILN_WORKER_SANDBOX_H_
