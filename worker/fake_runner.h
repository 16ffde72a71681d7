// A TaskRunner that finishes every attempt at once, without an LLM: the
// zero-latency worker of the coordinator's tests and benchmarks. GENERATE
// and REPAIR attempts write "// <path> (task <id>)\n" (or one fixed text
// for every file, so its blob is uploaded once); BUILD attempts succeed.
#ifndef KILN_WORKER_FAKE_RUNNER_H_
#define KILN_WORKER_FAKE_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/timer_loop.h"
#include "worker/session.h"

namespace kiln {

struct FakeRunnerOptions {
  // Every file gets the same content (one upload for the whole run).
  bool same_content = false;
  // The process dies (_exit) when this many assignments have arrived,
  // before answering the last: a crash mid-task. 0: never.
  int64_t crash_at_assignment = 0;
  // How long each attempt takes (0: answered inline, at once).
  absl::Duration delay = absl::ZeroDuration();
};

class FakeRunner : public TaskRunner {
 public:
  explicit FakeRunner(FakeRunnerOptions options);
  void Run(const kiln::v1::Assignment& a, WorkerPort* session) override;
  void Cancel(const kiln::v1::Lease&) override { cancelled_++; }
  // Drops delayed attempts not finished yet (call before the session stops).
  void Stop() { timers_.reset(); }

  int64_t ran() const { return ran_.load(); }
  int64_t cancelled() const { return cancelled_.load(); }

 private:
  void Finish(kiln::v1::Assignment a, WorkerPort* session);

  const FakeRunnerOptions options_;
  std::unique_ptr<TimerLoop> timers_;  // with a delay
  std::atomic<int64_t> ran_{0};
  std::atomic<int64_t> cancelled_{0};
  Mutex mu_;
  std::set<std::string> uploaded_ ABSL_GUARDED_BY(mu_);  // digest hashes
};

}  // namespace kiln

#endif  // KILN_WORKER_FAKE_RUNNER_H_
