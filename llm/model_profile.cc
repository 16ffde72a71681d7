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
  return u;
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
  all.input = t.input + t.cache_read + t.cache_write;
  all.cache_read = all.cache_write = 0;
  return Cost(all);
}

ModelCatalog ModelCatalog::Builtin() {
  ModelCatalog c;
  // Published list prices (USD per million tokens) and typical speeds; the
  // output rates are the ones DESIGN.md's numbers are based on.
  ModelProfile kimi;
  kimi.name = "kimi-k2";
  kimi.provider = "moonshot";
  kimi.ttft = absl::Milliseconds(900);
  kimi.prefill_tps = 6000;
  kimi.output_tps = 27;
  kimi.input_usd_per_mtok = 0.60;
  kimi.output_usd_per_mtok = 2.50;
  kimi.cache_read_multiplier = 0.1;
  kimi.cache_write_multiplier = 1.0;
  kimi.context_window = 131072;
  kimi.max_output_tokens = 16384;
  kimi.requests_per_minute = 500;
  c.Put(kimi);

  ModelProfile gpt4o;
  gpt4o.name = "gpt-4o";
  gpt4o.provider = "openai";
  gpt4o.ttft = absl::Milliseconds(450);
  gpt4o.prefill_tps = 12000;
  gpt4o.output_tps = 175;
  gpt4o.input_usd_per_mtok = 2.50;
  gpt4o.output_usd_per_mtok = 10.00;
  gpt4o.cache_read_multiplier = 0.1;
  gpt4o.cache_write_multiplier = 1.0;
  gpt4o.context_window = 128000;
  gpt4o.max_output_tokens = 16384;
  gpt4o.requests_per_minute = 5000;
  gpt4o.input_tokens_per_minute = 800000;
  c.Put(gpt4o);

  ModelProfile mini = gpt4o;
  mini.name = "gpt-4o-mini";
  mini.ttft = absl::Milliseconds(350);
  mini.prefill_tps = 20000;
  mini.output_tps = 250;
  mini.input_usd_per_mtok = 0.15;
  mini.output_usd_per_mtok = 0.60;
  mini.input_tokens_per_minute = 2000000;
  c.Put(mini);

  ModelProfile sonnet;
  sonnet.name = "claude-3.5-sonnet";
  sonnet.provider = "anthropic";
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
  c.Put(sonnet);

  ModelProfile haiku = sonnet;
  haiku.name = "claude-3.5-haiku";
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
                 "input_tokens_per_minute", "output_tokens_per_minute"});
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
