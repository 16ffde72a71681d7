#include "common/otlp_exporter.h"

#include <cstdio>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace kiln {

using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;

absl::StatusOr<std::unique_ptr<OtlpGrpcExporter>> OtlpGrpcExporter::Create(
    const std::string& endpoint) {
  absl::string_view target = endpoint;
  bool tls = false;
  if (absl::ConsumePrefix(&target, "https://")) {
    tls = true;
  } else {
    absl::ConsumePrefix(&target, "http://");
  }
  absl::ConsumeSuffix(&target, "/");
  const size_t colon = target.rfind(':');
  int port = 0;
  if (target.empty() || colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(target.substr(colon + 1), &port) || port <= 0 ||
      port > 65535 || absl::StrContains(target, "/")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "otlp_endpoint \"", endpoint,
        "\" must be host:port, http://host:port or https://host:port "
        "(Jaeger's OTLP/gRPC port is 4317)"));
  }
  auto creds = tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                   : grpc::InsecureChannelCredentials();
  auto channel = grpc::CreateChannel(std::string(target), creds);
  return std::unique_ptr<OtlpGrpcExporter>(
      new OtlpGrpcExporter(endpoint, TraceService::NewStub(channel)));
}

OtlpGrpcExporter::OtlpGrpcExporter(std::string endpoint,
                                   std::unique_ptr<TraceService::Stub> stub)
    : endpoint_(std::move(endpoint)), stub_(std::move(stub)) {}

absl::Status OtlpGrpcExporter::Export(const ExportTraceServiceRequest& request,
                                      absl::Duration timeout) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoNanoseconds(timeout));
  ExportTraceServiceResponse response;
  grpc::Status s = stub_->Export(&ctx, request, &response);
  if (!s.ok()) {
    absl::Status status = FromGrpcStatus(s);
    return absl::Status(status.code(), absl::StrCat("OTLP export to ", endpoint_,
                                                    ": ", status.message()));
  }
  if (response.has_partial_success() &&
      (response.partial_success().rejected_spans() > 0 ||
       !response.partial_success().error_message().empty())) {
    // Accepted (retrying would not help); tell the operator why not all.
    std::fprintf(stderr, "kiln: %s rejected %lld span(s): %s\n", endpoint_.c_str(),
                 static_cast<long long>(response.partial_success().rejected_spans()),
                 response.partial_success().error_message().c_str());
  }
  return absl::OkStatus();
}

}  // namespace kiln
