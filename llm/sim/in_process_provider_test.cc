#include "llm/sim/in_process_provider.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "common/mutex.h"
#include "gtest/gtest.h"
#include "llm/call_recorder.h"
#include "llm/prompt.h"

namespace kiln {
namespace {

kiln::v1::Prompt MakePrompt(const std::string& path, const std::string& model = "gpt-4o") {
  PromptInputs in;
  in.model = model;
  in.system = "You write code.";
  in.context = {{"schema.sql", std::string(40000, 'c')}};  // 10,000 tokens
  in.path = path;
  in.file_instructions = "Write it.";
  in.expected_tokens = 300;
  return *BuildPrompt(in);
}

TEST(SimProvider, StreamsAFileWithUsage) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProviderOptions o;
  o.time_scale = 200;
  SimProvider sim(&models, o);
  CallRecorder rec;
  auto call = sim.Start(MakePrompt("src/app.py"), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(rec.events.size(), 3u);
  EXPECT_EQ(rec.events.front(), "first_token");
  EXPECT_EQ(rec.events.back(), "done");
  EXPECT_EQ(std::count(rec.events.begin(), rec.events.end(), "delta"),
            static_cast<long>(rec.events.size()) - 2);
  EXPECT_TRUE(absl::StrContains(ExtractCode(r->text), "def "));
  EXPECT_EQ(r->usage.output, EstimateTokens(r->text));
  EXPECT_GT(r->usage.input, 10000);
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_TRUE(absl::StartsWith(r->request_id, "sim-"));
  EXPECT_EQ(sim.name(), "sim");
}

TEST(SimProvider, CacheIsReadableOnceTheWriterStreams) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProviderOptions o;
  o.time_scale = 10;
  SimProvider sim(&models, o);
  // Two at once: both miss (nothing has streamed yet).
  CallRecorder a, b;
  auto ca = sim.Start(MakePrompt("a.py"), a.Callbacks());
  auto cb = sim.Start(MakePrompt("b.py"), b.Callbacks());
  ASSERT_TRUE(a.Wait().ok());
  ASSERT_TRUE(b.Wait().ok());
  EXPECT_EQ(a.Wait()->usage.cache_read, 0);
  EXPECT_EQ(b.Wait()->usage.cache_read, 0);
  // After: a hit on the shared prefix.
  CallRecorder c;
  auto cc = sim.Start(MakePrompt("c.py"), c.Callbacks());
  ASSERT_TRUE(c.Wait().ok());
  EXPECT_GE(c.Wait()->usage.cache_read, 10000);
  EXPECT_LT(c.Wait()->timings.ttft, a.Wait()->timings.ttft);
}

TEST(SimProvider, RateLimitIsRetriedAfterRetryAfter) {
  ModelCatalog models = ModelCatalog::Builtin();
  ModelProfile p = *models.Find("gpt-4o");
  p.requests_per_minute = 1;
  models.Put(p);
  SimProviderOptions o;
  o.time_scale = 2000;
  SimProvider sim(&models, o);
  CallRecorder a, b;
  auto ca = sim.Start(MakePrompt("a.py"), a.Callbacks());
  ASSERT_TRUE(a.Wait().ok());
  auto cb = sim.Start(MakePrompt("b.py"), b.Callbacks());
  absl::StatusOr<LlmResult> r = b.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->rate_limited, 1);
  EXPECT_EQ(r->attempts, r->rate_limited + 1);
  ASSERT_FALSE(b.retries.empty());
  // Retry-After is whole simulated seconds, scaled to real time.
  EXPECT_GE(b.retries[0].second, absl::Milliseconds(0.5));
}

TEST(SimProvider, InjectedServerErrorsAreRetried) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProviderOptions o;
  o.time_scale = 500;
  o.sim.faults.server_error = 0.5;
  o.retry.initial_backoff = absl::Milliseconds(1);
  o.retry.max_attempts = 20;
  SimProvider sim(&models, o);
  int retried = 0;
  for (int i = 0; i < 6; ++i) {
    CallRecorder rec;
    auto call = sim.Start(MakePrompt("f" + std::to_string(i) + ".py"), rec.Callbacks());
    absl::StatusOr<LlmResult> r = rec.Wait();
    ASSERT_TRUE(r.ok()) << r.status();
    retried += r->attempts - 1;
  }
  EXPECT_GT(retried, 0);
}

TEST(SimProvider, AStallEndsInATimeout) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProviderOptions o;
  o.time_scale = 500;
  o.sim.faults.stall = 1;
  o.retry.idle_timeout = absl::Milliseconds(100);
  SimProvider sim(&models, o);
  CallRecorder rec;
  auto call = sim.Start(MakePrompt("a.py"), rec.Callbacks());
  EXPECT_EQ(rec.Wait().status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST(SimProvider, CancelMidStream) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProviderOptions o;
  o.time_scale = 20;
  SimProvider sim(&models, o);
  CallRecorder rec;
  // Held across Start so the first token cannot arrive before `call` is set.
  Mutex mu;
  std::unique_ptr<LlmCall> call;
  rec.on_first = [&] {
    MutexLock l(&mu);
    call->Cancel();
  };
  {
    MutexLock l(&mu);
    call = sim.Start(MakePrompt("a.py", "kimi-k2"), rec.Callbacks());
  }
  EXPECT_EQ(rec.Wait().status().code(), absl::StatusCode::kCancelled);
}

TEST(SimProvider, UnknownModelIsNotRetried) {
  const ModelCatalog models = ModelCatalog::Builtin();
  SimProvider sim(&models, SimProviderOptions());
  absl::StatusOr<LlmResult> r = CompleteBlocking(sim, MakePrompt("a.py", "gpt-9"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "gpt-9"));
}

}  // namespace
}  // namespace kiln
