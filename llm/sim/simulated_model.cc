#include "llm/sim/simulated_model.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/digest.h"
#include "llm/prompt.h"

namespace kiln {

SimulatedModel::SimulatedModel(const ModelCatalog* models, SimOptions options)
    : models_(models),
      options_(options),
      sim_(models, options.requests_per_minute, options.faults) {}

absl::StatusOr<SimAnswer> SimulatedModel::Respond(const kiln::v1::Prompt& prompt,
                                          const std::vector<int>& cache_points,
                                          MonotonicTime now) {
  const ModelProfile* profile = models_->FindByApiModel(prompt.model());
  if (profile == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("model \"", prompt.model(), "\" does not exist"));
  }
  if (prompt.blocks_size() == 0) {
    return absl::InvalidArgumentError("the prompt has no messages");
  }

  // The request as ProviderModel sees it: chained prefix hashes at the points.
  SimRequest req;
  req.model = profile->name;
  std::string chain = profile->name;
  size_t next_point = 0;
  std::vector<int> points = cache_points;
  std::sort(points.begin(), points.end());
  for (int i = 0; i < prompt.blocks_size(); ++i) {
    const auto& b = prompt.blocks(i);
    req.prompt_tokens += EstimateTokens(b.text());
    absl::StrAppend(&chain, "\x1f", b.text());
    while (next_point < points.size() && points[next_point] < i) ++next_point;
    if (next_point < points.size() && points[next_point] == i) {
      req.prefixes.push_back({Sha256Hex(chain), req.prompt_tokens});
    }
  }
  const std::string text_in = PromptText(prompt);
  req.fault_key = std::hash<std::string>()(Sha256Hex(
      absl::StrCat(profile->name, "\x1f", text_in)));

  SimAnswer a;
  CodegenOptions codegen{options_.seed, options_.defect_rate};
  // A continuation of a cut-off reply (prefilled, or with the instruction
  // to go on) gets the rest of the reply the original prompt gets.
  kiln::v1::Prompt base;
  std::string partial;
  if (SplitContinuation(prompt, &base, &partial)) {
    const std::string whole = SimReply(ReadPromptFacts(PromptText(base)), codegen);
    a.text = absl::StartsWith(whole, partial) ? whole.substr(partial.size()) : whole;
  } else {
    a.text = SimReply(ReadPromptFacts(text_in), codegen);
  }
  a.finish_reason = "stop";
  // A reasoning model thinks first (half as many tokens as it writes, here);
  // the reasoning counts against the cap and is billed as output.
  const int64_t reasoning = profile->reasoning ? (EstimateTokens(a.text) + 1) / 2 : 0;
  if (prompt.max_output_tokens() > 0 &&
      reasoning + EstimateTokens(a.text) > prompt.max_output_tokens()) {
    const int64_t room = std::max<int64_t>(0, prompt.max_output_tokens() - reasoning);
    a.text.resize(static_cast<size_t>(std::min<int64_t>(
        room * 4, static_cast<int64_t>(a.text.size()))));
    a.finish_reason = "length";
  }
  req.output_tokens = EstimateTokens(a.text) + reasoning;

  {
    MutexLock l(&mu_);
    a.response = sim_.Send(req, now);
    ++requests_;
    a.request_id = absl::StrFormat(
        "%016x%08x", std::hash<std::string>()(absl::StrCat(
                         options_.seed, "/", requests_, "/", req.fault_key)),
        static_cast<uint32_t>(requests_));
  }
  a.response.usage.reasoning = std::min(reasoning, a.response.usage.output);
  if (!profile->explicit_cache_breakpoints) {
    // Implicit caching (OpenAI and compatible servers): writes are billed as
    // plain input and not reported apart.
    a.response.usage.input += a.response.usage.cache_write;
    a.response.usage.cache_write = 0;
  }
  if (a.response.rate_limited || a.response.fault == SimFault::kServerError) {
    a.text.clear();
    return a;
  }

  // Pieces of chunk_tokens each, spread evenly from first token to done.
  const size_t piece = static_cast<size_t>(std::max(1, options_.chunk_tokens)) * 4;
  const size_t n = std::max<size_t>(1, (a.text.size() + piece - 1) / piece);
  const absl::Duration span = a.response.done_at - a.response.first_token_at;
  for (size_t i = 0; i < n; ++i) {
    const MonotonicTime at =
        a.response.first_token_at +
        (n > 1 ? span * (static_cast<double>(i) / static_cast<double>(n - 1))
               : absl::ZeroDuration());
    a.chunks.emplace_back(at, a.text.substr(i * piece, piece));
  }
  return a;
}

std::vector<int> SimulatedModel::CachePointsFor(const kiln::v1::Prompt& prompt) const {
  const ModelProfile* profile = models_->FindByApiModel(prompt.model());
  if (profile != nullptr && profile->explicit_cache_breakpoints) {
    return CacheBreakpoints(prompt);
  }
  std::vector<int> all;
  for (int i = 0; i + 1 < prompt.blocks_size(); ++i) all.push_back(i);
  return all;
}

}  // namespace kiln
