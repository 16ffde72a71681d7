#include "cli/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli/context.h"

namespace kiln {
namespace cli {

Signals& Signals::Get() {
  static Signals* s = new Signals();
  return *s;
}

void Signals::OnInterrupt(std::function<void()> fn) {
  MutexLock l(&mu_);
  fn_ = std::move(fn);
  if (count_ > 0 && fn_) fn_();
}

Signals::Signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([this, set] {
    while (true) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (count_.fetch_add(1) > 0) {
        std::fprintf(stderr, "\nkiln: interrupted again; exiting now\n");
        std::_Exit(kExitInterrupted);
      }
      std::fprintf(stderr, "\nkiln: stopping (Ctrl-C again to exit at once)\n");
      MutexLock l(&mu_);
      if (fn_) fn_();
    }
  }).detach();
}

}  // namespace cli
}  // namespace kiln
