#include "common/timer_loop.h"

#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(TimerLoop, RunsTimersInDeadlineOrderAndPostsInFifoOrder) {
  Mutex mu;
  CondVar cv;
  std::vector<int> order;
  {
    TimerLoop loop;
    auto record = [&](int v) {
      return [&, v] {
        MutexLock l(&mu);
        order.push_back(v);
        cv.SignalAll();
      };
    };
    // Posted from the loop thread itself so the deadlines are relative to
    // the same instant.
    loop.Post([&] {
      loop.RunAfter(absl::Milliseconds(30), record(3));
      loop.RunAfter(absl::Milliseconds(10), record(2));
      loop.Post(record(1));
      loop.Post(record(11));
    });
    MutexLock l(&mu);
    while (order.size() < 4) cv.Wait(&mu);
  }
  EXPECT_EQ(order, (std::vector<int>{1, 11, 2, 3}));
}

TEST(TimerLoop, DropsPendingTimersOnDestruction) {
  bool ran = false;
  {
    TimerLoop loop;
    loop.RunAfter(absl::Hours(1), [&] { ran = true; });
  }
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace kiln
