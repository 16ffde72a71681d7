// What every kiln command runs with: its parsed arguments and settings, the
// streams it writes to (never std::cout or std::cerr directly, so tests and
// embedders capture them), telemetry, and the shared steps of reaching a
// coordinator.
//
// Exit codes: 0 done (a batch SUCCEEDED); 1 a batch FAILED or was
// CANCELLED; 2 bad usage or input; 3 the coordinator could not be reached or
// failed the call; 130 interrupted.
#ifndef KILN_CLI_CONTEXT_H_
#define KILN_CLI_CONTEXT_H_

#include <iostream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/client.h"
#include "cli/flags.h"
#include "cli/local_cluster.h"
#include "cli/settings.h"
#include "common/telemetry.h"
#include "common/tracer.h"
#include "google/protobuf/message.h"
#include "kiln/v1/batch.pb.h"
#include "llm/model_profile.h"

namespace kiln {
namespace cli {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCoordinator = 3;
// The coordinator cannot take the work now (its state disk is full).
inline constexpr int kExitRefused = 4;
inline constexpr int kExitInterrupted = 130;

struct Ctx {
  const Command* command = nullptr;
  Args args;
  Settings settings;
  std::ostream& out;
  std::ostream& err;
  // --otlp_endpoint's exporter (off without one) and the CLI's tracer.
  Telemetry* telemetry = nullptr;
  Tracer* tracer = nullptr;
};

// Prints `status` as "kiln: <line>" lines to `err`; returns its exit code
// (2 for bad input, 3 otherwise).
int FailTo(std::ostream& err, const absl::Status& status);
inline int Fail(const Ctx& c, const absl::Status& status) { return FailTo(c.err, status); }

// 0 for a SUCCEEDED batch, else 1.
int ExitFor(kiln::v1::BatchState state);

// The built-in profiles with the `models` setting's file; INVALID_ARGUMENT
// names the setting.
absl::StatusOr<ModelCatalog> Models(const Ctx& c);

// Where to reach a coordinator: --coordinator, else the embedded one of
// another kiln process serving --state_dir, else (when `offline` is given)
// the state in --state_dir opened here, with no workers (set in *offline).
// FAILED_PRECONDITION when there is none.
absl::StatusOr<std::unique_ptr<Client>> Connect(const Ctx& c,
                                                std::unique_ptr<LocalCluster>* offline,
                                                const ModelCatalog* models);

// The batch named on the command line, or the newest one (NOT_FOUND when
// there is none).
absl::StatusOr<std::string> BatchArg(const Ctx& c, Client* client);

// The API's message as indented JSON.
std::string Json(const google::protobuf::Message& m);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_CONTEXT_H_
