// Starting and stopping real processes, for integration tests and for the
// CLI's embedded mode.
#ifndef KILN_COMMON_SUBPROCESS_H_
#define KILN_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kiln {

class Subprocess {
 public:
  // Starts `argv` with the current environment plus `env`. stdout and stderr
  // go to `log_path` when it is non-empty, otherwise to the parent's.
  static absl::StatusOr<Subprocess> Start(const std::vector<std::string>& argv,
                                          const std::map<std::string, std::string>& env = {},
                                          const std::string& log_path = "");

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // Kills (SIGKILL) and reaps the process if it is still running.
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Sends `signal` and waits for the exit. Returns the exit status as
  // waitpid reports it.
  int Stop(int signal);
  // Waits for the exit (without signalling it); the status as waitpid
  // reports it.
  int Wait() { return Stop(0); }
  // Whether it has not exited yet.
  bool Running();

 private:
  explicit Subprocess(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

// `d` times $KILN_TIMEOUT_SCALE (set under the sanitizers, whose processes
// run several times slower); `d` when it is unset.
absl::Duration ScaledTimeout(absl::Duration d);

// Waits until `path` holds a line (e.g. a port a server wrote), up to
// `timeout` (scaled: ScaledTimeout). DEADLINE_EXCEEDED otherwise.
absl::StatusOr<std::string> WaitForFileLine(const std::string& path,
                                            absl::Duration timeout);

// Starts a server that writes its port to `port_file` once listening (the
// --port_file of kiln's binaries) and waits for it, up to 30 s.
absl::StatusOr<Subprocess> StartServer(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& log_path,
                                       const std::string& port_file, int* port);

}  // namespace kiln

#endif  // KILN_COMMON_SUBPROCESS_H_
