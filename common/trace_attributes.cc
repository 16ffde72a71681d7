#include "common/trace_attributes.h"

#include "absl/strings/str_cat.h"
#include "common/usage.h"

namespace kiln {

void SetUsageAttributes(const kiln::v1::Usage& usage, double cost_usd, Span* span) {
  if (!span->recording()) return;
  span->SetInt("gen_ai.usage.input_tokens", PromptTokens(usage))
      .SetInt("gen_ai.usage.output_tokens", usage.output_tokens())
      .SetInt("gen_ai.usage.cache_read.input_tokens", usage.cache_read_tokens())
      .SetInt("gen_ai.usage.cache_creation.input_tokens", usage.cache_write_tokens())
      .SetInt("kiln.usage.full_price_input_tokens", usage.input_tokens())
      .SetInt("kiln.llm.requests", usage.requests())
      .SetInt("kiln.llm.rate_limited", usage.rate_limited())
      .SetDouble("kiln.cost_usd", cost_usd);
}

std::string RepoText(const kiln::v1::RepoSpec& repo) {
  std::string out = repo.has_url() ? repo.url() : repo.path();
  if (!repo.ref().empty()) absl::StrAppend(&out, "@", repo.ref());
  return out;
}

}  // namespace kiln
