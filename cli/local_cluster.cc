#include "cli/local_cluster.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/process.h"
#include "coordinator/semaphore.h"

namespace kiln {
namespace cli {
namespace {

namespace fs = std::filesystem;

std::string RandomToken() {
  std::ifstream in("/dev/urandom", std::ios::binary);
  unsigned char bytes[16] = {0};
  in.read(reinterpret_cast<char*>(bytes), sizeof bytes);
  std::string out;
  for (unsigned char b : bytes) absl::StrAppend(&out, absl::Hex(b, absl::kZeroPad2));
  return out;
}

}  // namespace

absl::StatusOr<Endpoint> FindLocalEndpoint(const std::string& state_dir) {
  const std::string path = state_dir + "/endpoint";
  std::ifstream in(path);
  int port = 0;
  std::string token;
  pid_t pid = 0;
  if (!(in >> port >> token >> pid) || port <= 0) {
    return absl::NotFoundError(absl::StrCat("no embedded coordinator serves ", state_dir));
  }
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) {
    return absl::NotFoundError(absl::StrCat("the embedded coordinator of ", state_dir,
                                            " (pid ", pid, ") is gone"));
  }
  Endpoint e;
  e.target = absl::StrCat("127.0.0.1:", port);
  e.token = token;
  e.token_env = absl::StrCat(path, " (token)");
  return e;
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Start(LocalClusterOptions options,
                                                                 const ModelCatalog* models) {
  std::unique_ptr<LocalCluster> c(new LocalCluster());
  std::error_code ec;
  fs::create_directories(options.state_dir, ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat("state_dir ", options.state_dir,
                                                    " cannot be created: ", ec.message()));
  }
  CoordinatorOptions co;
  // Short heartbeats: a worker that stops is noticed within seconds.
  co.heartbeat_interval = absl::Seconds(1);
  co.lease_ttl = absl::Seconds(10);
  absl::StatusOr<std::map<std::string, int>> permits = ParsePermits(options.permits);
  if (!permits.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("permits: ", permits.status().message()));
  }
  co.semaphores.permits = *permits;
  co.semaphores.default_ttl = absl::Seconds(10);
  Tracer* worker_tracer = nullptr;
  if (options.telemetry != nullptr) {
    co.tracer = options.telemetry->NewTracer("kiln-coordinator");
    worker_tracer = options.telemetry->NewTracer("kiln-worker");
  }

  co.min_free_bytes = static_cast<uint64_t>(options.min_free_mib) << 20;
  co.max_batch_tasks = options.max_batch_tasks;
  StoreOptions store_options;
  store_options.reserve_bytes = co.min_free_bytes / 4;
  auto store = Store::Open(options.state_dir + "/coordinator", store_options);
  if (!store.ok()) {
    if (absl::IsUnavailable(store.status())) {
      absl::StatusOr<Endpoint> other = FindLocalEndpoint(options.state_dir);
      return absl::UnavailableError(absl::StrCat(
          "another kiln process is using ", options.state_dir,
          other.ok() ? absl::StrCat(" (serving ", other->target, ")") : "",
          "; wait for it, or give this run its own --state_dir"));
    }
    return store.status();
  }
  c->store_ = std::move(*store);
  ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.auth_token = RandomToken();
  // A sim provider runs at its time scale; the coordinator paces in real time.
  const double scale =
      options.provider.kind == "sim" ? options.provider.sim.time_scale : 1.0;
  co.scheduler.time_scale = scale;
  auto server = CoordinatorServer::Start(c->store_.get(), RealClock(), models, co, so);
  if (!server.ok()) return server.status();
  c->server_ = std::move(*server);
  c->endpoint_.target = absl::StrCat("127.0.0.1:", c->server_->port());
  c->endpoint_.token = so.auth_token;
  c->endpoint_.token_env = "the embedded coordinator's token";

  // Publish the endpoint for `kiln status` and friends in other terminals.
  c->endpoint_file_ = options.state_dir + "/endpoint";
  if (absl::Status s = WriteFileAtomically(
          c->endpoint_file_,
          absl::StrCat(c->server_->port(), " ", so.auth_token, " ", ::getpid(), "\n"), 0600);
      !s.ok()) {
    c->Stop();
    return s;
  }

  if (options.workers > 0) {
    auto provider = MakeProvider(options.provider, models);
    if (!provider.ok()) return provider.status();
    c->provider_ = std::move(*provider);
  }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i <= options.workers; ++i) {
    WorkerOptions wo;
    wo.coordinator = c->endpoint_.target;
    wo.token = so.auth_token;
    wo.worker_id = absl::StrCat("local-", i);
    wo.llm_slots = options.llm_slots;
    wo.provider = options.provider;
    wo.shared_provider = c->provider_.get();
    wo.sandbox = options.sandbox;
    wo.permit_ttl = absl::Seconds(10);
    wo.runner.tracer = worker_tracer;
    wo.runner.work_dir = absl::StrCat(options.state_dir, "/workers/", wo.worker_id);
    wo.runner.build_slots = options.build_slots > 0
                                ? options.build_slots
                                : std::max(1, cores / std::max(1, options.workers));
    auto worker = Worker::Start(std::move(wo), models);
    if (!worker.ok()) {
      c->Stop();
      return worker.status();
    }
    c->workers_.push_back(std::move(*worker));
  }
  c->options_ = std::move(options);
  return c;
}

LocalCluster::~LocalCluster() { Stop(); }

void LocalCluster::Stop() {
  for (auto& w : workers_) w->Stop();
  workers_.clear();
  if (server_) {
    server_->Shutdown();
    server_.reset();
    std::remove(endpoint_file_.c_str());
  }
  provider_.reset();
  store_.reset();
}

std::string LocalCluster::Describe() const {
  if (options_.workers == 0) {
    return absl::StrCat("embedded coordinator (no workers), state in ", options_.state_dir);
  }
  return absl::StrCat("embedded: ", options_.workers, " workers x ", options_.llm_slots,
                      " LLM slots, provider ", options_.provider.kind, ", sandbox ",
                      options_.sandbox, ", permits ", options_.permits, ", state in ",
                      options_.state_dir);
}

}  // namespace cli
}  // namespace kiln
