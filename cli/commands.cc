#include "cli/commands.h"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/client.h"
#include "cli/flags.h"
#include "cli/format.h"
#include "cli/html_report.h"
#include "cli/local_cluster.h"
#include "cli/plan.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/settings.h"
#include "common/clock.h"
#include "common/digest.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/process.h"
#include "common/repo_file.h"
#include "common/states.h"
#include "common/telemetry.h"
#include "common/tracer.h"
#include "google/protobuf/util/json_util.h"
#include "llm/model_profile.h"
#include "llm/secret.h"
#include "spec/dag.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {
namespace {

namespace fs = std::filesystem;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCoordinator = 3;
constexpr int kExitInterrupted = 130;

// ---------------------------------------------------------------------------
// Signals: SIGINT and SIGTERM are blocked in every thread and taken by one
// thread with sigwait, so handlers may lock and call into gRPC. The first
// signal runs the current callback; the second exits at once.

class Signals {
 public:
  static Signals& Get() {
    static Signals* s = new Signals();
    return *s;
  }

  void OnInterrupt(std::function<void()> fn) {
    MutexLock l(&mu_);
    fn_ = std::move(fn);
    if (count_ > 0 && fn_) fn_();
  }
  bool interrupted() const { return count_.load() > 0; }

 private:
  Signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([this, set] {
      while (true) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (count_.fetch_add(1) > 0) {
          std::fprintf(stderr, "\nkiln: interrupted again; exiting now\n");
          std::_Exit(kExitInterrupted);
        }
        std::fprintf(stderr, "\nkiln: stopping (Ctrl-C again to exit at once)\n");
        MutexLock l(&mu_);
        if (fn_) fn_();
      }
    }).detach();
  }

  Mutex mu_;
  std::function<void()> fn_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> count_{0};
};

// ---------------------------------------------------------------------------
// Commands.

struct Ctx {
  const Command* command = nullptr;
  Args args;
  Settings settings;
  std::ostream& out = std::cout;
  std::ostream& err = std::cerr;
  // --otlp_endpoint's exporter (off without one) and the CLI's tracer.
  Telemetry* telemetry = nullptr;
  Tracer* tracer = nullptr;
};

int Fail(const absl::Status& status) {
  for (absl::string_view line : absl::StrSplit(status.message(), '\n')) {
    std::cerr << "kiln: " << line << "\n";
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return kExitUsage;
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

// A spec file, parsed, with relative repo paths made absolute against the
// file's directory (so the coordinator and workers need not share our cwd).
absl::StatusOr<ParsedSpec> LoadSpec(const std::string& path) {
  absl::StatusOr<ParsedSpec> parsed = ReadSpecFile(path);
  if (!parsed.ok()) {
    if (absl::IsNotFound(parsed.status())) {
      return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    }
    return parsed.status();
  }
  // A job file's batch is named after its job.
  if (parsed->batch.name().empty() && parsed->single_job && parsed->batch.jobs_size() == 1) {
    parsed->batch.set_name(parsed->batch.jobs(0).name());
  }
  const fs::path base = fs::absolute(fs::path(path)).parent_path();
  auto resolve = [&](kiln::v1::RepoSpec* repo) {
    if (repo->source_case() == kiln::v1::RepoSpec::kPath && !repo->path().empty() &&
        fs::path(repo->path()).is_relative()) {
      repo->set_path((base / repo->path()).lexically_normal().string());
    }
  };
  for (auto& job : *parsed->batch.mutable_jobs()) resolve(job.mutable_repo());
  if (parsed->batch.has_matrix()) {
    for (auto& r : *parsed->batch.mutable_matrix()->mutable_repos()) resolve(r.mutable_repo());
  }
  return parsed;
}

absl::Status Validate(const ParsedSpec& spec, const ModelCatalog& models) {
  ValidateOptions vo;
  vo.single_job = spec.single_job;
  vo.file = spec.file;
  return ProblemsToStatus(ValidateBatch(spec.batch, models, spec.locations, vo));
}

kiln::v1::SubmitBatchRequest SubmitRequest(const ParsedSpec& spec, const std::string& id) {
  kiln::v1::SubmitBatchRequest request;
  *request.mutable_spec() = spec.batch;
  request.set_request_id(id);
  for (const auto& [field, loc] : spec.locations) (*request.mutable_locations())[field] = loc;
  return request;
}

std::string NewRequestId() {
  static IdGenerator* ids = new IdGenerator(RealClock());
  return ids->Next("req");
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

std::string JobDirName(const kiln::v1::Batch& batch, const std::string& job_id) {
  for (const auto& j : batch.jobs()) {
    if (j.id() == job_id) return j.spec().name();
  }
  return job_id;
}

// Writes the batch's files under `out`/<job name>/. Returns files per job.
absl::StatusOr<std::map<std::string, int>> FetchTo(Client* client,
                                                   const kiln::v1::Batch& batch,
                                                   const std::string& job_id,
                                                   const std::string& out) {
  std::map<std::string, int> written;
  absl::Status s = client->Fetch(
      batch.id(), job_id,
      [&](const kiln::v1::Artifact& a, const std::string& content) -> absl::Status {
        const std::string dir = (fs::path(out) / JobDirName(batch, a.job_id())).string();
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
          return absl::PermissionDeniedError(
              absl::StrCat("out: cannot create ", dir, ": ", ec.message()));
        }
        absl::Status w = WriteRepoFile(dir, a.path(), content);
        if (!w.ok()) return w;
        written[dir]++;
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return written;
}

std::pair<int, int> TerminalSize() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {100, 30};
}

// Follows a batch with live progress until it ends or the user interrupts.
// Returns the final batch (FULL view); CANCELLED "interrupted" on Ctrl-C.
absl::StatusOr<kiln::v1::Batch> Follow(const Ctx& c, Client* client,
                                       const std::string& batch_id) {
  absl::StatusOr<kiln::v1::Batch> batch = client->GetBatch(batch_id, kiln::v1::BATCH_VIEW_FULL);
  if (!batch.ok()) return batch.status();
  Mutex mu;
  BatchProgress progress;
  progress.Reset(*batch);
  std::unique_ptr<ProgressPrinter> printer;
  if (::isatty(STDOUT_FILENO) && !c.args.Flag("plain")) {
    auto [w, h] = TerminalSize();
    printer = MakeTerminalPrinter(std::cout, w, std::min(h, 40));
  } else {
    printer = MakePlainPrinter(std::cout);
  }
  std::atomic<bool> done{false};
  std::thread ticker([&] {
    while (!done.load()) {
      {
        MutexLock l(&mu);
        printer->Tick(progress, absl::Now());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  Signals::Get().OnInterrupt([client] { client->Interrupt(); });
  absl::Status s = client->Watch(
      batch_id, 0, 0, absl::Minutes(2),
      [&](const kiln::v1::Event& e) {
        MutexLock l(&mu);
        progress.Apply(e);
        printer->OnEvent(e, progress);
      },
      [&](const absl::Status& why) {
        MutexLock l(&mu);
        std::cout << "kiln: lost the event stream (" << why.message() << "); reconnecting\n";
      });
  done = true;
  ticker.join();
  {
    MutexLock l(&mu);
    printer->Finish(progress);
  }
  Signals::Get().OnInterrupt(nullptr);
  if (!s.ok()) return s;
  return client->GetBatch(batch_id, kiln::v1::BATCH_VIEW_FULL);
}

absl::Status PrintReport(Client* client, const kiln::v1::Batch& batch, double time_scale,
                         std::ostream& out) {
  absl::StatusOr<kiln::v1::Report> report = client->GetReport(batch.id());
  if (!report.ok()) return report.status();
  out << "\n" << FormatReport(*report, batch, time_scale);
  return absl::OkStatus();
}

int ExitFor(kiln::v1::BatchState s) {
  return s == kiln::v1::BATCH_STATE_SUCCEEDED ? 0 : kExitFailed;
}

// Remembers which batch a spec file became in the embedded state, so that
// running the same file again resumes it.
struct RunRecord {
  std::string digest;      // of the resolved spec
  std::string request_id;  // SubmitBatch idempotency key
  std::string batch_id;    // once accepted

  static std::string PathFor(const std::string& state_dir, const std::string& spec_file) {
    return absl::StrCat(state_dir, "/runs/",
                        Sha256Hex(fs::absolute(spec_file).lexically_normal().string()).substr(0, 24));
  }
  static RunRecord Load(const std::string& path) {
    RunRecord r;
    std::ifstream in(path);
    std::getline(in, r.digest);
    std::getline(in, r.request_id);
    std::getline(in, r.batch_id);
    return r;
  }
  absl::Status Save(const std::string& path) const {
    std::error_code ec;
    fs::create_directories(fs::path(path).parent_path(), ec);
    return WriteFileAtomically(path, absl::StrCat(digest, "\n", request_id, "\n", batch_id, "\n"));
  }
};

// Submits `spec` to the embedded coordinator (under the span `trace`), or
// finds the batch an earlier run of the same file left unfinished (it keeps
// the trace it started with).
absl::StatusOr<std::string> SubmitOrResume(const Ctx& c, Client* client, const ParsedSpec& spec,
                                           const std::string& file, const TraceContext& trace) {
  const std::string record_path = RunRecord::PathFor(c.settings.Get("state_dir"), file);
  RunRecord record = RunRecord::Load(record_path);
  const std::string digest = Sha256Hex(spec.batch.SerializeAsString());
  if (!record.batch_id.empty()) {
    absl::StatusOr<kiln::v1::Batch> old =
        client->GetBatch(record.batch_id, kiln::v1::BATCH_VIEW_BASIC);
    if (old.ok() && !IsTerminal(old->state())) {
      if (record.digest == digest) {
        const auto& t = old->tasks();
        c.out << "kiln: resuming batch " << old->id() << " (" << t.succeeded()
              << " tasks already done)\n";
        return old->id();
      }
      c.out << "kiln: " << file << " changed since batch " << old->id()
            << " started; cancelling it and starting afresh\n";
      absl::StatusOr<kiln::v1::Batch> cancelled =
          client->Cancel(old->id(), absl::StrCat("superseded by an edited ", file));
      if (!cancelled.ok()) return cancelled.status();
    }
  }
  // A record without a batch id is a submit that may have landed: the same
  // request id finds it. Otherwise a fresh one.
  const bool submit_in_doubt =
      record.batch_id.empty() && record.digest == digest && !record.request_id.empty();
  if (!submit_in_doubt) {
    record = RunRecord{digest, NewRequestId(), ""};
    if (absl::Status s = record.Save(record_path); !s.ok()) return s;
  }
  absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
      client->Submit(SubmitRequest(spec, record.request_id), trace);
  if (!r.ok()) return r.status();
  record.batch_id = r->batch().id();
  if (absl::Status s = record.Save(record_path); !s.ok()) return s;
  return record.batch_id;
}

LocalClusterOptions EmbeddedOptions(const Settings& s) {
  LocalClusterOptions o;
  o.state_dir = s.Get("state_dir");
  o.workers = s.Int("workers");
  o.llm_slots = s.Int("llm_slots");
  o.build_slots = s.Int("build_slots");
  o.permits = s.Get("permits");
  o.sandbox = s.Get("sandbox");
  o.provider.kind = s.Get("provider");
  o.provider.base_url = s.Get("base_url");
  o.provider.api_key_env = s.Get("api_key_env");
  o.provider.model_key = s.Get("api_model_key");
  o.provider.max_continuations = static_cast<int>(s.Int("max_continuations"));
  o.provider.secrets_file = s.Get("secrets_file");
  o.provider.sim.time_scale = s.Double("time_scale");
  o.provider.sim.sim.defect_rate = s.Double("defect_rate");
  o.provider.sim.sim.seed = static_cast<uint64_t>(s.Int("sim_seed"));
  return o;
}

// Runs `body` under a span named `name` (the root of the batch's trace
// when the CLI traces): the exit code and, for failures, an error status.
template <typename Fn>
int Traced(Ctx& c, const std::string& name, Fn body) {
  Span span = c.tracer->StartRootSpan(name, absl::Now(), SpanKind::kClient);
  span.SetString("kiln.command", c.command->name);
  if (!c.args.positional.empty()) span.SetString("kiln.spec.file", c.args.positional[0]);
  const int rc = body(&span);
  span.SetInt("kiln.exit_code", rc);
  if (rc != 0) {
    span.SetError(rc == kExitInterrupted ? "INTERRUPTED" : "EXIT_CODE",
                  absl::StrCat("exit code ", rc), absl::Now());
  }
  span.End(absl::Now());
  return rc;
}

// "kiln: trace <id>" with where to see it, when this process exports and
// the batch is traced (a resumed batch keeps its first trace).
void PrintTrace(const Ctx& c, Client* client, const std::string& batch_id) {
  if (!c.telemetry->enabled()) return;
  absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(batch_id, kiln::v1::BATCH_VIEW_BASIC);
  if (!b.ok() || b->trace_id().empty()) return;
  c.out << "kiln: trace " << b->trace_id() << " (exporting to " << c.telemetry->endpoint()
        << "; in Jaeger: /trace/" << b->trace_id() << ")\n";
}

int RunBatch(Ctx& c, Span* span) {
  const std::string file = c.args.positional[0];
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(file);
  if (!spec.ok()) return Fail(spec.status());
  const bool embedded = c.settings.Get("coordinator").empty();
  std::unique_ptr<LocalCluster> cluster;
  std::unique_ptr<Client> client;
  std::string batch_id;
  if (embedded) {
    if (absl::Status s = Validate(*spec, *models); !s.ok()) return Fail(s);
    LocalClusterOptions lo = EmbeddedOptions(c.settings);
    lo.telemetry = c.telemetry;
    absl::StatusOr<std::unique_ptr<LocalCluster>> lc = LocalCluster::Start(lo, &*models);
    if (!lc.ok()) return Fail(lc.status());
    cluster = std::move(*lc);
    absl::StatusOr<std::unique_ptr<Client>> cl =
        Client::Connect(cluster->endpoint(), absl::Seconds(10));
    if (!cl.ok()) return Fail(cl.status());
    client = std::move(*cl);
    c.out << "kiln: " << cluster->Describe() << "\n";
    absl::StatusOr<std::string> id =
        SubmitOrResume(c, client.get(), *spec, file, span->context());
    if (!id.ok()) return Fail(id.status());
    batch_id = *id;
  } else {
    absl::StatusOr<std::unique_ptr<Client>> cl = Connect(c, nullptr, &*models);
    if (!cl.ok()) return Fail(cl.status());
    client = std::move(*cl);
    absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
        client->Submit(SubmitRequest(*spec, NewRequestId()), span->context());
    if (!r.ok()) return Fail(r.status());
    batch_id = r->batch().id();
  }
  span->SetString("kiln.batch.id", batch_id);
  c.out << "kiln: batch " << batch_id << " from " << file << "\n";
  PrintTrace(c, client.get(), batch_id);
  c.out.flush();

  absl::StatusOr<kiln::v1::Batch> batch = Follow(c, client.get(), batch_id);
  if (!batch.ok()) {
    if (absl::IsCancelled(batch.status())) {
      if (embedded) {
        cluster->Stop();
        c.out << "kiln: stopped. Batch " << batch_id << " is saved in "
              << c.settings.Get("state_dir") << "; run `kiln run " << file
              << "` again to resume it (finished files are kept).\n";
      } else {
        c.out << "kiln: detached. Batch " << batch_id << " keeps running on "
              << client->endpoint().target << ": `kiln watch " << batch_id
              << "` to reattach, `kiln cancel " << batch_id << "` to stop it.\n";
      }
      return kExitInterrupted;
    }
    return Fail(batch.status());
  }
  const std::string out = c.args.Get("out", "kiln-out");
  absl::StatusOr<std::map<std::string, int>> written = FetchTo(client.get(), *batch, "", out);
  if (!written.ok()) return Fail(written.status());
  for (const auto& [dir, n] : *written) {
    c.out << "kiln: wrote " << n << (n == 1 ? " file" : " files") << " to " << dir << "/\n";
  }
  // The embedded sim runs at --time_scale; a remote cluster's scale is its own.
  const double scale =
      embedded && c.settings.Get("provider") == "sim" ? c.settings.Double("time_scale") : 1;
  if (absl::Status s = PrintReport(client.get(), *batch, scale, c.out); !s.ok()) return Fail(s);
  if (cluster) cluster->Stop();
  return ExitFor(batch->state());
}

int CmdRun(Ctx& c) {
  return Traced(c, "kiln run", [&c](Span* span) { return RunBatch(c, span); });
}

int SubmitBatch(Ctx& c, Span* span) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(c.args.positional[0]);
  if (!spec.ok()) return Fail(spec.status());
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(c, nullptr, &*models);
  if (!client.ok()) return Fail(client.status());
  const std::string id = c.args.Get("request_id", NewRequestId());
  absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
      (*client)->Submit(SubmitRequest(*spec, id), span->context());
  if (!r.ok()) return Fail(r.status());
  span->SetString("kiln.batch.id", r->batch().id());
  c.out << r->batch().id() << "\n";
  return 0;
}

int CmdSubmit(Ctx& c) {
  return Traced(c, "kiln submit", [&c](Span* span) { return SubmitBatch(c, span); });
}

// The commands that read or change one batch share their setup.
template <typename Fn>
int WithClient(Ctx& c, bool offline_ok, Fn fn) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(models.status());
  std::unique_ptr<LocalCluster> offline;
  absl::StatusOr<std::unique_ptr<Client>> client =
      Connect(c, offline_ok ? &offline : nullptr, &*models);
  if (!client.ok()) return Fail(client.status());
  const int rc = fn(client->get(), offline != nullptr);
  client->reset();
  if (offline) offline->Stop();
  return rc;
}

int CmdWatch(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool offline) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(id.status());
    if (offline) {
      absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_BASIC);
      if (!b.ok()) return Fail(b.status());
      if (!IsTerminal(b->state())) {
        return Fail(absl::FailedPreconditionError(absl::StrCat(
            "batch ", *id, " is ", Name(b->state()),
            " but no kiln process is running it; `kiln run FILE` resumes it")));
      }
    }
    absl::StatusOr<kiln::v1::Batch> batch = Follow(c, client, *id);
    if (!batch.ok()) {
      if (absl::IsCancelled(batch.status())) {
        c.out << "kiln: detached from batch " << *id << "\n";
        return kExitInterrupted;
      }
      return Fail(batch.status());
    }
    return ExitFor(batch->state());
  });
}

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int CmdStatus(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(b.status());
    if (c.args.Flag("json")) {
      c.out << Json(*b);
    } else {
      c.out << FormatStatus(*b, absl::Now());
    }
    return 0;
  });
}

int CmdList(Ctx& c) {
  int limit = 20;
  if (c.args.Has("limit") && (!absl::SimpleAtoi(c.args.Get("limit"), &limit) || limit < 1)) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--limit: want a positive integer, got \"", c.args.Get("limit"), "\"")));
  }
  kiln::v1::ListBatchesRequest request;
  if (c.args.Has("state")) {
    kiln::v1::BatchState s;
    if (!kiln::v1::BatchState_Parse(
            absl::StrCat("BATCH_STATE_", absl::AsciiStrToUpper(c.args.Get("state"))), &s)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--state: want queued, running, succeeded, failed, cancelling or cancelled, got \"",
          c.args.Get("state"), "\"")));
    }
    request.add_states(s);
  }
  return WithClient(c, true, [&](Client* client, bool) {
    std::vector<kiln::v1::Batch> batches;
    do {
      request.set_page_size(std::min(1000, limit - static_cast<int>(batches.size())));
      absl::StatusOr<kiln::v1::ListBatchesResponse> r = client->ListBatches(request);
      if (!r.ok()) return Fail(r.status());
      for (auto& b : *r->mutable_batches()) batches.push_back(std::move(b));
      request.set_page_token(r->next_page_token());
    } while (!request.page_token().empty() && static_cast<int>(batches.size()) < limit);
    if (c.args.Flag("json")) {
      kiln::v1::ListBatchesResponse all;
      for (auto& b : batches) *all.add_batches() = b;
      c.out << Json(all);
    } else {
      c.out << FormatList(batches, absl::Now());
    }
    return 0;
  });
}

int CmdCancel(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<kiln::v1::Batch> b = client->Cancel(
        c.args.positional[0], c.args.Get("reason", "cancelled with kiln cancel"));
    if (!b.ok()) return Fail(b.status());
    c.out << "batch " << b->id() << ": " << Name(b->state()) << "\n";
    return 0;
  });
}

int CmdFetch(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(b.status());
    std::string job_id;
    if (c.args.Has("job")) {
      for (const auto& j : b->jobs()) {
        if (j.spec().name() == c.args.Get("job") || j.id() == c.args.Get("job")) job_id = j.id();
      }
      if (job_id.empty()) {
        return Fail(absl::NotFoundError(
            absl::StrCat("--job: batch ", *id, " has no job \"", c.args.Get("job"), "\"")));
      }
    }
    absl::StatusOr<std::map<std::string, int>> written =
        FetchTo(client, *b, job_id, c.args.Get("out", "kiln-out"));
    if (!written.ok()) return Fail(written.status());
    int total = 0;
    for (const auto& [dir, n] : *written) {
      c.out << "wrote " << n << (n == 1 ? " file" : " files") << " to " << dir << "/\n";
      total += n;
    }
    if (total == 0) c.out << "batch " << *id << " has no generated files yet\n";
    return 0;
  });
}

int CmdReport(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(b.status());
    absl::StatusOr<kiln::v1::Report> r = client->GetReport(*id);
    if (!r.ok()) return Fail(r.status());
    if (c.args.Flag("json")) {
      c.out << Json(*r);
      return 0;
    }
    c.out << FormatReport(*r, *b);
    if (c.args.Flag("tasks")) c.out << "\n" << FormatReportTasks(*r);
    if (c.args.Has("html")) {
      const std::string path = c.args.Get("html");
      std::ofstream html(path);
      html << HtmlReport(*r, *b);
      if (!html) {
        return Fail(absl::PermissionDeniedError(absl::StrCat("--html: cannot write ", path)));
      }
      c.out << "wrote " << path << "\n";
    }
    return 0;
  });
}

int CmdPlan(Ctx& c) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(c.args.positional[0]);
  if (!spec.ok()) return Fail(spec.status());
  if (absl::Status s = Validate(*spec, *models); !s.ok()) return Fail(s);
  CostModel cost(&*models);
  PlanSummary plan = SummarizePlan(spec->batch, cost);
  if (c.args.Flag("dot")) {
    c.out << PlanDot(plan);
  } else {
    c.out << c.args.positional[0] << ": valid\n\n" << FormatPlan(plan);
  }
  return 0;
}

int CmdConfig(Ctx& c) {
  c.out << "config file: " << (c.settings.config_file().empty() ? "(none)" : c.settings.config_file())
        << "\n";
  for (const SettingSpec& s : AllSettings()) {
    c.out << s.name << " = " << c.settings.Get(s.name) << "    # " << c.settings.Source(s.name)
          << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------
// The command table.

struct Entry {
  Command command;
  int (*run)(Ctx&);
};

const Option kPlain{"plain", "", "plain progress lines even on a terminal", ""};
const Option kJson{"json", "", "print JSON (the API's messages) instead of text", ""};

const std::vector<Entry>& Commands() {
  static const auto* commands = new std::vector<Entry>{
      {{"run", "FILE.yaml",
        "Run a job or batch file to the end with live progress, write the generated files "
        "and print the report.",
        "Without --coordinator, starts the embedded default in this process: a coordinator "
        "and --workers workers on loopback, with the provider of --provider (the simulated "
        "LLM by default) and the state under --state_dir. Ctrl-C stops it cleanly; running "
        "the same file again resumes the batch from what had finished. When the file has "
        "changed, the unfinished batch is cancelled and a new one starts. Once a batch has "
        "finished, running the file again starts a new batch, whose unchanged tasks come "
        "from the result cache.\n\n"
        "With --coordinator, submits to that cluster and follows the batch; Ctrl-C detaches "
        "(the batch keeps running).\n\n"
        "Relative repo paths in the file are resolved against the file's directory.\n\n"
        "  kiln run examples/browser-renderer/job.yaml\n"
        "  kiln run --time_scale=20 --defect_rate=0.3 examples/api-endpoints/job.yaml",
        {{"out", "DIR", "where the generated files go, one folder per job", "kiln-out"}, kPlain},
        1, 1},
       CmdRun},
      {{"submit", "FILE.yaml", "Submit a job or batch file to a coordinator; print the batch id.",
        "Validates the file first; errors name the file, line and field.",
        {{"request_id", "ID",
          "idempotency key: submitting again with the same key returns the same batch",
          "a new id"}},
        1, 1},
       CmdSubmit},
      {{"watch", "[BATCH]",
        "Follow a batch's progress until it ends (default: the newest batch).",
        "Replays the batch's events from the start, then follows new ones; a broken stream "
        "is resumed after the last event seen. Ctrl-C detaches. Exits 0 when the batch "
        "succeeded, 1 otherwise.",
        {kPlain},
        0, 1},
       CmdWatch},
      {{"status", "[BATCH]", "Show a batch: state, task counts, tokens, cost and its jobs.", "",
        {kJson}, 0, 1},
       CmdStatus},
      {{"list", "", "List batches, newest first.", "",
        {{"limit", "N", "at most this many", "20"},
         {"state", "STATE", "only batches in this state (queued, running, succeeded, ...)",
          ""},
         kJson},
        0, 0},
       CmdList},
      {{"cancel", "BATCH", "Cancel a batch: stop scheduling it and cancel its running tasks.",
        "Finished files are kept and can still be fetched.",
        {{"reason", "TEXT", "recorded in the batch's events", ""}}, 1, 1},
       CmdCancel},
      {{"fetch", "[BATCH]", "Download a batch's generated files.",
        "Writes the latest successful version of every file to DIR/<job name>/<path>.",
        {{"out", "DIR", "destination", "kiln-out"}, {"job", "NAME", "only this job", ""}}, 0, 1},
       CmdFetch},
      {{"report", "[BATCH]", "Where a batch's time and money went.",
        "Wall time against the critical-path lower bound, tokens by billing kind, the "
        "cache-hit rate, cost against the uncached cost, time per phase and per model, and "
        "the critical path. --html writes a page with the DAG, a Gantt chart of the run and "
        "a per-task table.",
        {{"html", "FILE", "also write the HTML report here", ""},
         {"tasks", "", "also print the per-task table", ""},
         kJson},
        0, 1},
       CmdReport},
      {{"plan", "FILE.yaml", "Validate a file and show what it would do, without running it.",
        "Prints each job's tasks (model, expected output, duration estimate, dependencies), "
        "the critical path and its lower bound, and the expected tokens and cost with one "
        "cache write per shared prefix. --dot prints the DAG for Graphviz:\n\n"
        "  kiln plan --dot job.yaml | dot -Tsvg > dag.svg",
        {{"dot", "", "print the DAG in Graphviz dot instead", ""}}, 1, 1},
       CmdPlan},
      {{"config", "", "Show every setting's value and where it came from.",
        "Settings come from (highest first) flags, KILN_<NAME> environment variables, the "
        "config file, and defaults.",
        {}, 0, 0},
       CmdConfig},
  };
  return *commands;
}

std::string MainHelp() {
  std::string out =
      "usage: kiln COMMAND [options] [args]\n\n"
      "Kiln generates many files with LLMs at once: each job becomes a dependency DAG,\n"
      "shared prompt prefixes are cached once, and tasks fan out across workers.\n\n"
      "commands:\n";
  for (const Entry& e : Commands()) {
    std::string name = absl::StrCat("  ", e.command.name, " ", e.command.args);
    name.resize(std::max<size_t>(name.size() + 1, 22), ' ');
    absl::StrAppend(&out, name, e.command.summary, "\n");
  }
  absl::StrAppend(&out, "  help COMMAND          this text, or one command's\n");
  out +=
      "\nkiln help COMMAND shows a command's options. Settings (every command):\n";
  Command none;
  std::string settings = CommandHelp(none, SettingOptions(), "settings");
  out += settings.substr(settings.find("settings:\n") + 10);
  out +=
      "\nExit codes: 0 done, 1 the batch failed or was cancelled, 2 bad usage or input,\n"
      "3 coordinator unreachable or refused, 130 interrupted.\n";
  return out;
}

}  // namespace

int Main(int argc, char** argv) {
  Signals::Get();  // before any thread starts
  std::vector<std::string> argv_rest(argv + 1, argv + argc);
  if (argv_rest.empty() || argv_rest[0] == "--help" || argv_rest[0] == "-h" ||
      (argv_rest[0] == "help" && argv_rest.size() == 1)) {
    std::cout << MainHelp();
    return argv_rest.empty() ? kExitUsage : 0;
  }
  // Settings may come before the command (kiln --coordinator=H:P status):
  // the first argument that is not an option (or an option's value) is the
  // command; the options before it are parsed with the command's.
  const std::vector<Option> shared = SettingOptions();
  size_t at = 0;
  while (at < argv_rest.size() && absl::StartsWith(argv_rest[at], "--")) {
    const std::string opt = argv_rest[at].substr(2);
    ++at;
    if (opt.find('=') != std::string::npos) continue;
    for (const Option& o : shared) {
      if (o.name == opt && !o.value_name.empty() && at < argv_rest.size()) ++at;
    }
  }
  if (at == argv_rest.size()) {
    std::cerr << "kiln: no command given; see kiln --help\n";
    return kExitUsage;
  }
  std::string name = argv_rest[at];
  argv_rest.erase(argv_rest.begin() + static_cast<std::ptrdiff_t>(at));
  bool help = false;
  if (name == "help") {
    if (at >= argv_rest.size()) {
      std::cout << MainHelp();
      return 0;
    }
    name = argv_rest[at];
    argv_rest.erase(argv_rest.begin() + static_cast<std::ptrdiff_t>(at));
    help = true;
  }
  const Entry* entry = nullptr;
  std::vector<std::string> names;
  for (const Entry& e : Commands()) {
    names.push_back(e.command.name);
    if (e.command.name == name) entry = &e;
  }
  if (entry == nullptr) {
    std::string hint = ClosestName(name, std::vector<absl::string_view>(names.begin(), names.end()));
    std::cerr << "kiln: unknown command \"" << name << "\""
              << (hint.empty() ? "" : absl::StrCat(" (did you mean ", hint, "?)"))
              << "; see kiln --help\n";
    return kExitUsage;
  }
  if (help) {
    std::cout << CommandHelp(entry->command, shared, "settings");
    return 0;
  }
  absl::StatusOr<Args> args = ParseArgs(entry->command, shared, argv_rest);
  if (!args.ok()) return Fail(args.status());
  if (args->help) {
    std::cout << CommandHelp(entry->command, shared, "settings");
    return 0;
  }
  absl::StatusOr<Settings> settings = Settings::Resolve(*args, ProcessEnv());
  if (!settings.ok()) return Fail(settings.status());
  TelemetryOptions to;
  to.otlp_endpoint = settings->Get("otlp_endpoint");
  to.sample_ratio = settings->Double("trace_sample_ratio");
  absl::StatusOr<std::unique_ptr<Telemetry>> telemetry = Telemetry::Start(to);
  if (!telemetry.ok()) return Fail(telemetry.status());
  Ctx c{&entry->command, std::move(*args), std::move(*settings)};
  c.telemetry = telemetry->get();
  c.tracer = (*telemetry)->NewTracer("kiln-cli");
  const int rc = entry->run(c);
  // The spans of the run (and of an embedded cluster) go out before exit.
  (*telemetry)->Shutdown(absl::Seconds(5));
  return rc;
}

}  // namespace cli
}  // namespace kiln
