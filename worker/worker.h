// A whole worker in one object: provider, sandbox, cluster permits, runner
// and the session with the coordinator. `kiln_worker` is this plus flags;
// the CLI's embedded mode starts several in-process.
#ifndef KILN_WORKER_WORKER_H_
#define KILN_WORKER_WORKER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/mutex.h"
#include "llm/model_profile.h"
#include "llm/provider.h"
#include "llm/provider_factory.h"
#include "worker/permits.h"
#include "worker/runner.h"
#include "worker/sandbox.h"
#include "worker/session.h"

namespace kiln {

struct WorkerOptions {
  // host:port of the coordinator, and its bearer token (empty: none).
  std::string coordinator = "127.0.0.1:7070";
  std::string token;
  // Stable id across reconnects; empty: the coordinator assigns one.
  std::string worker_id;
  int llm_slots = 256;
  // Threads, limits, work dir; build_slots <= 0: the number of cores.
  RunnerOptions runner;
  ProviderConfig provider;
  // When set, used instead of building one from `provider` (not owned; must
  // outlive the worker). Workers in one process share it, like one account:
  // its prompt cache and rate limits.
  Provider* shared_provider = nullptr;
  // Models this worker calls; empty: every known model for `sim`, any
  // model for the others.
  std::vector<std::string> serve_models;
  // "bwrap" or "none".
  std::string sandbox = "bwrap";
  // TTL of permit leases.
  absl::Duration permit_ttl = absl::Seconds(30);
  // See GrpcPermitsOptions::margin (0: a sixth of the TTL).
  absl::Duration permit_margin = absl::ZeroDuration();
};

class Worker {
 public:
  // Builds every part and connects (reconnecting in the background).
  // INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION for a bad provider,
  // sandbox or slot count. `models` is not owned and must outlive it.
  static absl::StatusOr<std::unique_ptr<Worker>> Start(WorkerOptions options,
                                                       const ModelCatalog* models);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Closes the session, then stops running attempts (their results are
  // dropped; the coordinator reassigns them when their leases expire).
  void Stop();

  // One line: target, provider, sandbox, slots, work dir.
  std::string Describe() const;
  int64_t finished() const { return runner_->finished(); }
  int64_t accepted() const { return session_->accepted(); }
  // Why the coordinator refused this worker (its token), once it did: the
  // worker has stopped trying, and RequestStop() was called. OK until then.
  absl::Status refused() const;

 private:
  class Forward;
  Worker() = default;

  WorkerOptions options_;
  mutable Mutex mu_;
  absl::Status refused_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Provider> owned_provider_;
  Provider* provider_ = nullptr;
  std::unique_ptr<Sandbox> sandbox_;
  std::unique_ptr<Forward> forward_;
  std::unique_ptr<WorkerSession> session_;
  std::unique_ptr<GrpcPermits> permits_;
  std::unique_ptr<Runner> runner_;
};

}  // namespace kiln

#endif  // KILN_WORKER_WORKER_H_
