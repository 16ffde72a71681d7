#include "common/telemetry.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace kiln {

absl::StatusOr<std::unique_ptr<Telemetry>> Telemetry::Start(
    const TelemetryOptions& options) {
  if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trace_sample_ratio must be between 0 and 1, got ", options.sample_ratio));
  }
  std::unique_ptr<Telemetry> t(new Telemetry(options));
  if (options.otlp_endpoint.empty()) return t;
  absl::StatusOr<std::unique_ptr<OtlpGrpcExporter>> exporter =
      OtlpGrpcExporter::Create(options.otlp_endpoint);
  if (!exporter.ok()) return exporter.status();
  t->exporter_ = std::move(*exporter);
  t->processor_ =
      std::make_unique<BatchSpanProcessor>(t->exporter_.get(), options.processor);
  return t;
}

Telemetry::~Telemetry() { Shutdown(options_.processor.export_timeout); }

Tracer* Telemetry::NewTracer(const std::string& service_name) {
  MutexLock l(&mu_);
  if (processor_) {
    tracers_.push_back(std::make_unique<Tracer>(service_name, processor_.get(),
                                                options_.sample_ratio));
  } else {
    tracers_.push_back(std::make_unique<Tracer>());
  }
  return tracers_.back().get();
}

void Telemetry::Shutdown(absl::Duration timeout) {
  if (processor_) processor_->Shutdown(timeout);
}

BatchSpanProcessor::Stats Telemetry::stats() const {
  return processor_ ? processor_->stats() : BatchSpanProcessor::Stats{};
}

}  // namespace kiln
