// An in-process PermitSource for the runner's unit tests: a FIFO counting
// semaphore per name that records the highest number of permits ever held
// at once, and can take every held lease away (as an expired lease would).
#ifndef KILN_WORKER_FAKE_PERMITS_H_
#define KILN_WORKER_FAKE_PERMITS_H_

#include <deque>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "worker/permits.h"

namespace kiln {

class FakePermits : public PermitSource {
 public:
  // Every semaphore has `permits` permits.
  explicit FakePermits(int permits) : permits_(permits) {}

  absl::StatusOr<std::unique_ptr<PermitGrant>> Acquire(
      const PermitRequest& request, Cancellation* cancel,
      std::function<void()> on_lost) override;

  // Marks every held lease lost and runs its on_lost.
  void LoseAll();
  // Highest permits held at once, over all semaphores.
  int max_in_use() const;
  int64_t grants() const;
  // Until `n` grants were made (a minute at most); whether they were.
  bool WaitForGrants(int64_t n);

 private:
  class Grant;
  struct Holder {
    std::function<void()> on_lost;
    bool lost = false;
    int weight = 0;
  };
  void Return(const std::shared_ptr<Holder>& h);

  const int permits_;
  mutable Mutex mu_;
  CondVar cv_;
  int in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int max_in_use_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t grants_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<uint64_t> queue_ ABSL_GUARDED_BY(mu_);
  std::map<Holder*, std::shared_ptr<Holder>> held_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln

#endif  // KILN_WORKER_FAKE_PERMITS_H_
