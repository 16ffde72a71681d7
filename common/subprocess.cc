#include "common/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"

namespace kiln {

absl::StatusOr<Subprocess> Subprocess::Start(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env, const std::string& log_path) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  int log_fd = -1;
  if (!log_path.empty()) {
    log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
      return absl::InternalError(absl::StrCat("open ", log_path, ": ", strerror(errno)));
    }
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child's environment is built before fork: between fork and exec a
  // multi-threaded parent's child may only make async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    sigset_t none;  // the parent's blocked signals are not the child's
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (log_fd >= 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
    }
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  if (log_fd >= 0) close(log_fd);
  return Subprocess(pid);
}

Subprocess::Subprocess(Subprocess&& other) noexcept : pid_(other.pid_) {
  other.pid_ = -1;
}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) Stop(SIGKILL);
    pid_ = other.pid_;
    other.pid_ = -1;
  }
  return *this;
}

Subprocess::~Subprocess() {
  if (pid_ > 0) Stop(SIGKILL);
}

int Subprocess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  if (signal != 0) kill(pid_, signal);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

bool Subprocess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return waitpid(pid_, &status, WNOHANG) == 0;
}

absl::Duration ScaledTimeout(absl::Duration d) {
  const char* scale = std::getenv("KILN_TIMEOUT_SCALE");
  double k = 1;
  if (scale == nullptr || !absl::SimpleAtod(scale, &k) || k < 1) return d;
  return d * k;
}

absl::StatusOr<std::string> WaitForFileLine(const std::string& path,
                                            absl::Duration timeout) {
  timeout = ScaledTimeout(timeout);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::ifstream in(path);
    std::string line;
    if (in && std::getline(in, line) && !line.empty()) return line;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError(
      absl::StrCat(path, " was not written within ", absl::FormatDuration(timeout)));
}

absl::StatusOr<Subprocess> StartServer(const std::vector<std::string>& argv,
                                       const std::map<std::string, std::string>& env,
                                       const std::string& log_path,
                                       const std::string& port_file, int* port) {
  absl::StatusOr<Subprocess> p = Subprocess::Start(argv, env, log_path);
  if (!p.ok()) return p.status();
  absl::StatusOr<std::string> line = WaitForFileLine(port_file, absl::Seconds(30));
  if (!line.ok()) return line.status();
  if (!absl::SimpleAtoi(*line, port)) {
    return absl::InternalError(absl::StrCat(port_file, " holds no port: ", *line));
  }
  return p;
}

}  // namespace kiln
