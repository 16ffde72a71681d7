#include "common/fake_otlp_receiver.h"

#include "absl/strings/str_cat.h"

namespace kiln {

FakeOtlpReceiver::FakeOtlpReceiver() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(this);
  server_ = builder.BuildAndStart();
}

FakeOtlpReceiver::~FakeOtlpReceiver() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now());
}

std::string FakeOtlpReceiver::endpoint() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void FakeOtlpReceiver::FailNext(int n, grpc::StatusCode code) {
  MutexLock l(&mu_);
  fail_next_ = n;
  fail_code_ = code;
}

std::vector<ReceivedSpan> FakeOtlpReceiver::spans() const {
  MutexLock l(&mu_);
  return spans_;
}

int FakeOtlpReceiver::exports() const {
  MutexLock l(&mu_);
  return exports_;
}

bool FakeOtlpReceiver::WaitForSpans(size_t n, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  MutexLock l(&mu_);
  while (spans_.size() < n) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    cv_.WaitWithTimeout(&mu_, left);
  }
  return true;
}

grpc::Status FakeOtlpReceiver::Export(
    grpc::ServerContext*,
    const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* req,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse*) {
  MutexLock l(&mu_);
  exports_++;
  if (fail_next_ > 0) {
    fail_next_--;
    cv_.SignalAll();
    return grpc::Status(fail_code_, "told to fail");
  }
  for (const auto& rs : req->resource_spans()) {
    std::string service;
    for (const auto& kv : rs.resource().attributes()) {
      if (kv.key() == "service.name") service = kv.value().string_value();
    }
    for (const auto& ss : rs.scope_spans()) {
      for (const auto& s : ss.spans()) spans_.push_back({service, s});
    }
  }
  cv_.SignalAll();
  return grpc::Status::OK;
}

}  // namespace kiln
