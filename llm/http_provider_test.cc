// The openai and anthropic adapters against a real kiln_llmsim process on
// loopback: streaming, usage, retries, timeouts, cancellation and caching.
#include "llm/http_provider.h"

#include <cstdlib>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/mutex.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"
#include "llm/anthropic_wire.h"
#include "llm/call_recorder.h"
#include "llm/openai_wire.h"
#include "llm/prompt.h"
#include "llm/provider_factory.h"
#include "nlohmann/json.hpp"

namespace kiln {
namespace {

using json = nlohmann::json;

// Profiles with a long time to first token (so concurrent requests surely
// arrive before it) and quick output.
constexpr char kModels[] = R"(models:
  - name: cache-implicit
    provider: openai
    ttft: 2s
    prefill_tps: 2000
    output_tps: 2000
    cache_min_tokens: 1024
    cache_ttl: 60s
  - name: cache-explicit
    provider: anthropic
    ttft: 2s
    prefill_tps: 2000
    output_tps: 2000
    cache_min_tokens: 1024
    cache_ttl: 60s
    cache_write_multiplier: 1.25
    explicit_cache_breakpoints: true
    itpm_counts_cache_reads: false
)";

// A blocking HTTP call for the simulator's own endpoints.
struct Plain : HttpHandler {
  Mutex mu;
  CondVar cv;
  std::string body;
  bool done = false;
  void OnResponse(int, const std::map<std::string, std::string>&) override {}
  void OnBody(absl::string_view b) override {
    MutexLock l(&mu);
    body.append(b.data(), b.size());
  }
  void OnDone(absl::Status) override {
    MutexLock l(&mu);
    done = true;
    cv.SignalAll();
  }
};

class Sim {
 public:
  explicit Sim(std::vector<std::string> flags, std::map<std::string, std::string> env = {}) {
    const std::string dir = std::getenv("TEST_TMPDIR");
    static int n = 0;
    const std::string tag = absl::StrCat(n++);
    const std::string models = absl::StrCat(dir, "/models", tag, ".yaml");
    std::ofstream(models) << kModels;
    port_file_ = absl::StrCat(dir, "/port", tag);
    std::vector<std::string> argv = {"llm/sim/kiln_llmsim", "--port=0",
                                     "--port_file=" + port_file_, "--models=" + models};
    argv.insert(argv.end(), flags.begin(), flags.end());
    absl::StatusOr<Subprocess> p =
        Subprocess::Start(argv, env, absl::StrCat(dir, "/llmsim", tag, ".log"));
    EXPECT_TRUE(p.ok()) << p.status();
    proc_.emplace(*std::move(p));
    absl::StatusOr<std::string> port = WaitForFileLine(port_file_, absl::Seconds(30));
    EXPECT_TRUE(port.ok()) << port.status();
    base_ = absl::StrCat("http://127.0.0.1:", *port);
  }

  std::string base() const { return base_; }

  json Get(const std::string& path, const std::string& post_body = "") {
    HttpRequest r;
    r.method = post_body.empty() ? "GET" : "POST";
    r.url = base_ + path;
    r.body = post_body;
    // Closed after each call, so the counters see the adapters' connections.
    r.headers = {"Content-Type: application/json", "Connection: close"};
    auto h = std::make_shared<Plain>();
    transport_.Send(r, h);
    MutexLock l(&h->mu);
    while (!h->done) h->cv.Wait(&h->mu);
    return json::parse(h->body);
  }
  json Stats() { return Get("/sim/stats"); }
  void Advance(double seconds) {
    Get("/sim/advance", json{{"seconds", seconds}}.dump());
  }
  // Polls the server's counters until `pred` holds (the server notices a
  // closed connection asynchronously).
  bool WaitStats(const std::function<bool(const json&)>& pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred(Stats())) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

 private:
  std::optional<Subprocess> proc_;
  std::string port_file_;
  std::string base_;
  HttpTransport transport_;
};

kiln::v1::Prompt MakePrompt(const std::string& model, const std::string& path,
                            const std::string& context = std::string(40000, 'c')) {
  PromptInputs in;
  in.model = model;
  in.system = "You write code for the project.";
  in.context = {{"schema.sql", context}};
  in.path = path;
  in.file_instructions = "Write it.";
  in.expected_tokens = 300;
  return *BuildPrompt(in);
}

struct Protocol {
  std::string name;
  std::string model;
  std::string request_id_prefix;
};

class AdapterTest : public ::testing::TestWithParam<Protocol> {
 protected:
  std::unique_ptr<HttpProvider> Provider(const Sim& sim, RetryPolicy retry = RetryPolicy(),
                                         std::string key = "test-key") {
    HttpProviderOptions o;
    const bool openai = GetParam().name == "openai";
    o.base_url = openai ? sim.base() + "/v1" : sim.base();
    o.api_key = Secret(std::move(key));
    retry.initial_backoff = absl::Milliseconds(5);
    o.retry = retry;
    std::unique_ptr<WireProtocol> wire;
    if (openai) {
      wire = std::make_unique<OpenAiWire>();
    } else {
      wire = std::make_unique<AnthropicWire>();
    }
    return std::make_unique<HttpProvider>(std::move(wire), o, &transport_);
  }
  std::string Model() const { return GetParam().model; }

  HttpTransport transport_;
};

TEST_P(AdapterTest, StreamsTextWithTheFirstTokenBeforeCompletion) {
  Sim sim({"--time_scale=100"});
  auto p = Provider(sim);
  CallRecorder rec;
  auto call = p->Start(MakePrompt(Model(), "src/app.py"), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(rec.events.size(), 4u);
  EXPECT_EQ(rec.events.front(), "first_token");
  EXPECT_EQ(rec.events.back(), "done");
  EXPECT_GT(std::count(rec.events.begin(), rec.events.end(), "delta"), 5);
  EXPECT_TRUE(absl::StrContains(ExtractCode(r->text), "src/app.py: generated by kiln-sim"));
  EXPECT_EQ(r->usage.output, EstimateTokens(r->text));
  EXPECT_GE(r->usage.input + r->usage.cache_write, 10000);
  EXPECT_EQ(r->finish_reason, GetParam().name == "openai" ? "stop" : "end_turn");
  EXPECT_TRUE(absl::StartsWith(r->request_id, GetParam().request_id_prefix)) << r->request_id;
  EXPECT_EQ(r->attempts, 1);
  EXPECT_EQ(p->name(), GetParam().name);
}

TEST_P(AdapterTest, CacheMissesBeforeTheFirstTokenHitsAfterAndMissesAfterTheTtl) {
  Sim sim({"--time_scale=100"});
  auto p = Provider(sim);
  const std::string model =
      GetParam().name == "openai" ? "cache-implicit" : "cache-explicit";
  // Two at once: neither can read what the other is still writing.
  CallRecorder a, b;
  auto ca = p->Start(MakePrompt(model, "a.py"), a.Callbacks());
  auto cb = p->Start(MakePrompt(model, "b.py"), b.Callbacks());
  ASSERT_TRUE(a.Wait().ok()) << a.Wait().status();
  ASSERT_TRUE(b.Wait().ok());
  EXPECT_EQ(a.Wait()->usage.cache_read, 0);
  EXPECT_EQ(b.Wait()->usage.cache_read, 0);
  if (GetParam().name == "anthropic") {
    EXPECT_GT(a.Wait()->usage.cache_write, 10000);
    EXPECT_GT(b.Wait()->usage.cache_write, 10000);
  } else {
    EXPECT_EQ(a.Wait()->usage.cache_write, 0);  // implicit: billed as input
  }
  // After the first token: the shared prefix is read.
  CallRecorder c;
  auto cc = p->Start(MakePrompt(model, "c.py"), c.Callbacks());
  ASSERT_TRUE(c.Wait().ok());
  EXPECT_GE(c.Wait()->usage.cache_read, 10000);
  // Past the TTL (60 s after the last use): a miss again.
  sim.Advance(61);
  CallRecorder d;
  auto cd = p->Start(MakePrompt(model, "d.py"), d.Callbacks());
  ASSERT_TRUE(d.Wait().ok());
  EXPECT_EQ(d.Wait()->usage.cache_read, 0);
}

TEST_P(AdapterTest, RateLimitIsRetriedAfterTheRetryAfterItWasGiven) {
  Sim sim({"--time_scale=600", "--rpm=1"});
  auto p = Provider(sim);
  ASSERT_TRUE(CompleteBlocking(*p, MakePrompt(Model(), "a.py")).ok());
  CallRecorder rec;
  auto call = p->Start(MakePrompt(Model(), "b.py"), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  const json stats = sim.Stats();
  ASSERT_EQ(stats["rate_limited"], 1);
  ASSERT_EQ(rec.retries.size(), 1u);
  EXPECT_EQ(rec.retries[0].first.code(), absl::StatusCode::kResourceExhausted);
  const absl::Duration given = absl::Milliseconds(stats["last_retry_after_ms"].get<int64_t>());
  EXPECT_GT(given, absl::ZeroDuration());
  EXPECT_GE(rec.retries[0].second, given);
  EXPECT_LE(rec.retries[0].second, given * 1.1 + absl::Milliseconds(1));
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->rate_limited, 1);
}

TEST_P(AdapterTest, ServerErrorsAreRetried) {
  Sim sim({"--time_scale=200", "--fault_5xx=0.5", "--seed=3"});
  RetryPolicy retry;
  retry.max_attempts = 20;
  auto p = Provider(sim, retry);
  int attempts = 0;
  for (int i = 0; i < 6; ++i) {
    absl::StatusOr<LlmResult> r =
        CompleteBlocking(*p, MakePrompt(Model(), absl::StrCat("f", i, ".py")));
    ASSERT_TRUE(r.ok()) << r.status();
    attempts += r->attempts;
  }
  const json stats = sim.Stats();
  EXPECT_GT(stats["server_errors"].get<int>(), 0);
  EXPECT_EQ(attempts, 6 + stats["server_errors"].get<int>());
}

TEST_P(AdapterTest, WrongKeyIsUnauthenticatedAndNotRetried) {
  Sim sim({"--time_scale=100", "--api_key_env=SIM_KEY"}, {{"SIM_KEY", "right-key-123"}});
  auto p = Provider(sim, RetryPolicy(), "wrong-key-456");
  absl::StatusOr<LlmResult> r = CompleteBlocking(*p, MakePrompt(Model(), "a.py"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "HTTP 401")) << r.status();
  EXPECT_FALSE(absl::StrContains(r.status().message(), "wrong-key-456"));
  EXPECT_EQ(sim.Stats()["requests"], 1);
  auto good = Provider(sim, RetryPolicy(), "right-key-123");
  EXPECT_TRUE(CompleteBlocking(*good, MakePrompt(Model(), "a.py")).ok());
}

TEST_P(AdapterTest, UnknownModelIsNotFound) {
  Sim sim({"--time_scale=100"});
  auto p = Provider(sim);
  absl::StatusOr<LlmResult> r = CompleteBlocking(*p, MakePrompt("gpt-9", "a.py"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "gpt-9")) << r.status();
}

TEST_P(AdapterTest, AStallEndsInATimeoutAndFreesTheConnection) {
  Sim sim({"--time_scale=100", "--fault_stall=1"});
  RetryPolicy retry;
  retry.idle_timeout = absl::Milliseconds(300);
  auto p = Provider(sim, retry);
  CallRecorder rec;
  auto call = p->Start(MakePrompt(Model(), "a.py"), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_EQ(rec.events.front(), "first_token");  // it stalled mid-stream
  EXPECT_TRUE(sim.WaitStats([](const json& s) { return s["streams_active"] == 0; }));
  EXPECT_EQ(sim.Stats()["stalls"], 1);
}

TEST_P(AdapterTest, ADroppedConnectionMidStreamIsUnavailable) {
  Sim sim({"--time_scale=100", "--fault_drop=1"});
  auto p = Provider(sim);
  CallRecorder rec;
  auto call = p->Start(MakePrompt(Model(), "a.py"), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  // Text was delivered, so the call does not re-send; the status stays
  // retryable for the scheduler.
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_EQ(rec.events.front(), "first_token");
  EXPECT_EQ(sim.Stats()["drops"], 1);
}

TEST_P(AdapterTest, CancelMidStreamFreesTheConnection) {
  Sim sim({"--time_scale=20"});
  auto p = Provider(sim);
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
    call = p->Start(MakePrompt("kimi-k2", "a.py"), rec.Callbacks());
  }
  EXPECT_EQ(rec.Wait().status().code(), absl::StatusCode::kCancelled);
  // The aborted stream's connection is closed: nothing stays open (the
  // counters' own request is on a connection closed after it).
  EXPECT_TRUE(sim.WaitStats([](const json& s) {
    return s["streams_active"] == 0 && s["connections_open"] <= 1;
  }));
  EXPECT_EQ(sim.Stats()["completed"], 0);
  EXPECT_EQ(transport_.in_flight(), 0);
}

TEST_P(AdapterTest, SequentialRequestsReuseOneConnection) {
  Sim sim({"--time_scale=200"});
  auto p = Provider(sim);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(CompleteBlocking(*p, MakePrompt(Model(), absl::StrCat("f", i, ".js"))).ok());
  }
  EXPECT_EQ(transport_.connections_opened(), 1);
  EXPECT_EQ(sim.Stats()["api_connections"], 1);
  EXPECT_EQ(sim.Stats()["completed"], 5);
}

// The provider as the worker makes it (MakeProvider: the profiles' API ids,
// cut-off replies continued) against kiln_llmsim.
class MadeProviderTest : public AdapterTest {
 protected:
  std::unique_ptr<kiln::Provider> Made(const Sim& sim, const ModelCatalog* models) {
    ProviderConfig c;
    c.kind = GetParam().name;
    c.base_url = GetParam().name == "openai" ? sim.base() + "/v1" : sim.base();
    c.retry.initial_backoff = absl::Milliseconds(5);
    absl::StatusOr<std::unique_ptr<kiln::Provider>> p = MakeProvider(c, models);
    EXPECT_TRUE(p.ok()) << p.status();
    return *std::move(p);
  }
  std::string CurrentModel() const {
    return GetParam().name == "openai" ? "gpt-4o-mini" : "claude-haiku-4.5";
  }
};

TEST_P(MadeProviderTest, ACutOffReplyIsContinuedIntoTheWholeFile) {
  Sim sim({"--time_scale=200"});
  const ModelCatalog models = ModelCatalog::Builtin();
  auto p = Made(sim, &models);
  kiln::v1::Prompt whole = MakePrompt(CurrentModel(), "src/app.py", "ctx");
  absl::StatusOr<LlmResult> uncut = CompleteBlocking(*p, whole);
  ASSERT_TRUE(uncut.ok()) << uncut.status();
  EXPECT_EQ(uncut->cut_off, 0);
  kiln::v1::Prompt capped = whole;
  capped.set_max_output_tokens(60);
  CallRecorder rec;
  auto call = p->Start(capped, rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(IsCutOff(r->finish_reason)) << r->finish_reason;
  EXPECT_EQ(r->cut_off, 1);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(ExtractCode(r->text), ExtractCode(uncut->text));
  ASSERT_EQ(rec.requests.size(), 2u);
  EXPECT_EQ(rec.requests[0].outcome, "cut_off");
  EXPECT_TRUE(rec.requests[0].retried);
  EXPECT_EQ(rec.requests[1].outcome, "ok");
  // Both requests were billed their prompt; the second one resent the
  // partial reply.
  EXPECT_GT(rec.requests[1].usage.prompt(), rec.requests[0].usage.prompt());
  EXPECT_EQ(r->usage.output, rec.requests[0].usage.output + rec.requests[1].usage.output);
  EXPECT_EQ(sim.Stats()["requests"], 3);
}

TEST_P(MadeProviderTest, StillCutOffFailsWithTheReason) {
  Sim sim({"--time_scale=200"});
  ModelCatalog models = ModelCatalog::Builtin();
  ASSERT_TRUE(models
                  .MergeYaml(absl::StrCat("models:\n  - {name: ", CurrentModel(),
                                          ", max_output_tokens: 30}\n"),
                             "m.yaml")
                  .ok());
  auto p = Made(sim, &models);
  kiln::v1::Prompt capped = MakePrompt(CurrentModel(), "src/app.py", "ctx");
  capped.set_max_output_tokens(30);
  absl::StatusOr<LlmResult> r = CompleteBlocking(*p, capped);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "output cut off at 120 tokens ("))
      << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "after 3 continuations")) << r.status();
}

TEST_P(MadeProviderTest, ProfilesAreSentAsTheirApiIdsAndAnUnknownIdNamesBoth) {
  Sim sim({"--time_scale=200"});
  ModelCatalog models = ModelCatalog::Builtin();
  ASSERT_TRUE(models
                  .MergeYaml("models:\n  - name: renamed\n    provider: openai\n"
                             "    api_model: {openai: gpt-4o-2024-08-06, anthropic: "
                             "claude-haiku-4-5-20251001}\n"
                             "  - {name: gone, api_model: no-such-model-2020}\n",
                             "m.yaml")
                  .ok());
  auto p = Made(sim, &models);
  // kiln_llmsim knows models by their API ids as the real APIs do.
  absl::StatusOr<LlmResult> r = CompleteBlocking(*p, MakePrompt("renamed", "a.py", "ctx"));
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<LlmResult> gone = CompleteBlocking(*p, MakePrompt("gone", "a.py", "ctx"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(gone.status().message(),
                                "model profile \"gone\" was sent as \"no-such-model-2020\""))
      << gone.status();
}

INSTANTIATE_TEST_SUITE_P(Protocols, MadeProviderTest,
                         ::testing::Values(Protocol{"openai", "gpt-4o", "chatcmpl-"},
                                           Protocol{"anthropic", "claude-3.5-sonnet",
                                                    "msg_"}),
                         [](const auto& info) { return info.param.name; });

TEST(ReasoningModel, TakesMaxCompletionTokensAndBillsReasoningAsOutput) {
  Sim sim({"--time_scale=200"});
  ModelCatalog models = ModelCatalog::Builtin();
  ProviderConfig c;
  c.kind = "openai";
  c.base_url = sim.base() + "/v1";
  absl::StatusOr<std::unique_ptr<kiln::Provider>> p = MakeProvider(c, &models);
  ASSERT_TRUE(p.ok());
  kiln::v1::Prompt prompt = MakePrompt("gpt-5", "a.py", "ctx");
  prompt.mutable_sampling()->set_temperature(0.2);  // not sent: gpt-5 refuses it
  absl::StatusOr<LlmResult> r = CompleteBlocking(**p, prompt);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->usage.reasoning, 0);
  EXPECT_EQ(r->usage.output, EstimateTokens(r->text) + r->usage.reasoning);
  const ModelProfile* gpt5 = models.Find("gpt-5");
  EXPECT_NEAR(gpt5->Cost(r->usage),
              (r->usage.input * 1.25 + r->usage.output * 10.0) / 1e6, 1e-12);

  // Told to send max_tokens, the model's API refuses and says what it takes.
  ASSERT_TRUE(models.MergeYaml("models:\n  - {name: gpt-5, max_tokens_param: max_tokens}\n",
                               "m.yaml")
                  .ok());
  absl::StatusOr<std::unique_ptr<kiln::Provider>> old = MakeProvider(c, &models);
  ASSERT_TRUE(old.ok());
  kiln::v1::Prompt capped = MakePrompt("gpt-5", "a.py", "ctx");
  capped.set_max_output_tokens(4000);
  absl::StatusOr<LlmResult> refused = CompleteBlocking(**old, capped);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "max_completion_tokens"))
      << refused.status();
}

INSTANTIATE_TEST_SUITE_P(Protocols, AdapterTest,
                         ::testing::Values(Protocol{"openai", "gpt-4o", "chatcmpl-"},
                                           Protocol{"anthropic", "claude-3.5-sonnet",
                                                    "msg_"}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace kiln
