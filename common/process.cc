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
// Published with release stores: a handler on a thread that never called
// EnsureStopPipe reads them with acquire loads.
std::atomic<int> g_stop_read{-1};
std::atomic<int> g_stop_write{-1};
std::once_flag g_stop_pipe_once;

void EnsureStopPipe() {
  std::call_once(g_stop_pipe_once, [] {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
      std::perror("kiln: pipe");
      std::abort();
    }
    g_stop_read.store(fds[0], std::memory_order_release);
    g_stop_write.store(fds[1], std::memory_order_release);
  });
}

void WakeStopWaiter() {
  g_stop.store(true);
  const char c = 1;
  const int saved = errno;  // a handler must leave errno as it found it
  const int fd = g_stop_write.load(std::memory_order_acquire);
  if (fd >= 0) (void)!::write(fd, &c, 1);
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
    struct pollfd p = {g_stop_read.load(std::memory_order_acquire), POLLIN, 0};
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
