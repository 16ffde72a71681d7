// The behaviour model of an LLM provider: latency, prompt caching, prices,
// rate limits and faults. One implementation serves the strategy simulator
// (bench/schedsim), the in-process `sim` provider and kiln_llmsim, so all of
// them agree on what a request costs and how long it takes.
//
// Deterministic; not thread-safe; time is passed in (no clock reads).
#ifndef KILN_LLM_SIM_PROVIDER_MODEL_H_
#define KILN_LLM_SIM_PROVIDER_MODEL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "llm/model_profile.h"
#include "llm/rate_limiter.h"

namespace kiln {

// A point in a prompt where the provider may cache the prefix before it
// (an Anthropic cache_control breakpoint, an OpenAI message boundary).
struct CachePoint {
  // Identifies the prefix's bytes: same key, same prefix.
  std::string key;
  // Prompt tokens up to this point.
  int64_t tokens = 0;
};

// A request as far as timing, billing and faults are concerned.
struct SimRequest {
  std::string model;
  // Cacheable prefixes, shortest first. The longest is written when it is
  // not already cached; the longest cached one is read.
  std::vector<CachePoint> prefixes;
  // All prompt tokens, cached or not.
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  // Identifies the request's content for fault draws: the n-th send of the
  // same content draws the same fault whatever else is in flight.
  uint64_t fault_key = 0;

  // A request with one cacheable prefix of `stable` tokens.
  static SimRequest OnePrefix(std::string model, std::string prefix_key,
                              int64_t stable, int64_t variable,
                              int64_t output);
};

// Injected faults, each drawn per request at its rate.
struct FaultRates {
  double server_error = 0;  // answered 500 before anything streams
  double stall = 0;         // the stream stops mid-way and sends nothing more
  double drop = 0;          // the connection is closed mid-stream
  uint64_t seed = 1;
};

enum class SimFault { kNone, kServerError, kStall, kDrop };

struct SimResponse {
  // Answered 429: nothing was billed; retry after `retry_after`.
  bool rate_limited = false;
  absl::Duration retry_after;
  // An injected fault. kServerError bills nothing; kStall and kDrop happen
  // after `fault_fraction` of the output has streamed.
  SimFault fault = SimFault::kNone;
  double fault_fraction = 0.5;
  // When the first token streams (the prefix becomes usable by others then)
  // and when the response completes.
  MonotonicTime first_token_at;
  MonotonicTime done_at;
  TokenCounts usage;
  double cost_usd = 0;
  double uncached_cost_usd = 0;
};

class ProviderModel {
 public:
  // `models` is not owned. `requests_per_minute` > 0 tightens the profiles'
  // request limits (a scenario's account limit).
  explicit ProviderModel(const ModelCatalog* models,
                       int64_t requests_per_minute = 0,
                       FaultRates faults = FaultRates());

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
  SimFault DrawFault(uint64_t fault_key, double* fraction);

  const ModelCatalog* models_;
  RateLimiter limits_;
  FaultRates faults_;
  std::map<std::string, CacheEntry> cache_;  // model + prefix -> entry
  std::map<uint64_t, int64_t> sends_;        // fault_key -> sends so far
  int64_t rate_limited_ = 0;
};

}  // namespace kiln

#endif  // KILN_LLM_SIM_PROVIDER_MODEL_H_
