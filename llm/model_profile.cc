#include "llm/model_profile.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/yaml_reader.h"

namespace kiln {

absl::Duration ModelProfile::RequestTime(int64_t uncached_prompt_tokens,
                                         int64_t output_tokens) const {
  absl::Duration t = ttft;
  if (prefill_tps > 0) {
    t += absl::Seconds(static_cast<double>(uncached_prompt_tokens) /
                       prefill_tps);
  }
  if (output_tps > 0) {
    t += absl::Seconds(static_cast<double>(output_tokens) / output_tps);
  }
  return t;
}

kiln::v1::Usage ToUsage(const TokenCounts& t) {
  kiln::v1::Usage u;
  u.set_input_tokens(t.input);
  u.set_cache_read_tokens(t.cache_read);
  u.set_cache_write_tokens(t.cache_write);
  u.set_output_tokens(t.output);
  u.set_reasoning_tokens(t.reasoning);
  return u;
}

TokenCounts FromUsage(const kiln::v1::Usage& u) {
  TokenCounts t;
  t.input = u.input_tokens();
  t.cache_read = u.cache_read_tokens();
  t.cache_write = u.cache_write_tokens();
  t.output = u.output_tokens();
  t.reasoning = u.reasoning_tokens();
  return t;
}

std::string ModelProfile::ApiModel(absl::string_view key) const {
  auto it = api_models.find(std::string(key));
  if (it != api_models.end() && !it->second.empty()) return it->second;
  it = api_models.find("");
  if (it != api_models.end() && !it->second.empty()) return it->second;
  return name;
}

double ModelProfile::Cost(const TokenCounts& t) const {
  const double in = input_usd_per_mtok / 1e6;
  return static_cast<double>(t.input) * in +
         static_cast<double>(t.cache_read) * in * cache_read_multiplier +
         static_cast<double>(t.cache_write) * in * cache_write_multiplier +
         static_cast<double>(t.output) * output_usd_per_mtok / 1e6;
}

double ModelProfile::UncachedCost(const TokenCounts& t) const {
  TokenCounts all = t;
  all.input = t.prompt();
  all.cache_read = all.cache_write = 0;
  return Cost(all);
}

ModelCatalog ModelCatalog::Builtin() {
  ModelCatalog c;
  // List prices (USD per million tokens) from each provider's public price
  // list on the date in prices_as_of, and the model ids of each API. Speeds
  // are typical streaming rates; the output rates of kimi-k2, gpt-4o and
  // claude-3.5-sonnet are the ones DESIGN.md's numbers are based on.
  ModelProfile kimi;
  kimi.name = "kimi-k2";
  kimi.provider = "moonshot";
  kimi.api_models = {{"", "kimi-k2-0905-preview"},
                     {"moonshot", "kimi-k2-0905-preview"},
                     {"openrouter", "moonshotai/kimi-k2-0905"}};
  kimi.ttft = absl::Milliseconds(900);
  kimi.prefill_tps = 6000;
  kimi.output_tps = 27;
  kimi.input_usd_per_mtok = 0.60;
  kimi.output_usd_per_mtok = 2.50;
  kimi.cache_read_multiplier = 0.25;  // $0.15 per million on a cache hit
  kimi.cache_write_multiplier = 1.0;
  kimi.context_window = 262144;
  kimi.max_output_tokens = 16384;
  kimi.requests_per_minute = 500;
  kimi.prices_as_of = "2025-09-05";
  c.Put(kimi);

  ModelProfile gpt4o;
  gpt4o.name = "gpt-4o";
  gpt4o.provider = "openai";
  gpt4o.api_models = {{"", "gpt-4o-2024-08-06"},
                      {"openai", "gpt-4o-2024-08-06"},
                      {"openrouter", "openai/gpt-4o-2024-08-06"}};
  gpt4o.ttft = absl::Milliseconds(450);
  gpt4o.prefill_tps = 12000;
  gpt4o.output_tps = 175;
  gpt4o.input_usd_per_mtok = 2.50;
  gpt4o.output_usd_per_mtok = 10.00;
  gpt4o.cache_read_multiplier = 0.5;  // cached input $1.25
  gpt4o.cache_write_multiplier = 1.0;
  gpt4o.context_window = 128000;
  gpt4o.max_output_tokens = 16384;
  gpt4o.requests_per_minute = 5000;
  gpt4o.input_tokens_per_minute = 800000;
  gpt4o.prices_as_of = "2025-08-07";
  c.Put(gpt4o);

  ModelProfile mini = gpt4o;
  mini.name = "gpt-4o-mini";
  mini.api_models = {{"", "gpt-4o-mini-2024-07-18"},
                     {"openai", "gpt-4o-mini-2024-07-18"},
                     {"openrouter", "openai/gpt-4o-mini-2024-07-18"}};
  mini.ttft = absl::Milliseconds(350);
  mini.prefill_tps = 20000;
  mini.output_tps = 250;
  mini.input_usd_per_mtok = 0.15;
  mini.output_usd_per_mtok = 0.60;
  mini.input_tokens_per_minute = 2000000;
  c.Put(mini);

  // OpenAI's reasoning models: max_completion_tokens, no temperature, and
  // hidden reasoning tokens billed as output.
  ModelProfile gpt5 = gpt4o;
  gpt5.name = "gpt-5";
  gpt5.api_models = {{"", "gpt-5-2025-08-07"},
                     {"openai", "gpt-5-2025-08-07"},
                     {"openrouter", "openai/gpt-5"}};
  gpt5.ttft = absl::Seconds(3);
  gpt5.output_tps = 80;
  gpt5.input_usd_per_mtok = 1.25;
  gpt5.output_usd_per_mtok = 10.00;
  gpt5.cache_read_multiplier = 0.1;
  gpt5.context_window = 400000;
  gpt5.max_output_tokens = 128000;
  gpt5.max_tokens_param = "max_completion_tokens";
  gpt5.reasoning = true;
  gpt5.sampling_params = false;
  gpt5.prices_as_of = "2025-08-07";
  c.Put(gpt5);

  ModelProfile gpt5mini = gpt5;
  gpt5mini.name = "gpt-5-mini";
  gpt5mini.api_models = {{"", "gpt-5-mini-2025-08-07"},
                         {"openai", "gpt-5-mini-2025-08-07"},
                         {"openrouter", "openai/gpt-5-mini"}};
  gpt5mini.ttft = absl::Seconds(2);
  gpt5mini.output_tps = 120;
  gpt5mini.input_usd_per_mtok = 0.25;
  gpt5mini.output_usd_per_mtok = 2.00;
  gpt5mini.input_tokens_per_minute = 2000000;
  c.Put(gpt5mini);

  ModelProfile sonnet55;
  sonnet55.name = "claude-sonnet-5.5";
  sonnet55.provider = "anthropic";
  sonnet55.api_models = {{"", "claude-sonnet-5-5"},
                         {"anthropic", "claude-sonnet-5-5"},
                         {"openrouter", "anthropic/claude-sonnet-5.5"}};
  sonnet55.ttft = absl::Milliseconds(900);
  sonnet55.prefill_tps = 8000;
  sonnet55.output_tps = 90;
  sonnet55.input_usd_per_mtok = 2.00;
  sonnet55.output_usd_per_mtok = 10.00;
  sonnet55.cache_read_multiplier = 0.1;    // $0.20
  sonnet55.cache_write_multiplier = 1.25;  // 5-minute writes, $2.50
  sonnet55.explicit_cache_breakpoints = true;
  sonnet55.itpm_counts_cache_reads = false;
  sonnet55.sampling_params = false;  // non-default temperature/top_p: 400
  sonnet55.context_window = 1000000;
  sonnet55.max_output_tokens = 128000;
  sonnet55.requests_per_minute = 4000;
  sonnet55.input_tokens_per_minute = 2000000;
  sonnet55.output_tokens_per_minute = 400000;
  sonnet55.prices_as_of = "2026-12-01";
  c.Put(sonnet55);

  ModelProfile haiku45 = sonnet55;
  haiku45.name = "claude-haiku-4.5";
  haiku45.api_models = {{"", "claude-haiku-4-5-20251001"},
                        {"anthropic", "claude-haiku-4-5-20251001"},
                        {"openrouter", "anthropic/claude-haiku-4.5"}};
  haiku45.ttft = absl::Milliseconds(500);
  haiku45.output_tps = 160;
  haiku45.input_usd_per_mtok = 1.00;
  haiku45.output_usd_per_mtok = 5.00;
  haiku45.sampling_params = true;
  haiku45.context_window = 200000;
  haiku45.max_output_tokens = 64000;
  haiku45.cache_min_tokens = 4096;
  c.Put(haiku45);

  // Retired by Anthropic on 2025-10-22 (the API answers 404 for them); kept
  // because job files name them and the simulator's numbers build on them.
  ModelProfile sonnet;
  sonnet.name = "claude-3.5-sonnet";
  sonnet.provider = "anthropic";
  sonnet.api_models = {{"", "claude-3-5-sonnet-20241022"},
                       {"anthropic", "claude-3-5-sonnet-20241022"},
                       {"openrouter", "anthropic/claude-3.5-sonnet"}};
  sonnet.ttft = absl::Milliseconds(800);
  sonnet.prefill_tps = 8000;
  sonnet.output_tps = 125;
  sonnet.input_usd_per_mtok = 3.00;
  sonnet.output_usd_per_mtok = 15.00;
  sonnet.cache_read_multiplier = 0.1;
  sonnet.cache_write_multiplier = 1.25;
  sonnet.explicit_cache_breakpoints = true;
  sonnet.itpm_counts_cache_reads = false;
  sonnet.context_window = 200000;
  sonnet.max_output_tokens = 8192;
  sonnet.requests_per_minute = 4000;
  sonnet.input_tokens_per_minute = 400000;
  sonnet.output_tokens_per_minute = 80000;
  sonnet.prices_as_of = "2025-10-22";
  c.Put(sonnet);

  ModelProfile haiku = sonnet;
  haiku.name = "claude-3.5-haiku";
  haiku.api_models = {{"", "claude-3-5-haiku-20241022"},
                      {"anthropic", "claude-3-5-haiku-20241022"},
                      {"openrouter", "anthropic/claude-3.5-haiku"}};
  haiku.ttft = absl::Milliseconds(500);
  haiku.output_tps = 160;
  haiku.input_usd_per_mtok = 0.80;
  haiku.output_usd_per_mtok = 4.00;
  haiku.cache_min_tokens = 2048;
  c.Put(haiku);
  return c;
}

void ModelCatalog::Put(ModelProfile profile) {
  std::string name = profile.name;
  profiles_[std::move(name)] = std::move(profile);
}

const ModelProfile* ModelCatalog::Find(absl::string_view name) const {
  auto it = profiles_.find(name);
  return it == profiles_.end() ? nullptr : &it->second;
}

const ModelProfile* ModelCatalog::FindByApiModel(absl::string_view model) const {
  if (const ModelProfile* p = Find(model)) return p;
  for (const auto& [name, p] : profiles_) {
    for (const auto& [key, id] : p.api_models) {
      if (id == model) return &p;
    }
  }
  return nullptr;
}

std::vector<std::string> ModelCatalog::Names() const {
  std::vector<std::string> out;
  for (const auto& kv : profiles_) out.push_back(kv.first);
  return out;
}

absl::Status ModelCatalog::MergeYaml(absl::string_view yaml,
                                     absl::string_view filename) {
  YamlReader r{std::string(filename)};
  auto root = r.Load(yaml);
  if (!root) return ProblemsToStatus(r.problems());
  if (!r.ExpectMap(*root, "")) return ProblemsToStatus(r.problems());
  r.CheckKeys(*root, "", {"models"});
  const YAML::Node models = (*root)["models"];
  if (!models || !r.ExpectSeq(models, "models")) {
    if (!models) r.Problem(*root, "models", "required");
    return ProblemsToStatus(r.problems());
  }
  std::vector<ModelProfile> parsed;
  int i = 0;
  for (const auto& m : models) {
    const std::string f = FieldPath("models", i++);
    if (!r.ExpectMap(m, f)) continue;
    r.CheckKeys(m, f,
                {"name", "provider", "ttft", "prefill_tps", "output_tps",
                 "input_usd_per_mtok", "output_usd_per_mtok",
                 "cache_read_multiplier", "cache_write_multiplier",
                 "cache_min_tokens", "cache_ttl",
                 "explicit_cache_breakpoints", "itpm_counts_cache_reads",
                 "context_window",
                 "max_output_tokens", "requests_per_minute",
                 "input_tokens_per_minute", "output_tokens_per_minute",
                 "api_model", "max_tokens_param", "reasoning",
                 "sampling_params", "prices_as_of"});
    if (!m["name"]) {
      r.Problem(m, FieldPath(f, "name"), "required");
      continue;
    }
    const std::string name = r.String(m["name"], FieldPath(f, "name"));
    if (name.empty()) {
      r.Problem(m["name"], FieldPath(f, "name"), "must not be empty");
      continue;
    }
    const ModelProfile* base = Find(name);
    ModelProfile p = base ? *base : ModelProfile();
    p.name = name;
    auto field = [&](const char* key) { return FieldPath(f, key); };
    constexpr double kBig = 1e12;
    constexpr int64_t kBigInt = int64_t{1} << 50;
    if (m["provider"]) p.provider = r.String(m["provider"], field("provider"));
    if (m["ttft"]) p.ttft = r.Duration(m["ttft"], field("ttft"));
    if (m["prefill_tps"]) {
      p.prefill_tps = r.Double(m["prefill_tps"], field("prefill_tps"), 1, kBig);
    }
    if (m["output_tps"]) {
      p.output_tps = r.Double(m["output_tps"], field("output_tps"), 0.01, kBig);
    }
    if (m["input_usd_per_mtok"]) {
      p.input_usd_per_mtok = r.Double(m["input_usd_per_mtok"],
                                      field("input_usd_per_mtok"), 0, 1e6);
    }
    if (m["output_usd_per_mtok"]) {
      p.output_usd_per_mtok = r.Double(m["output_usd_per_mtok"],
                                       field("output_usd_per_mtok"), 0, 1e6);
    }
    if (m["cache_read_multiplier"]) {
      p.cache_read_multiplier = r.Double(m["cache_read_multiplier"],
                                         field("cache_read_multiplier"), 0, 10);
    }
    if (m["cache_write_multiplier"]) {
      p.cache_write_multiplier = r.Double(
          m["cache_write_multiplier"], field("cache_write_multiplier"), 0, 10);
    }
    if (m["cache_min_tokens"]) {
      p.cache_min_tokens = r.Int(m["cache_min_tokens"],
                                 field("cache_min_tokens"), 0, kBigInt);
    }
    if (m["cache_ttl"]) p.cache_ttl = r.Duration(m["cache_ttl"], field("cache_ttl"));
    if (m["explicit_cache_breakpoints"]) {
      p.explicit_cache_breakpoints = r.Bool(m["explicit_cache_breakpoints"],
                                            field("explicit_cache_breakpoints"));
    }
    if (m["itpm_counts_cache_reads"]) {
      p.itpm_counts_cache_reads = r.Bool(m["itpm_counts_cache_reads"],
                                         field("itpm_counts_cache_reads"));
    }
    if (m["context_window"]) {
      p.context_window =
          r.Int(m["context_window"], field("context_window"), 1, kBigInt);
    }
    if (m["max_output_tokens"]) {
      p.max_output_tokens =
          r.Int(m["max_output_tokens"], field("max_output_tokens"), 1, kBigInt);
    }
    if (m["requests_per_minute"]) {
      p.requests_per_minute = r.Int(m["requests_per_minute"],
                                    field("requests_per_minute"), 0, kBigInt);
    }
    if (m["input_tokens_per_minute"]) {
      p.input_tokens_per_minute =
          r.Int(m["input_tokens_per_minute"], field("input_tokens_per_minute"),
                0, kBigInt);
    }
    if (m["output_tokens_per_minute"]) {
      p.output_tokens_per_minute =
          r.Int(m["output_tokens_per_minute"],
                field("output_tokens_per_minute"), 0, kBigInt);
    }
    if (const YAML::Node am = m["api_model"]) {
      // One id for every endpoint, or a map of endpoint -> id.
      if (am.IsScalar()) {
        p.api_models = {{"", r.String(am, field("api_model"))}};
      } else if (r.ExpectMap(am, field("api_model"))) {
        p.api_models.clear();
        for (const auto& kv : am) {
          const std::string key = kv.first.as<std::string>("");
          const std::string f2 = FieldPath(field("api_model"), key);
          const std::string id = r.String(kv.second, f2);
          if (id.empty()) r.Problem(kv.second, f2, "must not be empty");
          p.api_models[key == "default" ? "" : key] = id;
        }
      }
    }
    if (m["max_tokens_param"]) {
      p.max_tokens_param = r.String(m["max_tokens_param"], field("max_tokens_param"));
      if (p.max_tokens_param != "max_tokens" &&
          p.max_tokens_param != "max_completion_tokens") {
        r.Problem(m["max_tokens_param"], field("max_tokens_param"),
                  "must be max_tokens or max_completion_tokens");
      }
    }
    if (m["reasoning"]) {
      p.reasoning = r.Bool(m["reasoning"], field("reasoning"));
      // A reasoning model takes max_completion_tokens unless told otherwise.
      if (p.reasoning && !m["max_tokens_param"]) {
        p.max_tokens_param = "max_completion_tokens";
      }
      if (p.reasoning && !m["sampling_params"]) p.sampling_params = false;
    }
    if (m["sampling_params"]) {
      p.sampling_params = r.Bool(m["sampling_params"], field("sampling_params"));
    }
    if (m["prices_as_of"]) {
      p.prices_as_of = r.String(m["prices_as_of"], field("prices_as_of"));
    }
    parsed.push_back(std::move(p));
  }
  if (!r.ok()) return ProblemsToStatus(r.problems());
  for (auto& p : parsed) Put(std::move(p));
  return absl::OkStatus();
}

absl::StatusOr<ModelCatalog> ModelCatalog::BuiltinWithFile(const std::string& path) {
  ModelCatalog models = Builtin();
  if (path.empty()) return models;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--models: cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::Status s = models.MergeYaml(ss.str(), path);
  if (!s.ok()) return s;
  return models;
}

}  // namespace kiln
