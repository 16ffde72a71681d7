// The process between the worker and each command it runs (checks, builds,
// git), so that nothing a command started outlives the worker or its own
// end, whatever the sandbox:
//   - it dies with the thread that forked it (a parent-death signal), and
//     takes the command's whole tree with it;
//   - it is a child subreaper, so descendants that leave the command's
//     process group (setsid, double forks) are re-parented to it and killed
//     too;
//   - when the command exits it kills what the command left behind, and
//     exits as the command did (the same code, or the same signal).
// The worker stops a command early (time limit, lost permit, cancel) by
// sending the guard kGuardStopSignal.
//
// RunGuard runs in a child forked from a multi-threaded process: it uses
// async-signal-safe calls only, and everything it needs is built before
// the fork.
#ifndef KILN_WORKER_PROCESS_GUARD_H_
#define KILN_WORKER_PROCESS_GUARD_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>

namespace kiln {

// Also the parent-death signal the guard asks for.
constexpr int kGuardStopSignal = SIGTERM;

struct GuardedCommand {
  const char* program = nullptr;  // a path, resolved before the fork
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;      // null: the worker's
  int output_fd = -1;             // stdout and stderr of the command
  int64_t memory_bytes = 0;       // RLIMIT_AS of the command; 0: none
  int64_t cpu_seconds = 0;        // RLIMIT_CPU of the command
  pid_t parent = 0;               // the worker's pid, taken before the fork
};

// Never returns. Exit codes of its own: 126 when the command could not be
// started (chdir, fork), 127 when it could not be executed.
[[noreturn]] void RunGuard(const GuardedCommand& command);

}  // namespace kiln

#endif  // KILN_WORKER_PROCESS_GUARD_H_
