#include "cli/run.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "cli/progress.h"
#include "cli/render.h"
#include "cli/signals.h"
#include "common/digest.h"
#include "common/ids.h"
#include "common/mutex.h"
#include "common/process.h"
#include "common/repo_file.h"
#include "common/states.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {

namespace fs = std::filesystem;

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

namespace {

ValidateOptions OptionsFor(const ParsedSpec& spec) {
  ValidateOptions vo;
  vo.single_job = spec.single_job;
  vo.file = spec.file;
  return vo;
}

}  // namespace

absl::Status Validate(const ParsedSpec& spec, const ModelCatalog& models) {
  std::vector<InputProblem> problems =
      ValidateBatch(spec.batch, models, spec.locations, OptionsFor(spec));
  std::vector<InputProblem> local =
      ValidateLocalRepos(spec.batch, spec.locations, OptionsFor(spec));
  problems.insert(problems.end(), local.begin(), local.end());
  return ProblemsToStatus(std::move(problems));
}

absl::Status ValidateLocal(const ParsedSpec& spec) {
  return ProblemsToStatus(ValidateLocalRepos(spec.batch, spec.locations, OptionsFor(spec)));
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

std::string RunRecord::PathFor(const std::string& state_dir, const std::string& spec_file) {
  return absl::StrCat(state_dir, "/runs/",
                      Sha256Hex(fs::absolute(spec_file).lexically_normal().string()).substr(0, 24));
}

std::string RunRecord::SubmitPathFor(const std::string& state_dir, const std::string& spec_file,
                                     const std::string& coordinator) {
  return absl::StrCat(
      state_dir, "/submits/",
      Sha256Hex(absl::StrCat(fs::absolute(spec_file).lexically_normal().string(), "\n",
                             coordinator))
          .substr(0, 24));
}

RunRecord RunRecord::Load(const std::string& path) {
  RunRecord r;
  std::ifstream in(path);
  std::getline(in, r.digest);
  std::getline(in, r.request_id);
  std::getline(in, r.batch_id);
  return r;
}

absl::Status RunRecord::Save(const std::string& path) const {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  return WriteFileAtomically(path, absl::StrCat(digest, "\n", request_id, "\n", batch_id, "\n"));
}

ResumeAction DecideResume(const RunRecord& record, const std::string& digest,
                          const kiln::v1::Batch* old) {
  if (!record.batch_id.empty() && old != nullptr && !IsTerminal(old->state())) {
    return record.digest == digest ? ResumeAction::kResume : ResumeAction::kSupersede;
  }
  // A record without a batch id is a submit that may have landed: the same
  // request id finds it.
  if (record.batch_id.empty() && record.digest == digest && !record.request_id.empty()) {
    return ResumeAction::kSubmitInDoubt;
  }
  return ResumeAction::kSubmitFresh;
}

// Submits `spec` to the embedded coordinator (under the span `trace`), or
// finds the batch an earlier run of the same file left unfinished (it keeps
// the trace it started with).
absl::StatusOr<std::string> SubmitOrResume(const Ctx& c, Client* client, const ParsedSpec& spec,
                                           const std::string& file, const TraceContext& trace) {
  const std::string record_path = RunRecord::PathFor(c.settings.Get("state_dir"), file);
  RunRecord record = RunRecord::Load(record_path);
  const std::string digest = Sha256Hex(spec.batch.SerializeAsString());
  absl::StatusOr<kiln::v1::Batch> old = absl::NotFoundError("no batch");
  if (!record.batch_id.empty()) {
    old = client->GetBatch(record.batch_id, kiln::v1::BATCH_VIEW_BASIC);
  }
  const ResumeAction action = DecideResume(record, digest, old.ok() ? &*old : nullptr);
  if (action == ResumeAction::kResume) {
    c.out << "kiln: resuming batch " << old->id() << " (" << old->tasks().succeeded()
          << " tasks already done)\n";
    return old->id();
  }
  if (action == ResumeAction::kSupersede) {
    c.out << "kiln: " << file << " changed since batch " << old->id()
          << " started; cancelling it and starting afresh\n";
    absl::StatusOr<kiln::v1::Batch> cancelled =
        client->Cancel(old->id(), absl::StrCat("superseded by an edited ", file));
    if (!cancelled.ok()) return cancelled.status();
  }
  if (action != ResumeAction::kSubmitInDoubt) {
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

namespace {

std::string JobDirName(const kiln::v1::Batch& batch, const std::string& job_id) {
  for (const auto& j : batch.jobs()) {
    if (j.id() == job_id) return j.spec().name();
  }
  return job_id;
}

std::pair<int, int> TerminalSize() {
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return {ws.ws_col, ws.ws_row};
  }
  return {100, 30};
}

}  // namespace

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
    printer = MakeTerminalPrinter(c.out, w, std::min(h, 40));
  } else {
    printer = MakePlainPrinter(c.out);
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
        c.out.flush();  // a pipe or a file sees each line as it comes
      },
      [&](const absl::Status& why) {
        MutexLock l(&mu);
        c.out << "kiln: lost the event stream (" << why.message() << "); reconnecting\n";
        c.out.flush();
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

LocalClusterOptions EmbeddedOptions(const Settings& s) {
  LocalClusterOptions o;
  o.state_dir = s.Get("state_dir");
  o.workers = s.Int("workers");
  o.llm_slots = s.Int("llm_slots");
  o.build_slots = s.Int("build_slots");
  o.permits = s.Get("permits");
  o.min_free_mib = s.Int("min_free_mib");
  o.max_batch_tasks = s.Int("max_batch_tasks");
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

void PrintTrace(const Ctx& c, Client* client, const std::string& batch_id) {
  if (!c.telemetry->enabled()) return;
  absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(batch_id, kiln::v1::BATCH_VIEW_BASIC);
  if (!b.ok() || b->trace_id().empty()) return;
  c.out << "kiln: trace " << b->trace_id() << " (exporting to " << c.telemetry->endpoint()
        << "; in Jaeger: /trace/" << b->trace_id() << ")\n";
}

}  // namespace cli
}  // namespace kiln
