// OTLP/gRPC trace export: TraceService/Export to a receiver such as Jaeger
// (port 4317) or the OpenTelemetry Collector.
#ifndef KILN_COMMON_OTLP_EXPORTER_H_
#define KILN_COMMON_OTLP_EXPORTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/span_processor.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace kiln {

class OtlpGrpcExporter : public SpanExporter {
 public:
  // `endpoint` is host:port, http://host:port (plaintext) or
  // https://host:port (TLS with the system's roots). The channel connects
  // lazily: a receiver that is down shows as UNAVAILABLE exports, retried.
  // INVALID_ARGUMENT for an endpoint that is not of these forms.
  static absl::StatusOr<std::unique_ptr<OtlpGrpcExporter>> Create(
      const std::string& endpoint);

  absl::Status Export(const ExportTraceServiceRequest& request,
                      absl::Duration timeout) override;

  const std::string& endpoint() const { return endpoint_; }

 private:
  OtlpGrpcExporter(std::string endpoint,
                   std::unique_ptr<opentelemetry::proto::collector::trace::v1::
                                       TraceService::Stub> stub);

  const std::string endpoint_;
  std::unique_ptr<opentelemetry::proto::collector::trace::v1::TraceService::Stub>
      stub_;
};

}  // namespace kiln

#endif  // KILN_COMMON_OTLP_EXPORTER_H_
