#include "llm/sim/provider_model.h"

#include <algorithm>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"

namespace kiln {

SimRequest SimRequest::OnePrefix(std::string model, std::string prefix_key,
                                 int64_t stable, int64_t variable,
                                 int64_t output) {
  SimRequest r;
  r.model = std::move(model);
  if (!prefix_key.empty()) r.prefixes.push_back({std::move(prefix_key), stable});
  r.prompt_tokens = stable + variable;
  r.output_tokens = output;
  return r;
}

ProviderModel::ProviderModel(const ModelCatalog* models, int64_t requests_per_minute,
                         FaultRates faults)
    : models_(models), limits_(models, requests_per_minute), faults_(faults) {}

namespace {
// A uniform draw in [0, 1) from a hash (deterministic across runs: absl::Hash
// is not, so mix by hand).
double UnitDraw(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull) ^
               (c * 0xD6E8FEB86659FD93ull);
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return static_cast<double>(x >> 11) / static_cast<double>(1ull << 53);
}
}  // namespace

SimFault ProviderModel::DrawFault(uint64_t fault_key, double* fraction) {
  const int64_t n = sends_[fault_key]++;
  const double u = UnitDraw(faults_.seed, fault_key, static_cast<uint64_t>(n));
  *fraction = 0.2 + 0.6 * UnitDraw(faults_.seed + 1, fault_key,
                                   static_cast<uint64_t>(n));
  double edge = faults_.server_error;
  if (u < edge) return SimFault::kServerError;
  edge += faults_.stall;
  if (u < edge) return SimFault::kStall;
  edge += faults_.drop;
  if (u < edge) return SimFault::kDrop;
  return SimFault::kNone;
}

SimResponse ProviderModel::Send(const SimRequest& req, MonotonicTime now) {
  SimResponse r;
  ModelProfile fallback;
  const ModelProfile* p = models_->Find(req.model);
  if (p == nullptr) p = &fallback;

  // The cacheable points (at least the model's minimum), and the longest of
  // them already readable.
  std::vector<const CachePoint*> points;
  for (const CachePoint& c : req.prefixes) {
    if (!c.key.empty() && c.tokens >= p->cache_min_tokens &&
        c.tokens <= req.prompt_tokens) {
      points.push_back(&c);
    }
  }
  const auto key_of = [&](const CachePoint& c) {
    return absl::StrCat(req.model, "/", c.key);
  };
  const CachePoint* hit = nullptr;
  for (const CachePoint* c : points) {
    auto it = cache_.find(key_of(*c));
    if (it != cache_.end() && it->second.usable_at <= now &&
        now < it->second.expires_at &&
        (hit == nullptr || c->tokens > hit->tokens)) {
      hit = c;
    }
  }
  const int64_t read = hit != nullptr ? hit->tokens : 0;
  const CachePoint* longest = points.empty() ? nullptr : points.back();
  for (const CachePoint* c : points) {
    if (c->tokens > longest->tokens) longest = c;
  }
  const int64_t write =
      longest != nullptr && longest->tokens > read ? longest->tokens - read : 0;

  const RequestCost counted{
      req.prompt_tokens - (p->itpm_counts_cache_reads ? 0 : read),
      req.output_tokens};
  const absl::Duration wait = limits_.Wait(req.model, counted, now);
  if (wait > absl::ZeroDuration()) {
    r.rate_limited = true;
    // Providers round Retry-After up to whole seconds.
    r.retry_after = absl::Ceil(wait, absl::Seconds(1));
    ++rate_limited_;
    return r;
  }
  r.fault = DrawFault(req.fault_key, &r.fault_fraction);
  if (r.fault == SimFault::kServerError) return r;
  limits_.TryAdmit(req.model, counted, now);

  r.usage.output = req.output_tokens;
  r.usage.cache_read = read;
  r.usage.cache_write = write;
  r.usage.input = req.prompt_tokens - read - write;
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
  for (const CachePoint* c : points) {
    CacheEntry& e = cache_[key_of(*c)];
    if (c->tokens <= read) {
      // Read (or a shorter prefix of what was read): refresh its TTL.
      e.expires_at = std::max(e.expires_at, now + p->cache_ttl);
      continue;
    }
    const bool live = e.expires_at > now;
    if (!live || r.first_token_at < e.usable_at) e.usable_at = r.first_token_at;
    e.expires_at = std::max(live ? e.expires_at : MonotonicTime(),
                            e.usable_at + p->cache_ttl);
  }
  r.cost_usd = p->Cost(r.usage);
  r.uncached_cost_usd = p->UncachedCost(r.usage);
  return r;
}

}  // namespace kiln
