#include "llm/provider_sim.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kiln {

ProviderSim::ProviderSim(const ModelCatalog* models, int64_t requests_per_minute)
    : models_(models), limits_(models, requests_per_minute) {}

SimResponse ProviderSim::Send(const SimRequest& req, MonotonicTime now) {
  SimResponse r;
  ModelProfile fallback;
  const ModelProfile* p = models_->Find(req.model);
  if (p == nullptr) p = &fallback;

  const bool cacheable =
      !req.prefix_key.empty() && req.stable_tokens >= p->cache_min_tokens;
  const std::string key = absl::StrCat(req.model, "/", req.prefix_key);
  bool hit = false;
  if (cacheable) {
    auto it = cache_.find(key);
    hit = it != cache_.end() && it->second.usable_at <= now &&
          now < it->second.expires_at;
  }

  const RequestCost counted{
      req.variable_tokens +
          (hit && !p->itpm_counts_cache_reads ? 0 : req.stable_tokens),
      req.output_tokens};
  const absl::Duration wait = limits_.Wait(req.model, counted, now);
  if (wait > absl::ZeroDuration()) {
    r.rate_limited = true;
    // Providers round Retry-After up to whole seconds.
    r.retry_after = absl::Ceil(wait, absl::Seconds(1));
    ++rate_limited_;
    return r;
  }
  limits_.TryAdmit(req.model, counted, now);

  r.usage.output = req.output_tokens;
  if (hit) {
    r.usage.cache_read = req.stable_tokens;
    r.usage.input = req.variable_tokens;
  } else if (cacheable) {
    r.usage.cache_write = req.stable_tokens;
    r.usage.input = req.variable_tokens;
  } else {
    r.usage.input = req.stable_tokens + req.variable_tokens;
  }
  // Cached tokens skip prefill; everything else is prefilled first.
  const int64_t prefill = r.usage.input + r.usage.cache_write;
  absl::Duration ttft = p->ttft;
  if (p->prefill_tps > 0) {
    ttft += absl::Seconds(static_cast<double>(prefill) / p->prefill_tps);
  }
  r.first_token_at = now + ttft;
  r.done_at = r.first_token_at;
  if (p->output_tps > 0) {
    r.done_at += absl::Seconds(static_cast<double>(req.output_tokens) /
                               p->output_tps);
  }
  if (cacheable) {
    CacheEntry& e = cache_[key];
    if (hit) {
      e.expires_at = std::max(e.expires_at, now + p->cache_ttl);
    } else {
      const bool writing = e.usable_at > now && e.expires_at > now;
      if (!writing || r.first_token_at < e.usable_at) {
        e.usable_at = r.first_token_at;
      }
      e.expires_at = std::max(e.expires_at, e.usable_at + p->cache_ttl);
    }
  }
  r.cost_usd = p->Cost(r.usage);
  r.uncached_cost_usd = p->UncachedCost(r.usage);
  return r;
}

}  // namespace kiln
