// The simulated model: answers a prompt with the reply text, its usage and
// cost, when each piece of it streams, and any injected fault. One engine
// behind both the in-process `sim` provider and kiln_llmsim's HTTP API, so
// both behave alike (ProviderModel for timing, caching, limits and faults;
// sim_codegen for the text).
//
// Thread-safe. Times are on the simulated clock the caller passes in; hosts
// map them to real time through a time scale.
#ifndef KILN_LLM_SIM_SIMULATED_MODEL_H_
#define KILN_LLM_SIM_SIMULATED_MODEL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "kiln/v1/task.pb.h"
#include "llm/model_profile.h"
#include "llm/sim/provider_model.h"
#include "llm/sim/codegen.h"

namespace kiln {

struct SimOptions {
  uint64_t seed = 1;
  // Share of first attempts whose file has a defect its check rejects.
  double defect_rate = 0;
  FaultRates faults;
  // Account-wide requests per minute (0: the profiles' own limits).
  int64_t requests_per_minute = 0;
  // Tokens per streamed chunk.
  int chunk_tokens = 8;
};

struct SimAnswer {
  // Timing, usage, cost, 429 and fault.
  SimResponse response;
  // The whole reply (cut at the request's max output tokens).
  std::string text;
  // "stop", or "length" when cut.
  std::string finish_reason;
  std::string request_id;
  // The reply in pieces with the simulated time each streams; the first at
  // response.first_token_at, the last at response.done_at.
  std::vector<std::pair<MonotonicTime, std::string>> chunks;
};

class SimulatedModel {
 public:
  // `models` is not owned and must outlive the engine.
  SimulatedModel(const ModelCatalog* models, SimOptions options);

  // Answers `prompt` arriving at `now`. `cache_points` are the indices of the
  // blocks after which the prefix may be cached (see CachePoint). NOT_FOUND
  // for an unknown model, INVALID_ARGUMENT for an empty prompt.
  absl::StatusOr<SimAnswer> Respond(const kiln::v1::Prompt& prompt,
                                    const std::vector<int>& cache_points,
                                    MonotonicTime now);

  // Where the model's provider caches a prompt sent through Kiln's own
  // adapters: the cache_control breakpoints (CacheBreakpoints) for models
  // with explicit breakpoints, every block boundary but the last for models
  // with implicit prefix caching.
  std::vector<int> CachePointsFor(const kiln::v1::Prompt& prompt) const;

  const ModelCatalog& models() const { return *models_; }
  const SimOptions& options() const { return options_; }

 private:
  const ModelCatalog* models_;
  const SimOptions options_;
  Mutex mu_;
  ProviderModel sim_ ABSL_GUARDED_BY(mu_);
  uint64_t requests_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln

#endif  // KILN_LLM_SIM_SIMULATED_MODEL_H_
