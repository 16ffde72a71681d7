// A worker's session with the coordinator (DESIGN.md "Worker", the Remote
// Workers API's bot session): register capabilities, receive assignments,
// heartbeat the running leases, report progress and results; on a broken
// stream reconnect with jittered backoff, report the leases still running
// (Register.in_flight) and re-send results that were never acknowledged.
//
// Thread-safe. A TaskRunner does the work; the session owns the stream.
#ifndef KILN_WORKER_SESSION_H_
#define KILN_WORKER_SESSION_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "common/mutex.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/blob_service.grpc.pb.h"
#include "kiln/v1/worker_service.grpc.pb.h"

namespace kiln {

// What a running attempt may tell or ask its coordinator. Thread-safe.
// WorkerSession implements it over gRPC; runner tests use a fake.
class WorkerPort {
 public:
  virtual ~WorkerPort() = default;
  // The attempt's first token arrived (releases its cache group).
  virtual void FirstToken(const kiln::v1::Lease& lease) = 0;
  // The attempt needs no more LLM requests: its LLM slot is free.
  virtual void LlmDone(const kiln::v1::Lease& lease) = 0;
  // What the attempt has spent so far (Progress: lease, usage, cost,
  // request_open), so a lost attempt is billed. Best effort.
  virtual void Spent(const kiln::v1::Progress& progress) = 0;
  // The attempt ended. Delivered at least once.
  virtual void Report(kiln::v1::TaskResult result) = 0;
  // Content-addressed blob transfer.
  virtual absl::StatusOr<kiln::v1::Digest> UploadBlob(const std::string& bytes) = 0;
  virtual absl::StatusOr<std::string> DownloadBlob(const kiln::v1::Digest& digest) = 0;
  // The id the coordinator knows this worker by.
  virtual std::string worker_id() const = 0;
};

// Runs attempts. Implementations must not block in Run: they start the work
// and call WorkerPort::Report (from any thread) when it ends.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  virtual void Run(const kiln::v1::Assignment& assignment, WorkerPort* port) = 0;
  // Stop an attempt (the coordinator cancelled it); its result is dropped.
  virtual void Cancel(const kiln::v1::Lease& lease) = 0;
};

struct WorkerSessionOptions {
  // host:port of the coordinator.
  std::string target = "127.0.0.1:7070";
  // Bearer token; empty: none.
  std::string token;
  // Stable id across reconnects; empty: the coordinator assigns one.
  std::string worker_id;
  std::string hostname;
  kiln::v1::Capabilities capabilities;
  // Reconnect backoff bounds (jittered exponential).
  absl::Duration reconnect_min = absl::Milliseconds(50);
  absl::Duration reconnect_max = absl::Seconds(2);
  // Deadline of blob RPCs.
  absl::Duration rpc_timeout = absl::Seconds(30);
  // Called once, on the session's thread, when the coordinator refuses the
  // worker's credentials (UNAUTHENTICATED, PERMISSION_DENIED): the session
  // stops reconnecting, since trying again cannot help.
  std::function<void(const absl::Status&)> on_refused;
};

class WorkerSession : public WorkerPort {
 public:
  // `runner` is not owned and must outlive the session.
  WorkerSession(WorkerSessionOptions options, TaskRunner* runner);
  ~WorkerSession();
  WorkerSession(const WorkerSession&) = delete;
  WorkerSession& operator=(const WorkerSession&) = delete;

  // Connects (and keeps reconnecting) in the background.
  void Start();
  // Closes the stream and joins the threads. Running attempts are not
  // waited for; their results are dropped.
  void Stop();

  void FirstToken(const kiln::v1::Lease& lease) override;
  void LlmDone(const kiln::v1::Lease& lease) override;
  void Spent(const kiln::v1::Progress& progress) override;
  // Sent now, and again after a reconnect until the coordinator
  // acknowledges it.
  void Report(kiln::v1::TaskResult result) override;

  // FindMissingBlobs + WriteBlob; ReadBlob.
  absl::StatusOr<kiln::v1::Digest> UploadBlob(const std::string& bytes) override;
  absl::StatusOr<std::string> DownloadBlob(const kiln::v1::Digest& digest) override;

  // The id the coordinator knows this worker by (after registration).
  std::string worker_id() const override;

  // The channel to the coordinator and its call credentials, for the other
  // services a runner calls (the cluster semaphore).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  void AddAuth(grpc::ClientContext* ctx) const;
  // Results acknowledged as accepted / rejected so far.
  int64_t accepted() const { return accepted_.load(); }
  int64_t rejected() const { return rejected_.load(); }
  // Until `n` results were acknowledged (accepted or rejected), at most
  // `timeout`; whether they were. Thread-safe.
  bool WaitAcknowledged(int64_t n, absl::Duration timeout);
  // Sessions opened (1 + reconnects).
  int64_t sessions() const { return sessions_.load(); }

 private:
  struct Active {
    kiln::v1::Lease lease;
    bool done = false;
    kiln::v1::TaskResult result;  // when done, until acknowledged
    // The latest spend reported (Spent), sent again after a reconnect: a
    // restarted coordinator then still bills the attempt if it is lost.
    absl::optional<kiln::v1::Progress> spent;
  };
  using Stream = grpc::ClientReaderWriter<kiln::v1::WorkerMessage,
                                          kiln::v1::CoordinatorMessage>;

  void Loop();
  void Heartbeats();
  void Handle(const kiln::v1::CoordinatorMessage& m);
  bool Write(const kiln::v1::WorkerMessage& m);

  const WorkerSessionOptions options_;
  TaskRunner* const runner_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kiln::v1::WorkerService::Stub> stub_;
  std::unique_ptr<kiln::v1::BlobService::Stub> blobs_;

  mutable Mutex mu_;
  CondVar cv_;
  CondVar acks_cv_;  // a result was acknowledged
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  absl::Duration heartbeat_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
  std::map<std::string, Active> active_ ABSL_GUARDED_BY(mu_);  // by task
  grpc::ClientContext* ctx_ ABSL_GUARDED_BY(mu_) = nullptr;
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool registered_ ABSL_GUARDED_BY(mu_) = false;
  Mutex write_mu_;  // one writer at a time on the stream
  std::thread loop_;
  std::thread heartbeats_;
  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> rejected_{0};
  std::atomic<int64_t> sessions_{0};
};

}  // namespace kiln

#endif  // KILN_WORKER_SESSION_H_
