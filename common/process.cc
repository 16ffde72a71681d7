#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace kiln {
namespace {

// A signal is handled by whichever thread the kernel picks, often not the
// one waiting (a busy process has many): the handler writes to a pipe the
// waiter reads, instead of hoping to interrupt the waiter's pause().
// Lock-free, so safe in a signal handler, and a real atomic between threads.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "a handler sets it");
int g_stop_pipe[2] = {-1, -1};
std::once_flag g_stop_pipe_once;

void EnsureStopPipe() {
  std::call_once(g_stop_pipe_once, [] {
    if (::pipe2(g_stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
      std::perror("kiln: pipe");
      std::abort();
    }
  });
}

void WakeStopWaiter() {
  g_stop.store(true);
  const char c = 1;
  const int saved = errno;  // a handler must leave errno as it found it
  (void)!::write(g_stop_pipe[1], &c, 1);
  errno = saved;
}

void OnStopSignal(int) { WakeStopWaiter(); }

}  // namespace

void RequestStop() {
  EnsureStopPipe();
  WakeStopWaiter();
}

void WaitForStopSignal() {
  EnsureStopPipe();
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  while (!g_stop.load()) {
    struct pollfd p = {g_stop_pipe[0], POLLIN, 0};
    ::poll(&p, 1, -1);  // EINTR or readable: check again
  }
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content,
                                 mode_t mode) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace kiln
