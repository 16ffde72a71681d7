// Closures ordered by deadline, first in first out among equal deadlines:
// the timer heap of an event loop (TimerLoop, HttpTransport). Not
// thread-safe; the loop guards it.
#ifndef KILN_COMMON_TIMER_QUEUE_H_
#define KILN_COMMON_TIMER_QUEUE_H_

#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace kiln {

class TimerQueue {
 public:
  void Push(MonotonicTime at, std::function<void()> fn) {
    heap_.push(Entry{at, seq_++, std::move(fn)});
  }

  bool empty() const { return heap_.empty(); }

  // The earliest deadline; Infinite when empty.
  MonotonicTime next() const {
    return heap_.empty() ? MonotonicTime::Infinite() : heap_.top().at;
  }

  // Removes and returns the closures due at `now`, in deadline order.
  std::vector<std::function<void()>> PopDue(MonotonicTime now) {
    std::vector<std::function<void()>> due;
    while (!heap_.empty() && heap_.top().at <= now) {
      due.push_back(std::move(const_cast<Entry&>(heap_.top()).fn));
      heap_.pop();
    }
    return due;
  }

 private:
  struct Entry {
    MonotonicTime at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Entry& o) const {
      return at != o.at ? at > o.at : seq > o.seq;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  uint64_t seq_ = 0;
};

}  // namespace kiln

#endif  // KILN_COMMON_TIMER_QUEUE_H_
