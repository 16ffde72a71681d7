// Unique, sortable identifiers for batches, jobs, tasks, leases and workers.
#ifndef KILN_COMMON_IDS_H_
#define KILN_COMMON_IDS_H_

#include <cstdint>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/clock.h"

namespace kiln {

// Makes ids of the form "<prefix>_<ULID>": 26 Crockford base-32 characters
// holding a 48-bit millisecond Unix timestamp and 80 random bits. Ids from one
// generator sort (as strings) in creation order, also within one millisecond,
// because the random part is incremented instead of redrawn then.
//
// Thread-safe. The clock is not owned and must outlive the generator.
class IdGenerator {
 public:
  // Random bits from a fixed seed: the same sequence of clock readings yields
  // the same ids (for tests and simulations).
  IdGenerator(const Clock* clock, uint64_t seed);

  // Random bits seeded from the operating system.
  explicit IdGenerator(const Clock* clock);

  // A new id. `prefix` should be short and lowercase ("b", "job", "t").
  std::string Next(absl::string_view prefix);

 private:
  const Clock* const clock_;
  Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  uint64_t last_ms_ ABSL_GUARDED_BY(mu_) = 0;
  // The 80 random bits of the last id: high 16 bits, low 64 bits.
  uint16_t last_hi_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t last_lo_ ABSL_GUARDED_BY(mu_) = 0;
};

// The creation time encoded in an id made by IdGenerator (millisecond
// precision), or nullopt when `id` is not such an id.
absl::optional<absl::Time> IdTime(absl::string_view id);

}  // namespace kiln

#endif  // KILN_COMMON_IDS_H_
