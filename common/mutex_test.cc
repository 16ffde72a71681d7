#include "common/mutex.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(Mutex, GuardsACounterAcrossThreads) {
  Mutex mu;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(CondVar, WakesAWaiterWhenTheConditionHolds) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  int seen = 0;
  std::thread waiter([&] {
    MutexLock lock(&mu);
    while (!ready) cv.Wait(&mu);
    seen = 1;
  });
  {
    MutexLock lock(&mu);
    ready = true;
  }
  cv.SignalAll();
  waiter.join();
  EXPECT_EQ(seen, 1);
}

TEST(CondVar, WaitWithTimeoutReportsTheTimeout) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  // Nobody signals: the wait ends by timing out. A spurious wake-up is
  // allowed (it returns false), but not forever.
  bool timed_out = false;
  for (int i = 0; i < 1000 && !timed_out; ++i) {
    timed_out = cv.WaitWithTimeout(&mu, absl::Milliseconds(1));
  }
  EXPECT_TRUE(timed_out);
}

TEST(CondVar, WaitWithTimeoutReportsASignalAsNoTimeout) {
  Mutex mu;
  CondVar cv, started_cv;
  bool started = false;
  bool ready = false;
  bool timed_out = true;
  std::thread waiter([&] {
    MutexLock lock(&mu);
    started = true;
    started_cv.SignalAll();
    // mu is released only inside the wait: once the main thread holds it,
    // the waiter is waiting.
    do {
      timed_out = cv.WaitWithTimeout(&mu, absl::Minutes(10));
    } while (!ready);
  });
  {
    MutexLock lock(&mu);
    while (!started) started_cv.Wait(&mu);
    ready = true;
  }
  cv.SignalAll();
  waiter.join();
  EXPECT_FALSE(timed_out);  // woken by the signal, long before the timeout
}

}  // namespace
}  // namespace kiln
