#include "worker/sandbox.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/optional.h"
#include "common/clock.h"
#include "worker/process_guard.h"

extern char** environ;

namespace kiln {

void Cancellation::Cancel(const std::string& reason) {
  std::function<void()> fn;
  {
    MutexLock l(&mu_);
    if (cancelled_) return;
    cancelled_ = true;
    reason_ = reason;
    fn = fn_;
    cv_.SignalAll();
  }
  if (fn) fn();
}

bool Cancellation::cancelled() const {
  MutexLock l(&mu_);
  return cancelled_;
}

std::string Cancellation::reason() const {
  MutexLock l(&mu_);
  return reason_;
}

void Cancellation::OnCancel(std::function<void()> fn) {
  bool now;
  {
    MutexLock l(&mu_);
    fn_ = fn;
    now = cancelled_;
  }
  if (now && fn) fn();
}

void Cancellation::ClearOnCancel() {
  MutexLock l(&mu_);
  fn_ = nullptr;
}

bool Cancellation::WaitFor(absl::Duration d) {
  MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + d;
  while (!cancelled_) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    cv_.WaitWithTimeout(&mu_, left);
  }
  return cancelled_;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

namespace {

// argv[0] resolved against PATH (before fork: execvp may allocate).
absl::StatusOr<std::string> FindProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string full = absl::StrCat(dir, "/", name);
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return absl::NotFoundError(absl::StrCat("program not found in PATH: ", name));
}

// Keeps the first and the last `cap / 2` bytes of a stream.
class CappedOutput {
 public:
  explicit CappedOutput(size_t cap) : half_(std::max<size_t>(cap / 2, 1)) {}
  void Add(const char* data, size_t n) {
    while (n > 0 && head_.size() < half_) {
      const size_t k = std::min(n, half_ - head_.size());
      head_.append(data, k);
      data += k;
      n -= k;
    }
    if (n == 0) return;
    tail_.append(data, n);
    if (tail_.size() > 2 * half_) {
      const size_t drop = tail_.size() - half_;
      omitted_ += static_cast<int64_t>(drop);
      tail_.erase(0, drop);
    }
  }
  std::string Take(int64_t* omitted) {
    if (tail_.size() > half_) {
      omitted_ += static_cast<int64_t>(tail_.size() - half_);
      tail_.erase(0, tail_.size() - half_);
    }
    *omitted = omitted_;
    if (omitted_ == 0) return head_ + tail_;
    return absl::StrCat(head_, "\n[... ", omitted_, " bytes omitted ...]\n", tail_);
  }

 private:
  const size_t half_;
  std::string head_;
  std::string tail_;
  int64_t omitted_ = 0;
};

// Forks `argv` under a process guard (worker/process_guard.h) with the
// spec's limits, collects its output and stops it at the time limit or on
// cancel.
absl::StatusOr<CommandResult> RunProcess(const std::vector<std::string>& argv,
                                         const CommandSpec& spec,
                                         Cancellation* cancel) {
  if (argv.empty()) return absl::InvalidArgumentError("empty command");
  absl::StatusOr<std::string> program = FindProgram(argv[0]);
  if (!program.ok()) return program.status();

  // Everything the child needs, built before fork.
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::map<std::string, std::string> env_map;
  for (char** e = environ; *e != nullptr; ++e) {
    absl::string_view kv(*e);
    const size_t eq = kv.find('=');
    if (eq == absl::string_view::npos) continue;
    env_map[std::string(kv.substr(0, eq))] = std::string(kv.substr(eq + 1));
  }
  for (const auto& [k, v] : spec.env) env_map[k] = v;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env_map) env_strings.push_back(absl::StrCat(k, "=", v));
  std::vector<char*> cenv;
  for (auto& s : env_strings) cenv.push_back(const_cast<char*>(s.c_str()));
  cenv.push_back(nullptr);
  const int64_t cpu = spec.cpu_seconds > 0
                          ? spec.cpu_seconds
                          : absl::ToInt64Seconds(spec.timeout) + 1;

  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  GuardedCommand guarded;
  guarded.program = program->c_str();
  guarded.argv = cargv.data();
  guarded.envp = cenv.data();
  guarded.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  guarded.output_fd = fds[1];
  guarded.memory_bytes = spec.memory_bytes;
  guarded.cpu_seconds = cpu;
  guarded.parent = ::getpid();
  const MonotonicTime start = RealClock()->MonotonicNow();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::ResourceExhaustedError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) RunGuard(guarded);
  ::close(fds[1]);
  // Stopping the guard stops the command's whole tree; should the guard not
  // exit within kStopGrace, it is killed outright (and its command with it).
  constexpr absl::Duration kStopGrace = absl::Seconds(5);
  if (cancel != nullptr) {
    cancel->OnCancel([pid] { ::kill(pid, kGuardStopSignal); });
  }

  CommandResult result;
  CappedOutput out(spec.output_cap);
  const MonotonicTime deadline = start + spec.timeout;
  bool exited = false;
  bool eof = false;
  int status = 0;
  char buf[16384];
  absl::optional<MonotonicTime> stopped;
  auto read_some = [&](int timeout_ms) {
    struct pollfd p = {fds[0], POLLIN, 0};
    const int r = ::poll(&p, 1, timeout_ms);
    if (r <= 0) return false;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.Add(buf, static_cast<size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      eof = true;
    }
    return true;
  };
  // Until the guard exits (the command's processes are all gone by then),
  // in short polls: the time limit holds even after the command closed its
  // output.
  while (!exited) {
    const MonotonicTime now = RealClock()->MonotonicNow();
    if (!result.timed_out && now >= deadline) {
      result.timed_out = true;
      ::kill(pid, kGuardStopSignal);
    }
    if (!stopped && (result.timed_out || (cancel != nullptr && cancel->cancelled()))) {
      stopped = now;
    }
    if (stopped && now - *stopped >= kStopGrace) ::kill(pid, SIGKILL);
    const int wait_ms =
        stopped ? 50
                : static_cast<int>(std::max<int64_t>(
                      1, std::min<int64_t>(50, absl::ToInt64Milliseconds(deadline - now) + 1)));
    if (eof) {
      ::poll(nullptr, 0, wait_ms);
    } else {
      read_some(wait_ms);
    }
    if (::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  // What is left in the pipe.
  while (!eof && read_some(0)) {
  }
  ::close(fds[0]);
  if (cancel != nullptr) {
    cancel->ClearOnCancel();
    result.cancelled = cancel->cancelled();
  }
  result.duration = RealClock()->MonotonicNow() - start;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = -WTERMSIG(status);
  }
  result.output = out.Take(&result.omitted_bytes);
  return result;
}

}  // namespace

absl::StatusOr<CommandResult> HostSandbox::Run(const CommandSpec& spec,
                                               Cancellation* cancel) {
  return RunProcess(spec.argv, spec, cancel);
}

BwrapSandbox::BwrapSandbox(std::string bwrap) : bwrap_(std::move(bwrap)) {}

absl::StatusOr<CommandResult> BwrapSandbox::Run(const CommandSpec& spec,
                                                Cancellation* cancel) {
  std::vector<std::string> argv = {
      bwrap_,
      // No network, its own PID namespace (its init dies with it and takes
      // every process of the command along), IPC and UTS namespaces.
      "--unshare-all", "--die-with-parent",
      "--ro-bind", "/", "/",
      "--dev", "/dev",
      "--proc", "/proc",
      "--tmpfs", "/tmp",
  };
  for (const auto& dir : spec.writable) {
    argv.insert(argv.end(), {"--bind", dir, dir});
  }
  if (!spec.cwd.empty()) argv.insert(argv.end(), {"--chdir", spec.cwd});
  argv.push_back("--");
  argv.insert(argv.end(), spec.argv.begin(), spec.argv.end());
  CommandSpec outer = spec;
  outer.cwd.clear();
  return RunProcess(argv, outer, cancel);
}

absl::Status BwrapSandbox::Probe() {
  CommandSpec spec;
  spec.argv = {"true"};
  spec.timeout = absl::Seconds(30);
  absl::StatusOr<CommandResult> r = Run(spec, nullptr);
  if (!r.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the bubblewrap sandbox is not available (", r.status().message(),
        "); install bubblewrap or run with --sandbox=none"));
  }
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the bubblewrap sandbox does not work on this machine (exit ",
        r->exit_code, ": ", r->output,
        "); allow unprivileged user namespaces or run with --sandbox=none"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Sandbox>> MakeSandbox(const std::string& kind) {
  if (kind == "none") return std::unique_ptr<Sandbox>(new HostSandbox());
  if (kind == "bwrap") {
    auto s = std::make_unique<BwrapSandbox>();
    absl::Status probe = s->Probe();
    if (!probe.ok()) return probe;
    return std::unique_ptr<Sandbox>(std::move(s));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--sandbox: unknown kind \"", kind, "\" (want bwrap or none)"));
}

}  // namespace kiln
