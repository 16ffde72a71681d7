// The embedded default: a coordinator and N workers in this process, on
// loopback, with their state under one directory (.kiln/ by default):
//
//   <state_dir>/coordinator/   the coordinator's RocksDB state
//   <state_dir>/workers/local-<i>/   each worker's mirrors and worktrees
//   <state_dir>/endpoint       "port token pid" while a process serves it
//                              (mode 0600), so other kiln commands attach
//
// Workers keep their ids (local-1, local-2, ...) across runs, so when a
// stopped run starts again the coordinator requeues their old leases at once
// instead of waiting for them to expire. The workers share one provider, as
// one account shares a prompt cache and rate limits.
#ifndef KILN_CLI_LOCAL_CLUSTER_H_
#define KILN_CLI_LOCAL_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/client.h"
#include "common/telemetry.h"
#include "coordinator/server.h"
#include "coordinator/store.h"
#include "llm/model_profile.h"
#include "llm/provider.h"
#include "llm/provider_factory.h"
#include "worker/worker.h"

namespace kiln {
namespace cli {

struct LocalClusterOptions {
  std::string state_dir = ".kiln";
  // 0: the coordinator alone (for commands that only read state).
  int workers = 2;
  int llm_slots = 64;
  // 0: cores / workers, at least 1.
  int build_slots = 0;
  // "compile=2,link=1"
  std::string permits = "compile=2";
  // Submissions are refused below this much free space on the state
  // directory's filesystem (CoordinatorOptions::min_free_bytes); 0: none.
  int64_t min_free_mib = 256;
  // The largest batch, in tasks, the coordinator admits.
  int64_t max_batch_tasks = 100000;
  std::string sandbox = "bwrap";
  ProviderConfig provider;
  // The CLI's tracing (not owned; null: none): the coordinator's and the
  // workers' spans go through it as services kiln-coordinator and
  // kiln-worker.
  Telemetry* telemetry = nullptr;
};

class LocalCluster {
 public:
  // Opens the state and starts serving on 127.0.0.1 with a fresh random
  // token, then the workers. UNAVAILABLE naming the other process when the
  // state is in use; INVALID_ARGUMENT for bad permits; the worker's error
  // (e.g. no bubblewrap: use --sandbox=none) otherwise. `models` is not
  // owned.
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Start(LocalClusterOptions options,
                                                             const ModelCatalog* models);
  ~LocalCluster();

  // Where clients connect (loopback port and the token).
  const Endpoint& endpoint() const { return endpoint_; }
  // "embedded: 2 workers x 64 LLM slots, provider sim, sandbox bwrap, state in .kiln"
  std::string Describe() const;
  // Stops the workers (their running attempts are dropped and rerun on the
  // next start), then the server. Idempotent.
  void Stop();

 private:
  LocalCluster() = default;

  LocalClusterOptions options_;
  Endpoint endpoint_;
  std::string endpoint_file_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<CoordinatorServer> server_;
  std::unique_ptr<Provider> provider_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

// The endpoint of a live embedded coordinator serving `state_dir` (another
// kiln process), or NOT_FOUND when none is.
absl::StatusOr<Endpoint> FindLocalEndpoint(const std::string& state_dir);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_LOCAL_CLUSTER_H_
