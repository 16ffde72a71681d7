// A fixed number of threads running posted closures in FIFO order: the
// worker's blocking stages (checkouts, blob transfers, sandboxed commands)
// each get a pool sized to the resource they hold.
#ifndef KILN_COMMON_THREAD_POOL_H_
#define KILN_COMMON_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace kiln {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < std::max(1, threads); ++i) {
      threads_.emplace_back([this] { Work(); });
    }
  }
  // Runs what was posted before, then joins.
  ~ThreadPool() {
    {
      MutexLock l(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    for (auto& t : threads_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Post(std::function<void()> fn) {
    MutexLock l(&mu_);
    queue_.push_back(std::move(fn));
    cv_.Signal();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        MutexLock l(&mu_);
        while (queue_.empty() && !stop_) cv_.Wait(&mu_);
        if (queue_.empty()) return;
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      fn();
    }
  }

  Mutex mu_;
  CondVar cv_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kiln

#endif  // KILN_COMMON_THREAD_POOL_H_
