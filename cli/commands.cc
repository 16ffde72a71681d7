#include "cli/commands.h"

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/client.h"
#include "cli/context.h"
#include "cli/flags.h"
#include "cli/html_report.h"
#include "cli/land_commands.h"
#include "cli/local_cluster.h"
#include "cli/plan.h"
#include "cli/render.h"
#include "cli/run.h"
#include "cli/settings.h"
#include "cli/signals.h"
#include "absl/time/clock.h"
#include "common/digest.h"
#include "common/states.h"
#include "common/telemetry.h"
#include "common/tracer.h"
#include "common/yaml_reader.h"
#include "llm/model_profile.h"
#include "spec/dag.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace cli {
namespace {

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

// The cluster a run submits to: the embedded default (started here), or the
// coordinator of the settings.
absl::Status OpenForRun(Ctx& c, const ModelCatalog& models, bool embedded,
                        std::unique_ptr<LocalCluster>* cluster, std::unique_ptr<Client>* client) {
  if (embedded) {
    LocalClusterOptions lo = EmbeddedOptions(c.settings);
    lo.telemetry = c.telemetry;
    absl::StatusOr<std::unique_ptr<LocalCluster>> lc = LocalCluster::Start(lo, &models);
    if (!lc.ok()) return lc.status();
    *cluster = std::move(*lc);
    absl::StatusOr<std::unique_ptr<Client>> cl =
        Client::Connect((*cluster)->endpoint(), absl::Seconds(10));
    if (!cl.ok()) return cl.status();
    *client = std::move(*cl);
    c.out << "kiln: " << (*cluster)->Describe() << "\n";
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Client>> cl = Connect(c, nullptr, &models);
  if (!cl.ok()) return cl.status();
  *client = std::move(*cl);
  return absl::OkStatus();
}

// Follows a submitted batch to its end, writes its files and prints the
// report; the exit code.
int FollowAndReport(Ctx& c, Client* client, LocalCluster* cluster, bool embedded,
                    const std::string& batch_id, const std::string& resume_hint);

int RunBatch(Ctx& c, Span* span) {
  const std::string file = c.args.positional[0];
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(c, models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(file);
  if (!spec.ok()) return Fail(c, spec.status());
  const bool embedded = c.settings.Get("coordinator").empty();
  std::unique_ptr<LocalCluster> cluster;
  std::unique_ptr<Client> client;
  std::string batch_id;
  if (embedded) {
    if (absl::Status s = Validate(*spec, *models); !s.ok()) return Fail(c, s);
    if (absl::Status s = OpenForRun(c, *models, true, &cluster, &client); !s.ok()) {
      return Fail(c, s);
    }
    absl::StatusOr<std::string> id =
        SubmitOrResume(c, client.get(), *spec, file, span->context());
    if (!id.ok()) return Fail(c, id.status());
    batch_id = *id;
  } else {
    if (absl::Status s = ValidateLocal(*spec); !s.ok()) return Fail(c, s);
    if (absl::Status s = OpenForRun(c, *models, false, &cluster, &client); !s.ok()) {
      return Fail(c, s);
    }
    absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
        client->Submit(SubmitRequest(*spec, NewRequestId()), span->context());
    if (!r.ok()) return Fail(c, r.status());
    batch_id = r->batch().id();
  }
  span->SetString("kiln.batch.id", batch_id);
  c.out << "kiln: batch " << batch_id << " from " << file << "\n";
  return FollowAndReport(c, client.get(), cluster.get(), embedded, batch_id,
                         absl::StrCat("run `kiln run ", file, "` again to resume it"));
}

int FollowAndReport(Ctx& c, Client* client, LocalCluster* cluster, bool embedded,
                    const std::string& batch_id, const std::string& resume_hint) {
  PrintTrace(c, client, batch_id);
  c.out.flush();
  absl::StatusOr<kiln::v1::Batch> batch = Follow(c, client, batch_id);
  if (!batch.ok()) {
    if (absl::IsCancelled(batch.status())) {
      if (embedded) {
        cluster->Stop();
        c.out << "kiln: stopped. Batch " << batch_id << " is saved in "
              << c.settings.Get("state_dir") << "; " << resume_hint
              << " (finished files are kept).\n";
      } else {
        c.out << "kiln: detached. Batch " << batch_id << " keeps running on "
              << client->endpoint().target << ": `kiln watch " << batch_id
              << "` to reattach, `kiln cancel " << batch_id << "` to stop it.\n";
      }
      return kExitInterrupted;
    }
    return Fail(c, batch.status());
  }
  const std::string out = c.args.Get("out", "kiln-out");
  absl::StatusOr<std::map<std::string, int>> written = FetchTo(client, *batch, "", out);
  if (!written.ok()) return Fail(c, written.status());
  for (const auto& [dir, n] : *written) {
    c.out << "kiln: wrote " << n << (n == 1 ? " file" : " files") << " to " << dir << "/\n";
  }
  // The embedded sim runs at --time_scale; a remote cluster's scale is its own.
  const double scale =
      embedded && c.settings.Get("provider") == "sim" ? c.settings.Double("time_scale") : 1;
  if (absl::Status s = PrintReport(client, *batch, scale, c.out); !s.ok()) return Fail(c, s);
  if (cluster) cluster->Stop();
  return ExitFor(batch->state());
}

// `kiln retry`: a new batch of the jobs that did not land (--failed) or of
// all of them; their finished tasks come from the result cache.
int RetryBatch(Ctx& c, Span* span) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(c, models.status());
  const bool embedded = c.settings.Get("coordinator").empty();
  std::unique_ptr<LocalCluster> cluster;
  std::unique_ptr<Client> client;
  if (absl::Status s = OpenForRun(c, *models, embedded, &cluster, &client); !s.ok()) {
    return Fail(c, s);
  }
  absl::StatusOr<std::string> id = BatchArg(c, client.get());
  if (!id.ok()) return Fail(c, id.status());
  absl::StatusOr<kiln::v1::Batch> old = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
  if (!old.ok()) return Fail(c, old.status());
  if (!IsTerminal(old->state())) {
    return Fail(c, absl::FailedPreconditionError(absl::StrCat(
        "batch ", *id, " is still ", Name(old->state()), "; retry it once it has ended")));
  }
  ParsedSpec spec;
  spec.file = absl::StrCat("retry of ", *id);
  spec.batch = RetrySpec(*old, c.args.Flag("failed"));
  const int retried = CountJobs(spec.batch);
  if (retried == 0) {
    c.out << "kiln: every job of batch " << *id << " landed; nothing to retry\n";
    if (cluster) cluster->Stop();
    return 0;
  }
  absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
      client->Submit(SubmitRequest(spec, NewRequestId()), span->context());
  if (!r.ok()) return Fail(c, r.status());
  span->SetString("kiln.batch.id", r->batch().id());
  c.out << "kiln: batch " << r->batch().id() << " retries " << retried
        << (retried == 1 ? " job" : " jobs") << " of " << *id << "\n";
  return FollowAndReport(c, client.get(), cluster.get(), embedded, r->batch().id(),
                         absl::StrCat("`kiln watch ", r->batch().id(), "` follows it"));
}

int CmdRetry(Ctx& c) {
  return Traced(c, "kiln retry", [&c](Span* span) { return RetryBatch(c, span); });
}

int CmdRun(Ctx& c) {
  return Traced(c, "kiln run", [&c](Span* span) { return RunBatch(c, span); });
}

int SubmitBatch(Ctx& c, Span* span) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(c, models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(c.args.positional[0]);
  if (!spec.ok()) return Fail(c, spec.status());
  if (absl::Status s = ValidateLocal(*spec); !s.ok()) return Fail(c, s);
  absl::StatusOr<std::unique_ptr<Client>> client = Connect(c, nullptr, &*models);
  if (!client.ok()) return Fail(c, client.status());
  // A submission whose answer never came (the coordinator was slow or went
  // away) may have landed: the same file again resends its request id, and
  // the coordinator answers with the batch it made instead of a second one.
  const std::string file = c.args.positional[0];
  const std::string record_path = RunRecord::SubmitPathFor(
      c.settings.Get("state_dir"), file, (*client)->endpoint().target);
  const std::string digest = Sha256Hex(spec->batch.SerializeAsString());
  RunRecord record = RunRecord::Load(record_path);
  if (c.args.Has("request_id")) {
    record = RunRecord{digest, c.args.Get("request_id", ""), ""};
  } else if (DecideResume(record, digest, nullptr) == ResumeAction::kSubmitInDoubt) {
    c.err << "kiln: resending the unanswered submission of " << file << " ("
          << record.request_id << ")\n";
  } else {
    record = RunRecord{digest, NewRequestId(), ""};
  }
  (void)record.Save(record_path);
  absl::StatusOr<kiln::v1::SubmitBatchResponse> r =
      (*client)->Submit(SubmitRequest(*spec, record.request_id), span->context());
  // Unanswered: tried again with the same id, which cannot make a duplicate.
  for (int retry = 1; retry <= 2 && !r.ok() &&
                      (absl::IsUnavailable(r.status()) || absl::IsDeadlineExceeded(r.status()));
       ++retry) {
    absl::SleepFor(absl::Seconds(retry));
    r = (*client)->Submit(SubmitRequest(*spec, record.request_id), span->context());
  }
  if (!r.ok()) return Fail(c, r.status());
  record.batch_id = r->batch().id();
  (void)record.Save(record_path);
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
  if (!models.ok()) return Fail(c, models.status());
  std::unique_ptr<LocalCluster> offline;
  absl::StatusOr<std::unique_ptr<Client>> client =
      Connect(c, offline_ok ? &offline : nullptr, &*models);
  if (!client.ok()) return Fail(c, client.status());
  const int rc = fn(client->get(), offline != nullptr);
  client->reset();
  if (offline) offline->Stop();
  return rc;
}

int CmdWatch(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool offline) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(c, id.status());
    if (offline) {
      absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_BASIC);
      if (!b.ok()) return Fail(c, b.status());
      if (!IsTerminal(b->state())) {
        return Fail(c, absl::FailedPreconditionError(absl::StrCat(
            "batch ", *id, " is ", Name(b->state()),
            " but no kiln process is running it; `kiln run FILE` resumes it")));
      }
    }
    c.out << "kiln: watching batch " << *id << "\n";
    c.out.flush();
    absl::StatusOr<kiln::v1::Batch> batch = Follow(c, client, *id);
    if (!batch.ok()) {
      if (absl::IsCancelled(batch.status())) {
        c.out << "kiln: detached from batch " << *id << "\n";
        return kExitInterrupted;
      }
      return Fail(c, batch.status());
    }
    return ExitFor(batch->state());
  });
}

int CmdStatus(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(c, id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(c, b.status());
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
    return Fail(c, absl::InvalidArgumentError(
        absl::StrCat("--limit: want a positive integer, got \"", c.args.Get("limit"), "\"")));
  }
  kiln::v1::ListBatchesRequest request;
  if (c.args.Has("state")) {
    kiln::v1::BatchState s;
    if (!kiln::v1::BatchState_Parse(
            absl::StrCat("BATCH_STATE_", absl::AsciiStrToUpper(c.args.Get("state"))), &s)) {
      return Fail(c, absl::InvalidArgumentError(absl::StrCat(
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
      if (!r.ok()) return Fail(c, r.status());
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
    if (!b.ok()) return Fail(c, b.status());
    c.out << "batch " << b->id() << ": " << Name(b->state()) << "\n";
    return 0;
  });
}

int CmdFetch(Ctx& c) {
  return WithClient(c, true, [&](Client* client, bool) {
    absl::StatusOr<std::string> id = BatchArg(c, client);
    if (!id.ok()) return Fail(c, id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(c, b.status());
    std::string job_id;
    if (c.args.Has("job")) {
      for (const auto& j : b->jobs()) {
        if (j.spec().name() == c.args.Get("job") || j.id() == c.args.Get("job")) job_id = j.id();
      }
      if (job_id.empty()) {
        return Fail(c, absl::NotFoundError(
            absl::StrCat("--job: batch ", *id, " has no job \"", c.args.Get("job"), "\"")));
      }
    }
    if (c.args.Flag("patches")) {
      absl::StatusOr<int> n = WritePatches(client, *id, job_id, c.args.Get("out", "kiln-out"));
      if (!n.ok()) return Fail(c, n.status());
      c.out << "wrote " << *n << (*n == 1 ? " patch" : " patches") << " to "
            << c.args.Get("out", "kiln-out") << "/\n";
      return 0;
    }
    absl::StatusOr<std::map<std::string, int>> written =
        FetchTo(client, *b, job_id, c.args.Get("out", "kiln-out"));
    if (!written.ok()) return Fail(c, written.status());
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
    if (!id.ok()) return Fail(c, id.status());
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return Fail(c, b.status());
    absl::StatusOr<kiln::v1::Report> r = client->GetReport(*id);
    if (!r.ok()) return Fail(c, r.status());
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
        return Fail(c, absl::PermissionDeniedError(absl::StrCat("--html: cannot write ", path)));
      }
      c.out << "wrote " << path << "\n";
    }
    return 0;
  });
}

int CmdPlan(Ctx& c) {
  absl::StatusOr<ModelCatalog> models = Models(c);
  if (!models.ok()) return Fail(c, models.status());
  absl::StatusOr<ParsedSpec> spec = LoadSpec(c.args.positional[0]);
  if (!spec.ok()) return Fail(c, spec.status());
  if (absl::Status s = Validate(*spec, *models); !s.ok()) return Fail(c, s);
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
        {{"out", "DIR", "destination", "kiln-out"},
         {"job", "NAME", "only this job", ""},
         {"patches", "", "write each landed job's commit as DIR/<job>.patch instead", ""}},
        0, 1},
       CmdFetch},
      {{"diff", "[BATCH]", "Print the patches of a batch's landed changes.",
        "One `git format-patch` per job whose `land` committed a change: the preview of a "
        "batch with push: false, where every change is a patch and nothing else.",
        {{"job", "NAME", "only this job", ""}},
        0, 1},
       [](Ctx& c) { return WithClient(c, true, [&](Client* cl, bool) { return Diff(c, cl); }); }},
      {{"apply", "[BATCH]", "Apply a job's patch to a local clone, as a commit on a new branch.",
        "Checks out a new branch (the job's landing branch, or --branch) in the clone at "
        "--repo and applies the job's patch there with `git am` (the commit keeps Kiln's "
        "author and message).\n\n  kiln apply --job=svc-000 --repo=../svc-000",
        {{"job", "NAME", "the job whose patch (required)", ""},
         {"repo", "DIR", "a clone of the job's repository (required)", ""},
         {"branch", "NAME", "the new branch", "the job's landing branch"}},
        0, 1},
       [](Ctx& c) { return WithClient(c, true, [&](Client* cl, bool) { return Apply(c, cl); }); }},
      {{"retry", "[BATCH]", "Run a finished batch's jobs again as a new batch.",
        "With --failed, only the jobs that did not land: failed, cancelled, or whose landing "
        "failed or was rejected. Finished tasks come from the result cache, so only what "
        "failed runs again; a job with `land` updates the same branch and pull request. "
        "Follows the new batch like `kiln run`.",
        {{"failed", "", "only the jobs that did not land", ""},
         {"out", "DIR", "where the generated files go, one folder per job", "kiln-out"},
         kPlain},
        0, 1},
       CmdRetry},
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
  return Run(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}

int Run(std::vector<std::string> argv_rest, std::ostream& out, std::ostream& err) {
  if (argv_rest.empty() || argv_rest[0] == "--help" || argv_rest[0] == "-h" ||
      (argv_rest[0] == "help" && argv_rest.size() == 1)) {
    out << MainHelp();
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
    err << "kiln: no command given; see kiln --help\n";
    return kExitUsage;
  }
  std::string name = argv_rest[at];
  argv_rest.erase(argv_rest.begin() + static_cast<std::ptrdiff_t>(at));
  bool help = false;
  if (name == "help") {
    if (at >= argv_rest.size()) {
      out << MainHelp();
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
    err << "kiln: unknown command \"" << name << "\""
              << (hint.empty() ? "" : absl::StrCat(" (did you mean ", hint, "?)"))
              << "; see kiln --help\n";
    return kExitUsage;
  }
  if (help) {
    out << CommandHelp(entry->command, shared, "settings");
    return 0;
  }
  absl::StatusOr<Args> args = ParseArgs(entry->command, shared, argv_rest);
  if (!args.ok()) return FailTo(err, args.status());
  if (args->help) {
    out << CommandHelp(entry->command, shared, "settings");
    return 0;
  }
  absl::StatusOr<Settings> settings = Settings::Resolve(*args, ProcessEnv());
  if (!settings.ok()) return FailTo(err, settings.status());
  TelemetryOptions to;
  to.otlp_endpoint = settings->Get("otlp_endpoint");
  to.sample_ratio = settings->Double("trace_sample_ratio");
  absl::StatusOr<std::unique_ptr<Telemetry>> telemetry = Telemetry::Start(to);
  if (!telemetry.ok()) return FailTo(err, telemetry.status());
  Ctx c{&entry->command, std::move(*args), std::move(*settings), out, err};
  c.telemetry = telemetry->get();
  c.tracer = (*telemetry)->NewTracer("kiln-cli");
  const int rc = entry->run(c);
  // The spans of the run (and of an embedded cluster) go out before exit.
  (*telemetry)->Shutdown(absl::Seconds(5));
  return rc;
}

}  // namespace cli
}  // namespace kiln
