// schedsim: compares scheduling strategies on job/batch files in simulated
// time, one Markdown table row per strategy and scenario.
//
//   bazel run //bench:schedsim -- bench/scenarios/browser-renderer.yaml ...
//
// Flags: --slots=N (concurrent requests, default 1000), --rpm=N (provider
// requests per minute per model; default the batch policy's).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "bench/schedsim.h"
#include "spec/spec_validator.h"

int main(int argc, char** argv) {
  using namespace kiln;
  SchedSimOptions options;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (absl::StartsWith(a, "--slots=")) {
      if (!absl::SimpleAtoi(a.substr(8), &options.slots)) return 2;
    } else if (absl::StartsWith(a, "--rpm=")) {
      if (!absl::SimpleAtoi(a.substr(6), &options.requests_per_minute)) return 2;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: schedsim [--slots=N] [--rpm=N] SPEC.yaml...\n");
    return 2;
  }
  const ModelCatalog models = ModelCatalog::Builtin();
  std::printf(
      "| scenario | strategy | makespan s | bound s | ratio | input full | "
      "cache read | cache write | full / min | cost $ | uncached $ | hit rate | "
      "429s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& file : files) {
    auto parsed = ReadSpecFile(file);
    if (parsed.ok()) {
      ValidateOptions vo;
      vo.single_job = parsed->single_job;
      vo.file = file;
      const absl::Status s = ProblemsToStatus(
          ValidateBatch(parsed->batch, models, parsed->locations, vo));
      if (!s.ok()) parsed = s;
    }
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s\n", std::string(parsed.status().message()).c_str());
      return 1;
    }
    const std::string name =
        parsed->batch.name().empty() ? file : parsed->batch.name();
    for (Strategy st : {Strategy::kSequential, Strategy::kNaiveParallel,
                        Strategy::kCachedBatch, Strategy::kKiln}) {
      auto r = Simulate(st, parsed->batch, models, options);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
        return 1;
      }
      const double prompt = static_cast<double>(
          r->usage.prompt());
      const double full =
          static_cast<double>(r->usage.input + r->usage.cache_write);
      std::printf(
          "| %s | %s | %.1f | %.1f | %.2f | %lld | %lld | %lld | %.2f | %.4f | "
          "%.4f | %.1f%% | %lld |\n",
          name.c_str(), StrategyName(st), absl::ToDoubleSeconds(r->makespan),
          absl::ToDoubleSeconds(r->lower_bound),
          absl::ToDoubleSeconds(r->makespan) /
              std::max(1e-9, absl::ToDoubleSeconds(r->lower_bound)),
          static_cast<long long>(r->usage.input),
          static_cast<long long>(r->usage.cache_read),
          static_cast<long long>(r->usage.cache_write),
          full / std::max<double>(1, r->min_full_price_input), r->cost_usd,
          r->uncached_cost_usd,
          prompt > 0 ? 100.0 * static_cast<double>(r->usage.cache_read) / prompt
                     : 0.0,
          static_cast<long long>(r->rate_limited));
      if (r->failed > 0) {
        std::fprintf(stderr, "%s/%s: %d tasks or jobs did not finish\n",
                     name.c_str(), StrategyName(st), r->failed);
      }
    }
  }
  return 0;
}
