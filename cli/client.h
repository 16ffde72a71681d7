// The CLI's connection to a coordinator's JobService: bearer token, TLS,
// deadlines, a WatchBatch that reconnects where it left off, and errors
// rewritten into one line a user can act on.
#ifndef KILN_CLI_CLIENT_H_
#define KILN_CLI_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/trace_context.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/job_service.grpc.pb.h"

namespace kiln {
namespace cli {

struct Endpoint {
  std::string target;  // host:port
  std::string token;   // empty: none
  std::string token_env;  // where the token came from, for messages
  std::string tls_ca_pem;  // empty: plaintext
};

class Client {
 public:
  // Connects, waiting up to `timeout` for the channel. UNAVAILABLE "cannot
  // reach the coordinator at HOST:PORT" when it does not come up.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const Endpoint& endpoint,
                                                         absl::Duration timeout);

  // `trace`: the caller's span, sent as the call's traceparent (the batch's
  // span becomes its child).
  absl::StatusOr<kiln::v1::SubmitBatchResponse> Submit(
      const kiln::v1::SubmitBatchRequest& request, const TraceContext& trace = {});
  absl::StatusOr<kiln::v1::Batch> GetBatch(const std::string& batch_id,
                                           kiln::v1::BatchView view);
  absl::StatusOr<kiln::v1::ListBatchesResponse> ListBatches(
      const kiln::v1::ListBatchesRequest& request);
  // Every task of the batch (all pages).
  absl::StatusOr<std::vector<kiln::v1::Task>> ListTasks(const std::string& batch_id);
  absl::StatusOr<kiln::v1::Batch> Cancel(const std::string& batch_id,
                                         const std::string& reason);
  absl::StatusOr<kiln::v1::Report> GetReport(const std::string& batch_id);

  // Calls `on_artifact` with each generated file and its content (with
  // `patches`, each landed job's patch instead, named "<job>.patch").
  absl::Status Fetch(const std::string& batch_id, const std::string& job_id,
                     const std::function<absl::Status(const kiln::v1::Artifact&,
                                                      const std::string&)>& on_artifact,
                     bool patches = false);

  // Streams the batch's events after `after_sequence` until its terminal
  // event (or, with `stop_at` > 0, until that sequence). A broken stream is
  // reopened after the last event seen, for up to `reconnect_for` (calling
  // `on_reconnect` with the error each time). CANCELLED "interrupted" after
  // Interrupt().
  absl::Status Watch(const std::string& batch_id, int64_t after_sequence, int64_t stop_at,
                     absl::Duration reconnect_for,
                     const std::function<void(const kiln::v1::Event&)>& on_event,
                     const std::function<void(const absl::Status&)>& on_reconnect);

  // Ends a running Watch from another thread (a signal handler's thread).
  void Interrupt();

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  explicit Client(Endpoint endpoint, std::shared_ptr<grpc::Channel> channel);
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout) const;
  // A failed call's status, reworded: who could not be reached, which token
  // was refused.
  absl::Status Explain(const grpc::Status& status) const;

  Endpoint endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kiln::v1::JobService::Stub> stub_;

  Mutex mu_;
  grpc::ClientContext* watching_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_CLIENT_H_
