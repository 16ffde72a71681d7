// The tracing flags every Kiln server binary takes (--otlp_endpoint,
// --trace_sample_ratio), defined once. The CLI has its own settings of the
// same names (cli/settings.h).
#ifndef KILN_COMMON_TELEMETRY_FLAGS_H_
#define KILN_COMMON_TELEMETRY_FLAGS_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/telemetry.h"

namespace kiln {

// Telemetry from the flags (off unless --otlp_endpoint is given).
absl::StatusOr<std::unique_ptr<Telemetry>> StartTelemetryFromFlags();

}  // namespace kiln

#endif  // KILN_COMMON_TELEMETRY_FLAGS_H_
