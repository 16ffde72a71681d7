// kiln_coordinator: owns all durable state (RocksDB), the scheduler, the
// cluster semaphores and the blob store; serves gRPC to clients and workers.
//
//   kiln_coordinator --state_dir=/var/lib/kiln --listen=0.0.0.0:7070
//   (with KILN_TOKEN set: workers and clients must present the same token)

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/binary.h"
#include "common/process.h"
#include "common/telemetry_flags.h"
#include "coordinator/semaphore.h"
#include "coordinator/server.h"
#include "coordinator/store.h"
#include "llm/model_profile.h"
#include "common/secret.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7070",
          "host:port to serve on; port 0 picks a free one (see --port_file)");
ABSL_FLAG(std::string, port_file, "", "write the bound port here once serving");
ABSL_FLAG(std::string, state_dir, ".kiln/coordinator",
          "directory of the RocksDB state (created if missing)");
ABSL_FLAG(std::string, token_env, "KILN_TOKEN",
          "environment variable holding the bearer token workers and clients "
          "must present; required when --listen is not loopback");
ABSL_FLAG(std::string, secrets_file, "",
          "NAME=value file consulted for --token_env when the variable is unset");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain (enables TLS)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA that client certificates must chain to (enables mTLS)");
ABSL_FLAG(std::string, permits, "compile=2",
          "permits per semaphore, e.g. compile=4,link=1");
ABSL_FLAG(int, default_permits, 2, "permits of semaphores not in --permits");
ABSL_FLAG(absl::Duration, permit_grace, absl::Seconds(5),
          "a permit lease past its TTL returns its permits only this much later");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(30),
          "a task lease not renewed for this long is requeued");
ABSL_FLAG(absl::Duration, heartbeat_interval, absl::Seconds(5),
          "how often workers must heartbeat");
ABSL_FLAG(std::string, models, "", "YAML file of extra or overriding model profiles");
ABSL_FLAG(double, time_scale, 1.0,
          "the providers are simulated this many times faster than real time "
          "(kiln_llmsim --time_scale): rate limits and cache TTLs are scaled to match");
ABSL_FLAG(int64_t, max_blob_mib, 256, "largest blob a client may upload, MiB");
ABSL_FLAG(int64_t, max_batch_tasks, 100000,
          "refuse a batch of more tasks than this (its matrix expanded); 0: no limit");
ABSL_FLAG(int64_t, min_free_mib, 256,
          "refuse submissions while the state directory's filesystem has less "
          "than this free, MiB; writes stop (reads go on) below a quarter of "
          "it, before the disk is full; 0: no checks");

int main(int argc, char** argv) {
  using namespace kiln;
  Binary bin("kiln_coordinator",
             "the Kiln coordinator.\n"
             "  kiln_coordinator --state_dir=DIR [--listen=HOST:PORT] [--permits=compile=2]",
             argc, argv);

  absl::StatusOr<ModelCatalog> catalog =
      ModelCatalog::BuiltinWithFile(absl::GetFlag(FLAGS_models));
  if (!catalog.ok()) return bin.Fail(catalog.status());
  const double time_scale = absl::GetFlag(FLAGS_time_scale);
  if (!(time_scale > 0)) return bin.Fail("--time_scale must be positive");
  const ModelCatalog& models = *catalog;

  CoordinatorOptions options;
  options.lease_ttl = absl::GetFlag(FLAGS_lease_ttl);
  options.scheduler.time_scale = time_scale;
  options.heartbeat_interval = absl::GetFlag(FLAGS_heartbeat_interval);
  if (options.lease_ttl <= options.heartbeat_interval) {
    return bin.Fail("--lease_ttl must be longer than --heartbeat_interval");
  }
  options.semaphores.default_permits = absl::GetFlag(FLAGS_default_permits);
  absl::StatusOr<std::map<std::string, int>> permits =
      ParsePermits(absl::GetFlag(FLAGS_permits));
  if (!permits.ok()) return bin.Fail(absl::StrCat("--permits: ", permits.status().message()));
  options.semaphores.permits = *permits;
  options.semaphores.expiry_grace = absl::GetFlag(FLAGS_permit_grace);

  ServerOptions server;
  server.listen = absl::GetFlag(FLAGS_listen);
  server.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  server.tls_key = absl::GetFlag(FLAGS_tls_key);
  server.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  server.max_blob_bytes = absl::GetFlag(FLAGS_max_blob_mib) << 20;
  server.auth_token = bin.Token(absl::GetFlag(FLAGS_token_env), absl::GetFlag(FLAGS_secrets_file));
  if (absl::Status s = bin.StartTelemetry(); !s.ok()) return bin.Fail(s);
  options.tracer = bin.telemetry().NewTracer("kiln-coordinator");

  const int64_t min_free_mib = absl::GetFlag(FLAGS_min_free_mib);
  if (min_free_mib < 0) return bin.Fail("--min_free_mib must not be negative");
  options.min_free_bytes = static_cast<uint64_t>(min_free_mib) << 20;
  options.max_batch_tasks = absl::GetFlag(FLAGS_max_batch_tasks);
  StoreOptions store_options;
  store_options.reserve_bytes = options.min_free_bytes / 4;
  auto store = Store::Open(absl::GetFlag(FLAGS_state_dir), store_options);
  if (!store.ok()) return bin.Fail(store.status());
  if (absl::Status full = (*store)->sticky_error(); !full.ok()) {
    std::fprintf(stderr, "kiln_coordinator: %s\n",
                 std::string(full.message()).c_str());
  }
  auto srv = CoordinatorServer::Start(store->get(), RealClock(), &models,
                                      options, server);
  if (!srv.ok()) return bin.Fail(srv.status());
  if (const std::string pf = absl::GetFlag(FLAGS_port_file); !pf.empty()) {
    (void)WriteFileAtomically(pf, absl::StrCat((*srv)->port(), "\n"));
  }
  std::printf("kiln_coordinator serving on port %d (state in %s%s, %s)\n",
              (*srv)->port(), absl::GetFlag(FLAGS_state_dir).c_str(),
              (*store)->read_only() ? ", READ-ONLY" : "",
              server.auth_token.empty() ? "no token" : "token required");
  std::fflush(stdout);
  bin.WaitForStop();
  (*srv)->Shutdown();
  return 0;  // ~Binary flushes the last turns' spans
}
