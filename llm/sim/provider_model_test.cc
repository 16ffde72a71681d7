#include "llm/sim/provider_model.h"

#include "common/fake_clock.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

ModelCatalog Models() {
  ModelCatalog c;
  ModelProfile p;
  p.name = "m";
  p.ttft = absl::Seconds(1);
  p.prefill_tps = 1000;
  p.output_tps = 100;
  p.input_usd_per_mtok = 1;
  p.output_usd_per_mtok = 4;
  p.cache_read_multiplier = 0.1;
  p.cache_write_multiplier = 1.25;
  p.cache_min_tokens = 1024;
  p.cache_ttl = absl::Minutes(5);
  c.Put(p);
  return c;
}

SimRequest Req(int64_t stable = 10000) {
  return SimRequest::OnePrefix("m", "schema", stable, 500, 1000);
}

TEST(ProviderModel, FirstRequestWritesTheCacheAndPaysPrefill) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models);
  FakeClock clock;
  const MonotonicTime t0 = clock.MonotonicNow();
  const SimResponse r = sim.Send(Req(), t0);
  EXPECT_FALSE(r.rate_limited);
  EXPECT_EQ(r.usage.cache_write, 10000);
  EXPECT_EQ(r.usage.input, 500);
  EXPECT_EQ(r.usage.cache_read, 0);
  EXPECT_EQ(r.first_token_at - t0, absl::Milliseconds(1000 + 10500));
  EXPECT_EQ(r.done_at - r.first_token_at, absl::Seconds(10));
  EXPECT_NEAR(r.cost_usd, (500 + 10000 * 1.25) / 1e6 + 4000 / 1e6, 1e-12);
  EXPECT_NEAR(r.uncached_cost_usd, 10500 / 1e6 + 4000 / 1e6, 1e-12);
}

TEST(ProviderModel, PrefixIsReadableOnceTheWriterStreams) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models);
  FakeClock clock;
  const SimResponse seed = sim.Send(Req(), clock.MonotonicNow());
  // Sent together with the seed: both write (nothing is cached yet).
  const SimResponse twin = sim.Send(Req(), clock.MonotonicNow());
  EXPECT_EQ(twin.usage.cache_write, 10000);
  // After the seed's first token: a read, and prefill of the rest only.
  clock.Advance(seed.first_token_at - clock.MonotonicNow());
  const SimResponse after = sim.Send(Req(), clock.MonotonicNow());
  EXPECT_EQ(after.usage.cache_read, 10000);
  EXPECT_EQ(after.usage.cache_write, 0);
  EXPECT_EQ(after.first_token_at - clock.MonotonicNow(), absl::Milliseconds(1500));
}

TEST(ProviderModel, EntriesExpireAfterTheTtlAndUseRefreshesThem) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models);
  FakeClock clock;
  const SimResponse seed = sim.Send(Req(), clock.MonotonicNow());
  clock.Advance(seed.first_token_at - clock.MonotonicNow());
  clock.Advance(absl::Minutes(4));
  EXPECT_EQ(sim.Send(Req(), clock.MonotonicNow()).usage.cache_read, 10000);
  clock.Advance(absl::Minutes(4));  // 8 min after the write, 4 after use
  EXPECT_EQ(sim.Send(Req(), clock.MonotonicNow()).usage.cache_read, 10000);
  clock.Advance(absl::Minutes(6));
  EXPECT_EQ(sim.Send(Req(), clock.MonotonicNow()).usage.cache_write, 10000);
}

TEST(ProviderModel, ShortPrefixesAreNotCached) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models);
  FakeClock clock;
  for (int i = 0; i < 2; ++i) {
    const SimResponse r = sim.Send(Req(1000), clock.MonotonicNow());
    EXPECT_EQ(r.usage.input, 1500);
    EXPECT_EQ(r.usage.cache_write + r.usage.cache_read, 0);
    clock.Advance(absl::Minutes(1));
  }
}

TEST(ProviderModel, RateLimitsAnswer429WithRetryAfter) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models, /*requests_per_minute=*/2);
  FakeClock clock;
  EXPECT_FALSE(sim.Send(Req(), clock.MonotonicNow()).rate_limited);
  EXPECT_FALSE(sim.Send(Req(), clock.MonotonicNow()).rate_limited);
  const SimResponse r = sim.Send(Req(), clock.MonotonicNow());
  EXPECT_TRUE(r.rate_limited);
  EXPECT_EQ(r.retry_after, absl::Seconds(30));
  EXPECT_EQ(r.cost_usd, 0);
  EXPECT_EQ(sim.rate_limited_count(), 1);
  clock.Advance(absl::Seconds(30));
  EXPECT_FALSE(sim.Send(Req(), clock.MonotonicNow()).rate_limited);
}

TEST(ProviderModel, ReadsTheLongestCachedPrefixAndWritesTheRest) {
  const ModelCatalog models = Models();
  ProviderModel sim(&models);
  FakeClock clock;
  SimRequest a;
  a.model = "m";
  a.prefixes = {{"sys", 2000}, {"sys+ctx", 9000}};
  a.prompt_tokens = 9500;
  a.output_tokens = 100;
  const SimResponse ra = sim.Send(a, clock.MonotonicNow());
  EXPECT_EQ(ra.usage.cache_write, 9000);
  EXPECT_EQ(ra.usage.input, 500);
  clock.Advance(ra.first_token_at - clock.MonotonicNow());
  // Same system prompt, other context: reads 2000, writes up to its own
  // longest prefix.
  SimRequest b = a;
  b.prefixes = {{"sys", 2000}, {"sys+other", 6000}};
  b.prompt_tokens = 6400;
  const SimResponse rb = sim.Send(b, clock.MonotonicNow());
  EXPECT_EQ(rb.usage.cache_read, 2000);
  EXPECT_EQ(rb.usage.cache_write, 4000);
  EXPECT_EQ(rb.usage.input, 400);
  // A prefix under the minimum is neither read nor written.
  SimRequest c = a;
  c.prefixes = {{"tiny", 500}};
  c.prompt_tokens = 800;
  const SimResponse rc = sim.Send(c, clock.MonotonicNow());
  EXPECT_EQ(rc.usage.cache_write, 0);
  EXPECT_EQ(rc.usage.input, 800);
}

TEST(ProviderModel, ServerErrorsBillNothing) {
  const ModelCatalog models = Models();
  FaultRates f;
  f.server_error = 1;
  ProviderModel sim(&models, 0, f);
  FakeClock clock;
  SimRequest r = Req();
  r.fault_key = 42;
  const SimResponse resp = sim.Send(r, clock.MonotonicNow());
  EXPECT_EQ(resp.fault, SimFault::kServerError);
  EXPECT_EQ(resp.usage.input + resp.usage.cache_write + resp.usage.output, 0);
  EXPECT_EQ(resp.cost_usd, 0);
}

}  // namespace
}  // namespace kiln
