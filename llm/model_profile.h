// Model profiles: speed, prices, prompt-cache rules and rate limits of each
// model Kiln can call. One catalog serves the scheduler's cost model, the
// simulated provider, kiln_llmsim, reports and the strategy simulator.
#ifndef KILN_LLM_MODEL_PROFILE_H_
#define KILN_LLM_MODEL_PROFILE_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// Token counts of one request, by how they are billed.
struct TokenCounts {
  int64_t input = 0;        // prompt tokens at the full price
  int64_t cache_read = 0;   // prompt tokens read from the cache
  int64_t cache_write = 0;  // prompt tokens written to the cache
  int64_t output = 0;
  // Of `output`, the tokens a reasoning model spent thinking (billed as
  // output, never shown).
  int64_t reasoning = 0;

  TokenCounts& operator+=(const TokenCounts& o) {
    input += o.input;
    cache_read += o.cache_read;
    cache_write += o.cache_write;
    output += o.output;
    reasoning += o.reasoning;
    return *this;
  }
  int64_t prompt() const { return input + cache_read + cache_write; }
};

// The same counts as the API's Usage (requests and 429s left at 0), and
// back.
kiln::v1::Usage ToUsage(const TokenCounts& t);
TokenCounts FromUsage(const kiln::v1::Usage& u);

// One model's behaviour and prices. Plain value type.
struct ModelProfile {
  std::string name;      // "kimi-k2", "gpt-4o", ... (Kiln's profile name)
  std::string provider;  // "anthropic", "openai", "moonshot", ...

  // The model id each API knows the model by, keyed by endpoint
  // ("anthropic", "openai", "openrouter", "moonshot", ...; "" for any other),
  // e.g. {"anthropic": "claude-sonnet-5-5", "openrouter":
  // "anthropic/claude-sonnet-5.5"}. See ApiModel.
  std::map<std::string, std::string> api_models;

  // The request field that caps the output: "max_tokens", or
  // "max_completion_tokens" (OpenAI's reasoning models reject max_tokens).
  std::string max_tokens_param = "max_tokens";
  // A reasoning model: part of its output is hidden reasoning
  // (completion_tokens_details.reasoning_tokens), billed as output.
  bool reasoning = false;
  // Whether requests may set temperature and top_p (OpenAI's reasoning
  // models and Claude Sonnet 5.x answer 400 to non-default values).
  bool sampling_params = true;
  // When the prices were taken from the provider's public price list.
  std::string prices_as_of;

  // Latency model: a request takes
  //   ttft + uncached_prompt_tokens / prefill_tps + output_tokens / output_tps.
  absl::Duration ttft = absl::Milliseconds(500);
  double prefill_tps = 10000;  // uncached prompt tokens per second
  double output_tps = 50;      // generated tokens per second

  // Prices in USD per million tokens.
  double input_usd_per_mtok = 1.0;
  double output_usd_per_mtok = 4.0;
  // Multipliers of the input price for cached tokens.
  double cache_read_multiplier = 0.1;
  double cache_write_multiplier = 1.0;  // Anthropic: 1.25

  // Prompt caching: a prefix shorter than this is never cached; an entry
  // lives this long after its last use.
  int64_t cache_min_tokens = 1024;
  absl::Duration cache_ttl = absl::Minutes(5);
  // Explicit breakpoints (Anthropic cache_control) vs automatic prefix
  // caching (OpenAI and most compatible servers).
  bool explicit_cache_breakpoints = false;

  int64_t context_window = 128000;
  int64_t max_output_tokens = 16384;

  // Whether cache reads count toward input_tokens_per_minute (OpenAI: yes;
  // Anthropic: no, only uncached and cache-write tokens do).
  bool itpm_counts_cache_reads = true;

  // Provider rate limits per minute (0: unlimited).
  int64_t requests_per_minute = 0;
  int64_t input_tokens_per_minute = 0;
  int64_t output_tokens_per_minute = 0;

  // Expected duration of a request with `uncached_prompt_tokens` to prefill
  // and `output_tokens` to generate.
  absl::Duration RequestTime(int64_t uncached_prompt_tokens,
                             int64_t output_tokens) const;

  // USD cost of `tokens` at this profile's prices.
  double Cost(const TokenCounts& tokens) const;

  // USD cost of the same tokens with no caching (every prompt token at the
  // full price).
  double UncachedCost(const TokenCounts& tokens) const;

  // The id to send as the model to the endpoint `key` ("anthropic",
  // "openai", "openrouter", ...): api_models[key], else api_models[""], else
  // the profile's own name.
  std::string ApiModel(absl::string_view key) const;
};

// A set of profiles by name. Not thread-safe to mutate; const methods may be
// called concurrently.
class ModelCatalog {
 public:
  // The built-in profiles (docs/llm.md lists them with their ids, prices
  // and the date the prices were taken): kimi-k2, gpt-4o, gpt-4o-mini,
  // gpt-5, gpt-5-mini, claude-sonnet-5.5, claude-haiku-4.5, and the retired
  // claude-3.5-sonnet and claude-3.5-haiku.
  static ModelCatalog Builtin();

  // Adds or replaces profiles from YAML:
  //   models:
  //     - {name: my-model, provider: openai, output_tps: 80, ...}
  // Fields absent from an entry keep the values of the built-in profile of
  // the same name, or the struct defaults. INVALID_ARGUMENT names the file,
  // line and field of a bad value.
  absl::Status MergeYaml(absl::string_view yaml, absl::string_view filename);

  void Put(ModelProfile profile);

  // nullptr when unknown.
  const ModelProfile* Find(absl::string_view name) const;

  // The profile named `model`, else the one with `model` among its
  // api_models (what an API server such as kiln_llmsim receives); nullptr
  // when none.
  const ModelProfile* FindByApiModel(absl::string_view model) const;

  std::vector<std::string> Names() const;

  // The built-in profiles merged with the YAML file at `path` (none when it
  // is empty). INVALID_ARGUMENT names the flag-given file and the line.
  static absl::StatusOr<ModelCatalog> BuiltinWithFile(const std::string& path);

 private:
  std::map<std::string, ModelProfile, std::less<>> profiles_;
};

}  // namespace kiln

#endif  // KILN_LLM_MODEL_PROFILE_H_
