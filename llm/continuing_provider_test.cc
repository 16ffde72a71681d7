// Cut-off replies are continued, never handed back as finished: with a
// scripted provider (what each continuation request carries, for both
// styles) and with the simulator's own "length" finishes.
#include "llm/continuing_provider.h"

#include <algorithm>
#include <deque>

#include "absl/strings/match.h"
#include "common/timer_loop.h"
#include "gtest/gtest.h"
#include "llm/call_recorder.h"
#include "llm/prompt.h"
#include "llm/sim/in_process_provider.h"

namespace kiln {
namespace {

using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

// Answers each call with the next scripted reply, on its own thread, and
// keeps the prompts it was sent.
class ScriptedProvider : public Provider {
 public:
  struct Reply {
    std::string text;
    std::string finish_reason;
    int64_t output_tokens = 0;
  };
  explicit ScriptedProvider(std::deque<Reply> replies) : replies_(std::move(replies)) {}
  std::string name() const override { return "scripted"; }
  std::unique_ptr<LlmCall> Start(const Prompt& prompt, StreamCallbacks cb) override {
    Reply r;
    {
      MutexLock l(&mu_);
      prompts_.push_back(prompt);
      r = replies_.front();
      replies_.pop_front();
    }
    loop_.Post([r, cb = std::move(cb)] {
      if (cb.on_first_token) cb.on_first_token();
      if (cb.on_delta) cb.on_delta(r.text);
      LlmRequestRecord rec;
      rec.outcome = IsCutOff(r.finish_reason) ? "cut_off" : "ok";
      rec.usage.output = r.output_tokens;
      if (cb.on_request) cb.on_request(rec);
      LlmResult res;
      res.text = r.text;
      res.finish_reason = r.finish_reason;
      res.usage.input = 100;
      res.usage.output = r.output_tokens;
      res.attempts = 1;
      res.requests = {rec};
      cb.on_done(std::move(res));
    });
    struct Noop : LlmCall {
      void Cancel() override {}
    };
    return std::make_unique<Noop>();
  }
  std::vector<Prompt> prompts() {
    MutexLock l(&mu_);
    return prompts_;
  }

 private:
  Mutex mu_;
  std::deque<Reply> replies_ ABSL_GUARDED_BY(mu_);
  std::vector<Prompt> prompts_ ABSL_GUARDED_BY(mu_);
  TimerLoop loop_;
};

Prompt UserPrompt(const std::string& model, int32_t cap) {
  Prompt p;
  p.set_model(model);
  p.set_max_output_tokens(cap);
  PromptBlock* b = p.add_blocks();
  b->set_kind(PromptBlock::KIND_FILE_INSTRUCTIONS);
  b->set_text("Write the file `a.js`.");
  return p;
}

TEST(ContinuingProvider, PrefillContinuesFromThePartialReply) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto scripted = std::make_unique<ScriptedProvider>(std::deque<ScriptedProvider::Reply>{
      {"```js\nconst a = \n", "max_tokens", 10}, {"1;\n```\n", "end_turn", 4}});
  ScriptedProvider* raw = scripted.get();
  ContinuingProvider p(std::move(scripted), &models, {3, /*prefill=*/true});
  CallRecorder rec;
  auto call = p.Start(UserPrompt("claude-sonnet-5.5", 10), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  // The trailing whitespace of the prefill is not sent (Anthropic refuses
  // it); the model carries on from "= ".
  EXPECT_EQ(r->text, "```js\nconst a =1;\n```\n");
  EXPECT_EQ(r->finish_reason, "end_turn");
  EXPECT_EQ(r->cut_off, 1);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(r->usage.output, 14);
  EXPECT_EQ(r->usage.input, 200);
  const std::vector<Prompt> sent = raw->prompts();
  ASSERT_EQ(sent.size(), 2u);
  const Prompt& cont = sent[1];
  ASSERT_EQ(cont.blocks_size(), 2);
  EXPECT_EQ(cont.blocks(1).kind(), PromptBlock::KIND_ASSISTANT);
  EXPECT_EQ(cont.blocks(1).text(), "```js\nconst a =");
  // The cap is raised to the model's maximum output.
  EXPECT_EQ(cont.max_output_tokens(), models.Find("claude-sonnet-5.5")->max_output_tokens);
  // The cut-off request is marked as followed by another.
  ASSERT_EQ(rec.requests.size(), 2u);
  EXPECT_EQ(rec.requests[0].outcome, "cut_off");
  EXPECT_TRUE(rec.requests[0].retried);
  EXPECT_EQ(rec.requests[1].outcome, "ok");
  EXPECT_FALSE(rec.requests[1].retried);
  // The first piece streamed as it came, the rest when it ended.
  EXPECT_EQ(std::count(rec.events.begin(), rec.events.end(), "first_token"), 1);
}

TEST(ContinuingProvider, WithoutPrefillAsksToGoOnAndDropsARepeatedFence) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto scripted = std::make_unique<ScriptedProvider>(std::deque<ScriptedProvider::Reply>{
      {"```python\ndef f():\n", "length", 10}, {"```python\n    return 1\n```\n", "stop", 6}});
  ScriptedProvider* raw = scripted.get();
  ContinuingProvider p(std::move(scripted), &models, {3, /*prefill=*/false});
  CallRecorder rec;
  auto call = p.Start(UserPrompt("gpt-4o", 10), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->text, "```python\ndef f():\n    return 1\n```\n");
  EXPECT_EQ(ExtractCode(r->text), "def f():\n    return 1\n");
  const std::vector<Prompt> sent = raw->prompts();
  ASSERT_EQ(sent.size(), 2u);
  ASSERT_EQ(sent[1].blocks_size(), 3);
  EXPECT_EQ(sent[1].blocks(1).kind(), PromptBlock::KIND_ASSISTANT);
  EXPECT_EQ(sent[1].blocks(1).text(), "```python\ndef f():\n");
  EXPECT_EQ(sent[1].blocks(2).text(), kContinueInstruction);
  EXPECT_EQ(rec.streamed, r->text);
}

TEST(ContinuingProvider, StillCutOffAfterTheLastContinuationFails) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto scripted = std::make_unique<ScriptedProvider>(std::deque<ScriptedProvider::Reply>{
      {"a", "length", 100}, {"b", "length", 16384}, {"c", "length", 16384}});
  ContinuingProvider p(std::move(scripted), &models, {2, false});
  CallRecorder rec;
  auto call = p.Start(UserPrompt("gpt-4o", 100), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(r.status().message(), "output cut off at 32868 tokens (length) after 2 continuations");
  // Every request was still accounted for.
  ASSERT_EQ(rec.requests.size(), 3u);
  EXPECT_TRUE(rec.requests[1].retried);
  EXPECT_FALSE(rec.requests[2].retried);
}

TEST(ContinuingProvider, NoContinuationsFailsAtTheFirstCut) {
  const ModelCatalog models = ModelCatalog::Builtin();
  auto scripted = std::make_unique<ScriptedProvider>(
      std::deque<ScriptedProvider::Reply>{{"```js\nlet", "max_tokens", 8192}});
  ContinuingProvider p(std::move(scripted), &models, {0, true});
  CallRecorder rec;
  auto call = p.Start(UserPrompt("claude-3.5-sonnet", 8192), rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "output cut off at 8192 tokens (max_tokens)");
  EXPECT_FALSE(rec.requests[0].retried);
}

TEST(ContinuingProvider, SimulatorCutOffsAreContinuedIntoTheWholeFile) {
  const ModelCatalog models = ModelCatalog::Builtin();
  PromptInputs in;
  in.model = "gpt-4o";
  in.system = "You write code.";
  in.path = "src/app.py";
  in.file_instructions = "Write it.";
  in.expected_tokens = 400;
  const Prompt whole = *BuildPrompt(in);
  Prompt capped = whole;
  capped.set_max_output_tokens(40);

  SimProviderOptions o;
  o.time_scale = 1000;
  SimProvider plain(&models, o);
  absl::StatusOr<LlmResult> uncut = CompleteBlocking(plain, whole);
  ASSERT_TRUE(uncut.ok());
  absl::StatusOr<LlmResult> cut = CompleteBlocking(plain, capped);
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->finish_reason, "length");  // the bare simulator cuts

  ContinuingProvider p(std::make_unique<SimProvider>(&models, o), &models, {3, true});
  CallRecorder rec;
  auto call = p.Start(capped, rec.Callbacks());
  absl::StatusOr<LlmResult> r = rec.Wait();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->finish_reason, "stop");
  EXPECT_EQ(r->cut_off, 1);
  EXPECT_EQ(r->attempts, 2);
  EXPECT_EQ(ExtractCode(r->text), ExtractCode(uncut->text));

  // The same over the instruction style (kiln_llmsim's OpenAI endpoint).
  ContinuingProvider q(std::make_unique<SimProvider>(&models, o), &models, {3, false});
  absl::StatusOr<LlmResult> r2 = CompleteBlocking(q, capped);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->text, uncut->text);
}

}  // namespace
}  // namespace kiln
