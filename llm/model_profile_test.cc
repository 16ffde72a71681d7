#include "llm/model_profile.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(ModelCatalog, BuiltinHasTheDesignModels) {
  const ModelCatalog c = ModelCatalog::Builtin();
  for (const char* name :
       {"kimi-k2", "gpt-4o", "gpt-4o-mini", "claude-3.5-sonnet"}) {
    EXPECT_NE(c.Find(name), nullptr) << name;
  }
  EXPECT_EQ(c.Find("gpt-5-imaginary"), nullptr);
  EXPECT_DOUBLE_EQ(c.Find("kimi-k2")->output_tps, 27);
  EXPECT_DOUBLE_EQ(c.Find("gpt-4o")->output_tps, 175);
  EXPECT_DOUBLE_EQ(c.Find("gpt-4o-mini")->output_tps, 250);
  EXPECT_DOUBLE_EQ(c.Find("claude-3.5-sonnet")->output_tps, 125);
  EXPECT_DOUBLE_EQ(c.Find("claude-3.5-sonnet")->cache_write_multiplier, 1.25);
}

TEST(ModelProfile, RequestTimeAddsTtftPrefillAndDecode) {
  ModelProfile p;
  p.ttft = absl::Seconds(1);
  p.prefill_tps = 1000;
  p.output_tps = 50;
  EXPECT_EQ(p.RequestTime(2000, 100), absl::Seconds(1 + 2 + 2));
  EXPECT_EQ(p.RequestTime(0, 0), absl::Seconds(1));
}

TEST(ModelProfile, CostChargesCacheKindsByMultiplier) {
  ModelProfile p;
  p.input_usd_per_mtok = 3;
  p.output_usd_per_mtok = 15;
  p.cache_read_multiplier = 0.1;
  p.cache_write_multiplier = 1.25;
  TokenCounts t;
  t.input = 1000000;
  t.cache_read = 1000000;
  t.cache_write = 1000000;
  t.output = 1000000;
  EXPECT_NEAR(p.Cost(t), 3 + 0.3 + 3.75 + 15, 1e-9);
  EXPECT_NEAR(p.UncachedCost(t), 9 + 15, 1e-9);
}

TEST(TokenCounts, AddAndConvert) {
  TokenCounts a{100, 20, 3, 40, 10};
  const TokenCounts b{1, 2, 3, 4, 0};
  a += b;
  EXPECT_EQ(a.input, 101);
  EXPECT_EQ(a.cache_read, 22);
  EXPECT_EQ(a.cache_write, 6);
  EXPECT_EQ(a.output, 44);
  EXPECT_EQ(a.reasoning, 10);
  EXPECT_EQ(a.prompt(), 129);
  const TokenCounts back = FromUsage(ToUsage(a));
  EXPECT_EQ(back.prompt(), a.prompt());
  EXPECT_EQ(back.output, a.output);
  EXPECT_EQ(back.reasoning, a.reasoning);
}

TEST(ModelCatalog, MergeYamlOverridesAndAdds) {
  ModelCatalog c = ModelCatalog::Builtin();
  ASSERT_TRUE(c.MergeYaml(R"(
models:
  - {name: gpt-4o, output_tps: 90}
  - name: local-llama
    provider: openai
    ttft: 200ms
    output_tps: 40
    input_usd_per_mtok: 0
    output_usd_per_mtok: 0
    cache_ttl: 10m
)",
                          "models.yaml")
                  .ok());
  EXPECT_DOUBLE_EQ(c.Find("gpt-4o")->output_tps, 90);
  // Unchanged fields keep the built-in values.
  EXPECT_DOUBLE_EQ(c.Find("gpt-4o")->input_usd_per_mtok, 2.5);
  const ModelProfile* llama = c.Find("local-llama");
  ASSERT_NE(llama, nullptr);
  EXPECT_EQ(llama->ttft, absl::Milliseconds(200));
  EXPECT_EQ(llama->cache_ttl, absl::Minutes(10));
}

TEST(ModelCatalog, MergeYamlNamesFileLineAndField) {
  ModelCatalog c = ModelCatalog::Builtin();
  const absl::Status s = c.MergeYaml(R"(models:
  - name: x
    output_tps: fast
    ttft: 3
    cach_ttl: 5m
)",
                                     "m.yaml");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "m.yaml:3:17: models[0].output_tps: want a number, got 'fast'\n"
            "m.yaml:4:11: models[0].ttft: want a duration like 90s, 5m or "
            "1h30m, got '3'\n"
            "m.yaml:5:5: models[0].cach_ttl: unknown field 'cach_ttl' (did you "
            "mean 'cache_ttl'?)")
      << s.message();
  // Nothing was merged.
  EXPECT_EQ(c.Find("x"), nullptr);
}

TEST(ModelCatalog, BuiltinProfilesSendRealModelIds) {
  const ModelCatalog c = ModelCatalog::Builtin();
  EXPECT_EQ(c.Find("claude-sonnet-5.5")->ApiModel("anthropic"), "claude-sonnet-5-5");
  EXPECT_EQ(c.Find("claude-sonnet-5.5")->ApiModel("openrouter"), "anthropic/claude-sonnet-5.5");
  EXPECT_EQ(c.Find("claude-3.5-sonnet")->ApiModel("anthropic"), "claude-3-5-sonnet-20241022");
  EXPECT_EQ(c.Find("kimi-k2")->ApiModel("openai"), "kimi-k2-0905-preview");  // the default
  EXPECT_EQ(c.Find("gpt-4o")->ApiModel("openai"), "gpt-4o-2024-08-06");
  for (const std::string& name : c.Names()) {
    const ModelProfile* p = c.Find(name);
    EXPECT_NE(p->ApiModel("anthropic"), name) << name << " sends its profile name";
    EXPECT_FALSE(p->prices_as_of.empty()) << name;
    EXPECT_EQ(c.FindByApiModel(p->ApiModel(p->provider)), p) << name;
  }
  const ModelProfile* gpt5 = c.Find("gpt-5");
  EXPECT_TRUE(gpt5->reasoning);
  EXPECT_EQ(gpt5->max_tokens_param, "max_completion_tokens");
  EXPECT_FALSE(gpt5->sampling_params);
  EXPECT_EQ(c.Find("gpt-4o")->max_tokens_param, "max_tokens");
}

TEST(ModelCatalog, ApiModelFromYamlAsOneIdOrPerEndpoint) {
  ModelCatalog c = ModelCatalog::Builtin();
  ASSERT_TRUE(c.MergeYaml(R"(models:
  - {name: mine, api_model: my-model-v2}
  - name: routed
    api_model: {default: base-id, openrouter: vendor/routed}
  - {name: thinker, reasoning: true}
)",
                          "m.yaml")
                  .ok());
  EXPECT_EQ(c.Find("mine")->ApiModel("openai"), "my-model-v2");
  EXPECT_EQ(c.Find("routed")->ApiModel("openrouter"), "vendor/routed");
  EXPECT_EQ(c.Find("routed")->ApiModel("anthropic"), "base-id");
  EXPECT_EQ(c.FindByApiModel("vendor/routed"), c.Find("routed"));
  EXPECT_EQ(c.FindByApiModel("nothing"), nullptr);
  // A reasoning model takes max_completion_tokens and no temperature.
  EXPECT_EQ(c.Find("thinker")->max_tokens_param, "max_completion_tokens");
  EXPECT_FALSE(c.Find("thinker")->sampling_params);
  // A profile without api_model sends its own name.
  EXPECT_EQ(c.Find("thinker")->ApiModel("openai"), "thinker");

  const absl::Status bad = c.MergeYaml(
      "models:\n  - {name: x, max_tokens_param: max_output}\n", "m.yaml");
  EXPECT_EQ(std::string(bad.message()),
            "m.yaml:2:33: models[0].max_tokens_param: must be max_tokens or "
            "max_completion_tokens");
}

}  // namespace
}  // namespace kiln
