#include "worker/process_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace kiln {
namespace {

// Writes `n` in decimal at `out`; returns the end.
char* AppendNumber(char* out, long n) {
  char digits[24];
  int k = 0;
  do {
    digits[k++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (k > 0) *out++ = digits[--k];
  return out;
}

// SIGKILL to each direct child of this process, and to the process group
// each one leads (a child that called setsid leads its own).
void KillChildren() {
  char path[64] = "/proc/self/task/";
  char* end = AppendNumber(path + 16, static_cast<long>(::getpid()));
  const char tail[] = "/children";
  for (const char* t = tail; *t != '\0'; ++t) *end++ = *t;
  *end = '\0';
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  long pid = 0;
  bool in_number = false;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] >= '0' && buf[i] <= '9') {
        pid = pid * 10 + (buf[i] - '0');
        in_number = true;
      } else if (in_number) {
        ::kill(static_cast<pid_t>(-pid), SIGKILL);
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        pid = 0;
        in_number = false;
      }
    }
  }
  if (in_number) {
    ::kill(static_cast<pid_t>(-pid), SIGKILL);
    ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  ::close(fd);
}

// Kills the command's group and every process re-parented here, and reaps
// them all. Keeps the command's status in `*status` if it is reaped here.
void KillAll(pid_t command, int* status, bool* reaped) {
  ::kill(-command, SIGKILL);
  for (;;) {
    KillChildren();
    int st = 0;
    const pid_t p = ::waitpid(-1, &st, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      return;  // ECHILD: nothing is left
    }
    if (p == command) {
      *status = st;
      *reaped = true;
    }
  }
}

// Ends this process the way the command ended.
[[noreturn]] void ExitAs(int status) {
  if (WIFEXITED(status)) ::_exit(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    ::sigprocmask(SIG_UNBLOCK, &only, nullptr);
    ::kill(::getpid(), sig);
    ::_exit(128 + sig);
  }
  ::_exit(126);
}

void CloseFrom(int first) {
  if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
  struct rlimit rl = {};
  const long max = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? static_cast<long>(rl.rlim_cur)
                       : 65536;
  for (long fd = first; fd < max; ++fd) ::close(static_cast<int>(fd));
}

}  // namespace

void RunGuard(const GuardedCommand& c) {
  ::setpgid(0, 0);
  // The signals it waits for, blocked before either can arrive; every other
  // signal unblocked (the worker's threads may block some).
  sigset_t waited;
  sigemptyset(&waited);
  sigaddset(&waited, kGuardStopSignal);
  sigaddset(&waited, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &waited, nullptr);
  ::prctl(PR_SET_PDEATHSIG, kGuardStopSignal);
  if (::getppid() != c.parent) ::_exit(126);  // the worker is already gone
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct rlimit core = {0, 0};
  ::setrlimit(RLIMIT_CORE, &core);

  const int devnull = ::open("/dev/null", O_RDWR);
  if (devnull >= 0) ::dup2(devnull, 0);
  ::dup2(c.output_fd, 1);
  ::dup2(c.output_fd, 2);
  // The worker's sockets and files are not the command's (and a copy held
  // here would keep a connection the worker closed open).
  CloseFrom(3);

  const pid_t command = ::fork();
  if (command < 0) ::_exit(126);
  if (command == 0) {
    ::setpgid(0, 0);
    const pid_t guard = ::getppid();
    // If the guard itself is killed outright, the command goes with it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (::getppid() != guard) ::_exit(126);
    if (c.cwd != nullptr && ::chdir(c.cwd) != 0) ::_exit(126);
    if (c.memory_bytes > 0) {
      struct rlimit rl = {static_cast<rlim_t>(c.memory_bytes),
                          static_cast<rlim_t>(c.memory_bytes)};
      ::setrlimit(RLIMIT_AS, &rl);
    }
    struct rlimit cpu = {static_cast<rlim_t>(c.cpu_seconds),
                         static_cast<rlim_t>(c.cpu_seconds + 1)};
    ::setrlimit(RLIMIT_CPU, &cpu);
    ::execve(c.program, c.argv, c.envp);
    ::_exit(127);
  }
  ::setpgid(command, command);
  // Only the command's processes hold the output pipe now: its end of file
  // is theirs.
  if (devnull >= 0) {
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
  }

  int status = 0;
  bool reaped = false;
  for (;;) {
    siginfo_t info;
    const int sig = ::sigwaitinfo(&waited, &info);
    if (sig < 0) continue;  // EINTR
    if (sig == kGuardStopSignal) break;
    // SIGCHLD: reap what exited (orphans re-parented here included).
    for (;;) {
      int st = 0;
      const pid_t p = ::waitpid(-1, &st, WNOHANG);
      if (p <= 0) break;
      if (p == command) {
        status = st;
        reaped = true;
      }
    }
    if (reaped) break;
  }
  KillAll(command, &status, &reaped);
  ExitAs(reaped ? status : (SIGKILL & 0x7f));
}

}  // namespace kiln
