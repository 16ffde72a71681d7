// The coordinator's gRPC server: JobService, WorkerService, SemaphoreService,
// BlobService and grpc.health.v1 over the core (coordinator.h).
//
// Threading: gRPC's callback API runs handlers on its own small thread pool,
// so 1,000 worker sessions cost no thread each. Every handler that touches
// coordinator state posts a closure to one event-loop thread, which runs the
// closures queued so far, then Pump() and Commit() (one synced write for the
// whole turn: group commit). Blob transfers and event reads go to the store
// directly from gRPC threads.
//
// Auth: with a token, every call but the health check must carry
// "authorization: Bearer <token>" (UNAUTHENTICATED otherwise). Listening
// beyond loopback without a token is refused at start. TLS (and mTLS with a
// client CA) is optional.
#ifndef KILN_COORDINATOR_SERVER_H_
#define KILN_COORDINATOR_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/store.h"
#include "llm/model_profile.h"

namespace kiln {

struct ServerOptions {
  // host:port; port 0 picks a free one (see CoordinatorServer::port()).
  std::string listen = "127.0.0.1:7070";
  // Bearer token clients and workers must present. Required unless the
  // address is loopback.
  std::string auth_token;
  // PEM files for TLS; with `tls_client_ca` clients need certificates too.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  // Largest blob accepted by WriteBlob.
  int64_t max_blob_bytes = int64_t{256} << 20;
};

class CoordinatorServer {
 public:
  // Opens the core over `store` and starts serving. None of the pointers is
  // owned. INVALID_ARGUMENT for a non-loopback address without a token;
  // UNAVAILABLE when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      Store* store, const Clock* clock, const ModelCatalog* models,
      CoordinatorOptions options, ServerOptions server);
  // Stops serving (Shutdown) and joins the loop.
  ~CoordinatorServer();

  // The bound port.
  int port() const;
  // Stops accepting calls, ends open streams, stops the loop. Idempotent.
  void Shutdown();
  // Runs `fn` on the event loop (followed by Pump and Commit). Thread-safe.
  void Post(std::function<void(Coordinator&)> fn);

  class Impl;

 private:
  explicit CoordinatorServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether `listen` (host:port) names a loopback address.
bool IsLoopback(const std::string& listen);

}  // namespace kiln

#endif  // KILN_COORDINATOR_SERVER_H_
