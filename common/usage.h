// Arithmetic on kiln.v1.Usage (token counts by how they are billed).
#ifndef KILN_COMMON_USAGE_H_
#define KILN_COMMON_USAGE_H_

#include <cstdint>

#include "kiln/v1/task.pb.h"

namespace kiln {

// Adds every count of `u` into `out`.
void AddUsage(const kiln::v1::Usage& u, kiln::v1::Usage* out);

// Prompt tokens of every kind: full price, cache read and cache write.
int64_t PromptTokens(const kiln::v1::Usage& u);

}  // namespace kiln

#endif  // KILN_COMMON_USAGE_H_
