// An OTLP/gRPC receiver (TraceService/Export) on loopback that keeps every
// span it is sent, with the service.name of its resource; it can be told to
// answer the next exports with an error.
#ifndef KILN_COMMON_FAKE_OTLP_RECEIVER_H_
#define KILN_COMMON_FAKE_OTLP_RECEIVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace kiln {

struct ReceivedSpan {
  std::string service;  // the resource's service.name
  opentelemetry::proto::trace::v1::Span span;
};

class FakeOtlpReceiver
    : public opentelemetry::proto::collector::trace::v1::TraceService::Service {
 public:
  // Serves on 127.0.0.1 at a free port.
  FakeOtlpReceiver();
  ~FakeOtlpReceiver() override;

  int port() const { return port_; }
  std::string endpoint() const;

  // The next `n` exports fail with `code`; their spans are not kept.
  void FailNext(int n, grpc::StatusCode code);
  std::vector<ReceivedSpan> spans() const;
  int exports() const;  // calls answered, failed ones included
  // Waits until at least `n` spans were received; false on timeout.
  bool WaitForSpans(size_t n, absl::Duration timeout) const;

  grpc::Status Export(
      grpc::ServerContext* ctx,
      const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* req,
      opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse* resp)
      override;

 private:
  mutable Mutex mu_;
  mutable CondVar cv_;
  std::vector<ReceivedSpan> spans_ ABSL_GUARDED_BY(mu_);
  int exports_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::StatusCode fail_code_ ABSL_GUARDED_BY(mu_) = grpc::StatusCode::OK;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace kiln

#endif  // KILN_COMMON_FAKE_OTLP_RECEIVER_H_
