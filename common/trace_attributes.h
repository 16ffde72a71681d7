// The attributes Kiln's spans share across components, by their
// OpenTelemetry names where a semantic convention exists (gen_ai.*) and
// under kiln.* otherwise. docs/tracing.md lists them.
#ifndef KILN_COMMON_TRACE_ATTRIBUTES_H_
#define KILN_COMMON_TRACE_ATTRIBUTES_H_

#include <string>

#include "common/tracer.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// Token usage and cost: gen_ai.usage.input_tokens (every prompt token, as
// the convention asks: full price + cache read + cache write),
// gen_ai.usage.output_tokens, gen_ai.usage.cache_read.input_tokens,
// gen_ai.usage.cache_creation.input_tokens, kiln.usage.full_price_input_tokens,
// kiln.llm.requests, kiln.llm.rate_limited and kiln.cost_usd.
void SetUsageAttributes(const kiln::v1::Usage& usage, double cost_usd, Span* span);

// The repository as a user wrote it: its path or URL, "@ref" when set.
std::string RepoText(const kiln::v1::RepoSpec& repo);

}  // namespace kiln

#endif  // KILN_COMMON_TRACE_ATTRIBUTES_H_
