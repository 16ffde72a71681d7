#include "cli/context.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "common/secret.h"

namespace kiln {
namespace cli {

namespace fs = std::filesystem;

int FailTo(std::ostream& err, const absl::Status& status) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    err << "kiln: " << line << "\n";
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
    case absl::StatusCode::kResourceExhausted:
      return kExitRefused;
    default:
      return kExitCoordinator;
  }
}

absl::StatusOr<ModelCatalog> Models(const Ctx& c) {
  absl::StatusOr<ModelCatalog> m = ModelCatalog::BuiltinWithFile(c.settings.Get("models"));
  if (!m.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("models: ", m.status().message()));
  }
  return m;
}

int ExitFor(kiln::v1::BatchState s) {
  return s == kiln::v1::BATCH_STATE_SUCCEEDED ? 0 : kExitFailed;
}

// Where to reach a coordinator: --coordinator, else the embedded one of
// another kiln process serving --state_dir, else (when `offline` is given)
// the state in --state_dir opened here, with no workers.
absl::StatusOr<std::unique_ptr<Client>> Connect(const Ctx& c,
                                                std::unique_ptr<LocalCluster>* offline,
                                                const ModelCatalog* models) {
  const std::string target = c.settings.Get("coordinator");
  Endpoint e;
  if (!target.empty()) {
    e.target = target;
    e.token_env = c.settings.Get("token_env");
    if (auto t = LoadSecret(e.token_env, c.settings.Get("secrets_file")); t.ok()) {
      e.token = t->Reveal();
    }
    if (const std::string ca = c.settings.Get("tls_ca"); !ca.empty()) {
      std::ifstream in(ca);
      if (!in) return absl::InvalidArgumentError(absl::StrCat("tls_ca: cannot read ", ca));
      std::stringstream pem;
      pem << in.rdbuf();
      e.tls_ca_pem = pem.str();
    }
    return Client::Connect(e, absl::Seconds(5));
  }
  const std::string state_dir = c.settings.Get("state_dir");
  if (absl::StatusOr<Endpoint> local = FindLocalEndpoint(state_dir); local.ok()) {
    if (auto client = Client::Connect(*local, absl::Seconds(5)); client.ok()) return client;
  }
  if (offline != nullptr && fs::exists(fs::path(state_dir) / "coordinator")) {
    LocalClusterOptions o;
    o.state_dir = state_dir;
    o.workers = 0;
    o.permits = c.settings.Get("permits");
    o.min_free_mib = c.settings.Int("min_free_mib");
    absl::StatusOr<std::unique_ptr<LocalCluster>> cluster = LocalCluster::Start(o, models);
    if (!cluster.ok()) return cluster.status();
    *offline = std::move(*cluster);
    return Client::Connect((*offline)->endpoint(), absl::Seconds(10));
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no coordinator: pass --coordinator=HOST:PORT (or set KILN_COORDINATOR), or run "
      "`kiln run FILE.yaml` first to use the embedded one (state in ",
      state_dir, ")"));
}

// The batch named on the command line, or the newest one.
absl::StatusOr<std::string> BatchArg(const Ctx& c, Client* client) {
  if (!c.args.positional.empty()) return c.args.positional[0];
  kiln::v1::ListBatchesRequest request;
  request.set_page_size(1);
  absl::StatusOr<kiln::v1::ListBatchesResponse> list = client->ListBatches(request);
  if (!list.ok()) return list.status();
  if (list->batches().empty()) return absl::NotFoundError("there are no batches yet");
  return list->batches(0).id();
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

}  // namespace cli
}  // namespace kiln
