#include "common/telemetry_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, otlp_endpoint, "",
          "export trace spans over OTLP/gRPC to this receiver (host:port, "
          "http://host:port or https://host:port; Jaeger listens on 4317); "
          "empty: tracing off");
ABSL_FLAG(double, trace_sample_ratio, 1.0,
          "fraction of the traces this process starts that are recorded; "
          "traces started upstream follow their traceparent");

namespace kiln {

absl::StatusOr<std::unique_ptr<Telemetry>> StartTelemetryFromFlags() {
  TelemetryOptions options;
  options.otlp_endpoint = absl::GetFlag(FLAGS_otlp_endpoint);
  options.sample_ratio = absl::GetFlag(FLAGS_trace_sample_ratio);
  return Telemetry::Start(options);
}

}  // namespace kiln
