// A process's tracing: the OTLP/gRPC exporter, the batch span processor and
// the tracers (one per service name) that share them. Off (tracers
// disabled, nothing exported) when no endpoint is given.
#ifndef KILN_COMMON_TELEMETRY_H_
#define KILN_COMMON_TELEMETRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/otlp_exporter.h"
#include "common/span_processor.h"
#include "common/tracer.h"

namespace kiln {

struct TelemetryOptions {
  // OTLP/gRPC receiver (OtlpGrpcExporter::Create); empty: tracing off.
  std::string otlp_endpoint;
  // Probability that a trace this process starts is recorded; traces
  // started elsewhere follow their traceparent's decision.
  double sample_ratio = 1.0;
  BatchSpanProcessorOptions processor;
};

class Telemetry {
 public:
  // INVALID_ARGUMENT naming otlp_endpoint or trace_sample_ratio.
  static absl::StatusOr<std::unique_ptr<Telemetry>> Start(
      const TelemetryOptions& options);
  // Shutdown with the processor's export timeout.
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  bool enabled() const { return processor_ != nullptr; }
  const std::string& endpoint() const { return options_.otlp_endpoint; }

  // A tracer whose spans carry service.name = `service_name`; owned by
  // this object. Disabled when tracing is off. Thread-safe.
  Tracer* NewTracer(const std::string& service_name);

  // Exports what is queued (within `timeout`) and stops.
  void Shutdown(absl::Duration timeout);
  BatchSpanProcessor::Stats stats() const;

 private:
  explicit Telemetry(TelemetryOptions options) : options_(std::move(options)) {}

  const TelemetryOptions options_;
  // Destroyed in reverse: the processor (which uses the exporter) first.
  std::unique_ptr<SpanExporter> exporter_;
  std::unique_ptr<BatchSpanProcessor> processor_;
  Mutex mu_;
  std::vector<std::unique_ptr<Tracer>> tracers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln

#endif  // KILN_COMMON_TELEMETRY_H_
