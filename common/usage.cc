#include "common/usage.h"

namespace kiln {

void AddUsage(const kiln::v1::Usage& u, kiln::v1::Usage* out) {
  out->set_input_tokens(out->input_tokens() + u.input_tokens());
  out->set_cache_read_tokens(out->cache_read_tokens() + u.cache_read_tokens());
  out->set_cache_write_tokens(out->cache_write_tokens() + u.cache_write_tokens());
  out->set_output_tokens(out->output_tokens() + u.output_tokens());
  out->set_requests(out->requests() + u.requests());
  out->set_rate_limited(out->rate_limited() + u.rate_limited());
  out->set_retried_requests(out->retried_requests() + u.retried_requests());
  out->set_cut_off(out->cut_off() + u.cut_off());
  out->set_reasoning_tokens(out->reasoning_tokens() + u.reasoning_tokens());
}

int64_t PromptTokens(const kiln::v1::Usage& u) {
  return u.input_tokens() + u.cache_read_tokens() + u.cache_write_tokens();
}

}  // namespace kiln
