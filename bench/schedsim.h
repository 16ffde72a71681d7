// Discrete-event simulation of scheduling strategies against the provider
// model (llm/sim/provider_model.h): the same batch, the same latency and cache
// semantics, different policies. Deterministic; runs in simulated time.
#ifndef KILN_BENCH_SCHEDSIM_H_
#define KILN_BENCH_SCHEDSIM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kiln/v1/spec.pb.h"
#include "llm/model_profile.h"

namespace kiln {

enum class Strategy {
  // One task at a time, in dependency order.
  kSequential,
  // Every ready task at once, no seeding.
  kNaiveParallel,
  // The first task alone until it completes, then every ready task at once.
  kCachedBatch,
  // Kiln's scheduler: seeds released at the first token, fair, paced.
  kKiln,
};

const char* StrategyName(Strategy s);

struct SimResult {
  absl::Duration makespan;
  // max(critical-path bound, what the request rate limit alone needs).
  absl::Duration lower_bound;
  TokenCounts usage;
  // Prompt tokens that must be billed at full price at least: every
  // variable token plus each distinct cacheable prefix once.
  int64_t min_full_price_input = 0;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
  int64_t requests = 0;
  int64_t rate_limited = 0;
  int tasks = 0;
  int failed = 0;
};

struct SchedSimOptions {
  // Concurrent requests a strategy may have in flight (worker slots).
  int slots = 1000;
  // Provider account limit in requests per minute per model (0: the
  // batch's policy.requests_per_minute, else the profiles' limits).
  int64_t requests_per_minute = 0;
};

// Runs `batch` (a valid spec) under `strategy`.
absl::StatusOr<SimResult> Simulate(Strategy strategy,
                                   const kiln::v1::BatchSpec& batch,
                                   const ModelCatalog& models,
                                   const SchedSimOptions& options);

}  // namespace kiln

#endif  // KILN_BENCH_SCHEDSIM_H_
