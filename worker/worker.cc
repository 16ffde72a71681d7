#include "worker/worker.h"

#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/process.h"

namespace kiln {

// The session needs a runner and the runner needs the session's channel:
// the session gets this forwarder, bound once the runner exists.
class Worker::Forward : public TaskRunner {
 public:
  TaskRunner* to = nullptr;
  void Run(const kiln::v1::Assignment& a, WorkerPort* p) override { to->Run(a, p); }
  void Cancel(const kiln::v1::Lease& l) override { to->Cancel(l); }
};

absl::StatusOr<std::unique_ptr<Worker>> Worker::Start(WorkerOptions options,
                                                      const ModelCatalog* models) {
  if (options.llm_slots <= 0) {
    return absl::InvalidArgumentError("llm_slots must be positive");
  }
  if (options.runner.build_slots <= 0) {
    options.runner.build_slots =
        static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  std::unique_ptr<Worker> w(new Worker());
  if (options.shared_provider != nullptr) {
    w->provider_ = options.shared_provider;
  } else {
    absl::StatusOr<std::unique_ptr<Provider>> provider = MakeProvider(options.provider, models);
    if (!provider.ok()) return provider.status();
    w->owned_provider_ = std::move(*provider);
    w->provider_ = w->owned_provider_.get();
  }
  absl::StatusOr<std::unique_ptr<Sandbox>> sandbox = MakeSandbox(options.sandbox);
  if (!sandbox.ok()) return sandbox.status();
  w->sandbox_ = std::move(*sandbox);

  WorkerSessionOptions so;
  so.target = options.coordinator;
  so.token = options.token;
  so.worker_id = options.worker_id;
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  so.hostname = host;
  so.capabilities.set_llm_slots(options.llm_slots);
  so.capabilities.set_build_slots(options.runner.build_slots);
  kiln::v1::ProviderModels* pm = so.capabilities.add_providers();
  pm->set_provider(w->provider_->name());
  if (!options.serve_models.empty()) {
    for (const auto& m : options.serve_models) pm->add_models(m);
  } else if (w->provider_->name() == "sim") {
    for (const auto& name : models->Names()) pm->add_models(name);
  }
  for (const char* tool : {"g++", "gcc", "clang++", "node", "python3", "go", "make"}) {
    if (::access(absl::StrCat("/usr/bin/", tool).c_str(), X_OK) == 0) {
      so.capabilities.add_toolchains(tool);
    }
  }
  Worker* self = w.get();
  so.on_refused = [self](const absl::Status& why) {
    {
      MutexLock l(&self->mu_);
      self->refused_ = why;
    }
    RequestStop();
  };
  w->forward_ = std::make_unique<Forward>();
  w->session_ = std::make_unique<WorkerSession>(so, w->forward_.get());
  GrpcPermitsOptions po;
  po.ttl = options.permit_ttl;
  po.margin = options.permit_margin;
  WorkerSession* session = w->session_.get();
  w->permits_ = std::make_unique<GrpcPermits>(
      session->channel(), [session](grpc::ClientContext* ctx) { session->AddAuth(ctx); }, po);
  w->runner_ = std::make_unique<Runner>(options.runner, w->provider_, models,
                                        w->sandbox_.get(), w->permits_.get());
  w->forward_->to = w->runner_.get();
  w->options_ = std::move(options);
  w->session_->Start();
  return w;
}

Worker::~Worker() { Stop(); }

void Worker::Stop() {
  if (session_) session_->Stop();
  if (runner_) runner_->Stop();
}

absl::Status Worker::refused() const {
  MutexLock l(&mu_);
  return refused_;
}

std::string Worker::Describe() const {
  return absl::StrCat("serving ", options_.coordinator, "; provider ", provider_->name(),
                      "; sandbox ", sandbox_->name(), "; ", options_.llm_slots,
                      " LLM slots, ", options_.runner.build_slots, " build slots; work dir ",
                      options_.runner.work_dir);
}

}  // namespace kiln
