// The behaviour model of an LLM provider: latency, prompt caching, prices and
// rate limits. One implementation serves the strategy simulator
// (bench/schedsim) now and the in-process `sim` provider and kiln_llmsim
// later, so all of them agree on what a request costs and how long it takes.
//
// Deterministic; not thread-safe; time is passed in (no clock reads).
#ifndef KILN_LLM_PROVIDER_SIM_H_
#define KILN_LLM_PROVIDER_SIM_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "llm/model_profile.h"
#include "llm/rate_limiter.h"

namespace kiln {

// A request as far as timing and billing are concerned.
struct SimRequest {
  std::string model;
  // Identifies the stable prefix (same key, same bytes).
  std::string prefix_key;
  int64_t stable_tokens = 0;
  int64_t variable_tokens = 0;
  int64_t output_tokens = 0;
};

struct SimResponse {
  // Answered 429: nothing was billed; retry after `retry_after`.
  bool rate_limited = false;
  absl::Duration retry_after;
  // When the first token streams (the prefix becomes usable by others then)
  // and when the response completes.
  MonotonicTime first_token_at;
  MonotonicTime done_at;
  TokenCounts usage;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
};

class ProviderSim {
 public:
  // `models` is not owned. `requests_per_minute` > 0 tightens the profiles'
  // request limits (a scenario's account limit).
  explicit ProviderSim(const ModelCatalog* models,
                       int64_t requests_per_minute = 0);

  // Sends `req` at `now`. Cache semantics (DESIGN.md): a prefix of at least
  // the model's cache minimum is written by the first request that carries
  // it and becomes readable by others once that request's first token
  // streams; it expires `cache_ttl` after its last use. A request that
  // arrives while the prefix is being written, or after it expired, writes
  // it again (and pays for the write). Rate limits are per model token
  // buckets (requests, input and output tokens per minute); cache reads
  // count toward input tokens only where the profile says so.
  SimResponse Send(const SimRequest& req, MonotonicTime now);

  int64_t rate_limited_count() const { return rate_limited_; }

 private:
  struct CacheEntry {
    MonotonicTime usable_at;
    MonotonicTime expires_at;
  };
  const ModelCatalog* models_;
  RateLimiter limits_;
  std::map<std::string, CacheEntry> cache_;  // model + prefix -> entry
  int64_t rate_limited_ = 0;
};

}  // namespace kiln

#endif  // KILN_LLM_PROVIDER_SIM_H_
