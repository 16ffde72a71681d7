// The JobService calls the cluster tests make against a kiln_coordinator
// on loopback: every call with the bearer token and a deadline scaled for
// the sanitizers (ScaledTimeout).
#ifndef KILN_TESTS_CLUSTER_CLIENT_H_
#define KILN_TESTS_CLUSTER_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/job_service.grpc.pb.h"

namespace kiln {

class ClusterClient {
 public:
  ClusterClient(const std::string& port, std::string token);

  std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(10)) const;
  kiln::v1::JobService::Stub* stub() const { return stub_.get(); }

  // The batch id.
  absl::StatusOr<std::string> Submit(const kiln::v1::BatchSpec& spec) const;
  // Follows the batch's events until its last (or 5 minutes, scaled),
  // watching again from the last event seen when the stream breaks, as it
  // does when the coordinator restarts.
  void WaitForEnd(const std::string& batch_id) const;
  // The FULL view.
  absl::StatusOr<kiln::v1::Batch> Batch(const std::string& batch_id) const;
  absl::StatusOr<std::vector<kiln::v1::Task>> Tasks(const std::string& batch_id) const;

 private:
  const std::string token_;
  std::unique_ptr<kiln::v1::JobService::Stub> stub_;
};

}  // namespace kiln

#endif  // KILN_TESTS_CLUSTER_CLIENT_H_
