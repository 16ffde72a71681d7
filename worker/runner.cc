#include "worker/runner.h"

#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "common/proto_time.h"
#include "common/repo_path.h"
#include "common/states.h"
#include "common/trace_attributes.h"
#include "common/usage.h"
#include "worker/plan.h"
#include "worker/runner_internal.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

// Sandboxes bind worktrees by absolute path, so the work dir must be one.
RunnerOptions Absolute(RunnerOptions o) {
  std::error_code ec;
  const fs::path abs = fs::absolute(o.work_dir, ec);
  if (!ec) o.work_dir = abs.lexically_normal().string();
  return o;
}

}  // namespace

using kiln::v1::TaskResult;
using runner_internal::SetError;


namespace {

bool RetryableLlmError(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kCancelled:
      return true;
    default:
      return false;
  }
}

// A request that failed and was tried again (a continuation of a cut-off
// reply is not a failure).
bool RetriedAfterFailure(const LlmRequestRecord& q) {
  return q.retried && q.outcome != "ok" && q.outcome != "cut_off";
}

// A whole call's usage: every request it sent.
kiln::v1::Usage UsageOf(const LlmResult& r) {
  kiln::v1::Usage u = ToUsage(r.usage);
  u.set_requests(std::max<int64_t>(r.attempts, static_cast<int64_t>(r.requests.size())));
  u.set_rate_limited(r.rate_limited);
  u.set_cut_off(r.cut_off);
  int64_t retried = 0;
  for (const LlmRequestRecord& q : r.requests) retried += RetriedAfterFailure(q) ? 1 : 0;
  u.set_retried_requests(retried);
  return u;
}

// One request's part of a usage.
kiln::v1::Usage UsageOf(const LlmRequestRecord& q) {
  kiln::v1::Usage u = ToUsage(q.usage);
  u.set_requests(1);
  u.set_rate_limited(q.outcome == "rate_limited" ? 1 : 0);
  u.set_retried_requests(RetriedAfterFailure(q) ? 1 : 0);
  u.set_cut_off(q.outcome == "cut_off" ? 1 : 0);
  return u;
}

std::string OutcomeName(TaskResult::Outcome o) {
  absl::string_view name = TaskResult::Outcome_Name(o);
  absl::ConsumePrefix(&name, "OUTCOME_");
  return std::string(name);
}

}  // namespace

Runner::Runner(RunnerOptions options, Provider* provider,
               const ModelCatalog* models, Sandbox* sandbox,
               PermitSource* permits, const Clock* clock)
    : options_(Absolute(std::move(options))),
      clock_(clock),
      tracer_(options_.tracer != nullptr ? options_.tracer : &disabled_tracer_),
      provider_(provider),
      models_(models),
      sandbox_(sandbox),
      permits_(permits),
      repos_((fs::path(options_.work_dir) / "repos").string(),
             options_.max_worktrees),
      lander_(&host_),
      io_(std::make_unique<ThreadPool>(options_.io_threads)),
      builds_(std::make_unique<ThreadPool>(options_.build_slots)) {
  std::error_code ec;
  fs::create_directories(fs::path(options_.work_dir) / "scratch", ec);
}

Runner::~Runner() { Stop(); }

void Runner::Stop() {
  std::map<std::string, AttemptPtr> all;
  {
    MutexLock l(&mu_);
    if (stopped_) return;
    stopped_ = true;
    all = attempts_;
  }
  for (auto& [task, at] : all) {
    at->dropped = true;
    at->cancel.Cancel("the worker is stopping");
    MutexLock l(&at->mu);
    if (at->call) at->call->Cancel();
  }
  {
    // The provider's callbacks reach into the runner: wait for them.
    MutexLock l(&mu_);
    while (calls_in_flight_ > 0) calls_cv_.Wait(&mu_);
  }
  std::unique_ptr<ThreadPool> io, builds;
  {
    MutexLock l(&mu_);
    io = std::move(io_);
    builds = std::move(builds_);
  }
  builds.reset();
  io.reset();
}

void Runner::PostIo(std::function<void()> fn) {
  MutexLock l(&mu_);
  if (io_) io_->Post(std::move(fn));
}

void Runner::PostBuild(std::function<void()> fn) {
  MutexLock l(&mu_);
  if (builds_) builds_->Post(std::move(fn));
}

int Runner::running() const {
  MutexLock l(&mu_);
  return static_cast<int>(attempts_.size());
}

void Runner::Run(const kiln::v1::Assignment& assignment, WorkerPort* port) {
  auto at = std::make_shared<Attempt>();
  at->a = assignment;
  at->port = port;
  at->start = clock_->Now();
  at->rec.set_attempt(assignment.lease().attempt());
  at->rec.set_worker_id(port->worker_id());
  at->rec.set_model(assignment.task().model());
  TimeToProto(at->start, at->rec.mutable_start_time());
  // The attempt's span, under the coordinator's task span. No traceparent:
  // the batch is not traced.
  if (absl::StatusOr<TraceContext> parent = ParseTraceparent(assignment.traceparent());
      parent.ok()) {
    const kiln::v1::Task& task = assignment.task();
    at->span = tracer_->StartSpan("attempt", *parent, at->start);
    at->span.SetString("kiln.task.id", task.id())
        .SetString("kiln.task.kind", Name(task.kind()))
        .SetString("kiln.job.id", task.job_id())
        .SetString("kiln.repo", RepoText(assignment.job().repo()))
        .SetInt("kiln.attempt", assignment.lease().attempt())
        .SetString("kiln.worker.id", port->worker_id());
    if (!task.path().empty()) at->span.SetString("kiln.file.path", task.path());
    if (task.kind() != kiln::v1::TASK_KIND_BUILD) {
      at->span.SetString("gen_ai.system", provider_->name())
          .SetString("gen_ai.request.model", task.model());
    }
  }
  {
    MutexLock l(&mu_);
    if (stopped_) return;
    auto& slot = attempts_[assignment.lease().task_id()];
    if (slot) {
      // A newer attempt of the same task replaces an older one.
      slot->dropped = true;
      slot->cancel.Cancel("superseded by a newer attempt");
    }
    slot = at;
  }
  PostIo([this, at] { Prepare(at); });
}

void Runner::Cancel(const kiln::v1::Lease& lease) {
  AttemptPtr at;
  {
    MutexLock l(&mu_);
    auto it = attempts_.find(lease.task_id());
    if (it == attempts_.end() ||
        it->second->a.lease().attempt() != lease.attempt()) {
      return;
    }
    at = it->second;
  }
  at->dropped = true;
  at->cancel.Cancel("cancelled by the coordinator");
  MutexLock l(&at->mu);
  if (at->call) at->call->Cancel();
}

void Runner::Fail(const AttemptPtr& at, TaskResult::Outcome outcome,
                  const absl::Status& error) {
  TaskResult r;
  r.set_outcome(outcome);
  SetError(r.mutable_record()->mutable_error(), error,
           outcome == TaskResult::OUTCOME_RETRYABLE || outcome == TaskResult::OUTCOME_CAPACITY);
  Finish(at, std::move(r));
}

void Runner::Finish(const AttemptPtr& at, TaskResult result) {
  if (at->ended.exchange(true)) return;
  if (!at->worktree.empty()) repos_.Release(at->a.task().job_id());
  {
    MutexLock l(&mu_);
    auto it = attempts_.find(at->a.lease().task_id());
    if (it != attempts_.end() && it->second == at) attempts_.erase(it);
  }
  const absl::Time end = clock_->Now();
  if (at->dropped) {  // the coordinator no longer wants it
    at->span.AddEvent("cancelled", end,
                      {StringAttr("kiln.reason", at->cancel.reason())});
    at->span.End(end);
    return;
  }
  kiln::v1::AttemptRecord rec = at->rec;
  rec.MergeFrom(result.record());
  TimeToProto(end, rec.mutable_end_time());
  DurationToProto(end - at->start, rec.mutable_timings()->mutable_total());
  *result.mutable_record() = std::move(rec);
  *result.mutable_lease() = at->a.lease();
  EndAttemptSpan(at, result);
  finished_++;
  at->port->Report(std::move(result));
}

void Runner::EndAttemptSpan(const AttemptPtr& at, const TaskResult& result) {
  if (!at->span.recording()) return;
  const kiln::v1::AttemptRecord& rec = result.record();
  const absl::Time end = TimeFromProto(rec.end_time());
  if (at->a.task().kind() != kiln::v1::TASK_KIND_BUILD) {
    SetUsageAttributes(rec.usage(), rec.cost_usd(), &at->span);
  }
  at->span.SetString("kiln.outcome", OutcomeName(result.outcome()))
      .SetInt("kiln.permit.wait_ms",
              absl::ToInt64Milliseconds(DurationFromProto(rec.timings().permit_wait())));
  if (result.outcome() != TaskResult::OUTCOME_SUCCEEDED) {
    at->span.SetError(OutcomeName(result.outcome()), rec.error().message(), end);
  }
  at->span.End(end);
}

void Runner::Prepare(const AttemptPtr& at) {
  if (at->dropped) return Finish(at, {});
  const kiln::v1::Assignment& a = at->a;
  const kiln::v1::Task& task = a.task();
  const kiln::v1::JobSpec& job = a.job();

  absl::StatusOr<std::string> wt = repos_.Acquire(task.job_id(), job.repo());
  if (!wt.ok()) {
    const bool permanent = wt.status().code() == absl::StatusCode::kNotFound ||
                           wt.status().code() == absl::StatusCode::kInvalidArgument;
    return Fail(at, permanent ? TaskResult::OUTCOME_FAILED : TaskResult::OUTCOME_RETRYABLE,
                wt.status());
  }
  at->worktree = *wt;

  // The deps' generated files (all of the job's for a BUILD) go into the
  // worktree, where checks and builds see them.
  std::string repaired;  // REPAIR: the code the diagnostics are about
  std::vector<QuotedFile> deps;
  auto place = [&](const kiln::v1::Artifact& art) -> absl::Status {
    absl::StatusOr<std::string> bytes = Download(at, art.digest());
    if (!bytes.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "download of ", art.path(), ": ", bytes.status().message()));
    }
    absl::Status w = repos_.WriteFile(task.job_id(), art.path(), *bytes);
    if (!w.ok()) return w;
    if (task.kind() == kiln::v1::TASK_KIND_REPAIR && art.path() == task.path()) {
      repaired = std::move(*bytes);
    } else {
      deps.push_back({art.path(), std::move(*bytes)});
    }
    return absl::OkStatus();
  };
  for (const auto* list : {&a.dep_artifacts(), &a.job_artifacts()}) {
    for (const auto& art : *list) {
      absl::Status s = place(art);
      if (!s.ok()) {
        return Fail(at, s.code() == absl::StatusCode::kUnavailable
                            ? TaskResult::OUTCOME_RETRYABLE
                            : TaskResult::OUTCOME_FAILED,
                    s);
      }
    }
  }

  if (task.kind() == kiln::v1::TASK_KIND_BUILD) {
    at->port->LlmDone(a.lease());
    if (job.build().command().empty()) {
      TaskResult r;
      r.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
      return Finish(at, std::move(r));
    }
    Command c;
    c.command = job.build().command();
    c.timeout = job.build().has_timeout() ? DurationFromProto(job.build().timeout())
                                          : options_.build_timeout;
    c.semaphore = job.build().semaphore().empty() ? options_.semaphore
                                                  : job.build().semaphore();
    c.permits = job.build().permits() > 0 ? job.build().permits() : 1;
    PostBuild([this, at, c] { RunCommands(at, {c}); });
    return;
  }

  if (task.kind() == kiln::v1::TASK_KIND_SELECT) return Select(at);
  if (task.kind() == kiln::v1::TASK_KIND_LAND) return Land(at, std::move(deps));

  PromptInputs& in = at->inputs;
  in.model = task.model();
  in.system = job.context().system();
  in.instructions = job.context().instructions();
  for (int i = 0; i < job.context().files_size(); ++i) {
    const std::string& path = job.context().files(i);
    absl::StatusOr<std::string> content = ReadRepoFile(at->worktree, path);
    if (!content.ok()) {
      return Fail(at, TaskResult::OUTCOME_FAILED,
                  absl::Status(content.status().code(),
                               absl::StrCat("context.files[", i, "]: ",
                                            content.status().message())));
    }
    in.context.push_back({path, std::move(*content)});
  }
  in.deps = std::move(deps);
  in.sampling = job.model().sampling();
  in.max_output_tokens = task.max_output_tokens();
  in.budget = options_.budget;
  if (task.kind() == kiln::v1::TASK_KIND_PLAN) {
    in.plan_task = job.task();
  } else {
    in.path = task.path();
    kiln::v1::FileSpec file;
    file.set_path(task.path());
    for (const auto& f : job.files()) {
      if (f.path() == task.path()) file = f;
    }
    in.language = file.language();
    in.file_instructions = file.instructions().empty() ? job.instructions() : file.instructions();
    in.expected_tokens = file.expected_tokens();
    const bool repair = task.kind() == kiln::v1::TASK_KIND_REPAIR;
    if (absl::Status s = PlanFile(at, file, repair ? &repaired : nullptr); !s.ok()) {
      return Fail(at, TaskResult::OUTCOME_FAILED, s);
    }
    if (repair) {
      absl::StatusOr<std::string> diags = Download(at, a.diagnostics());
      if (!diags.ok()) {
        return Fail(at, TaskResult::OUTCOME_RETRYABLE,
                    absl::UnavailableError(absl::StrCat(
                        "download of the diagnostics: ", diags.status().message())));
      }
      // An edit's prompt quotes the version being repaired as its current
      // content; a new file's shows it as the model's last reply.
      in.repairs.push_back(
          {in.edit ? std::string()
                   : absl::StrCat("```", LanguageForPath(task.path()), "\n", repaired,
                                  repaired.empty() || repaired.back() == '\n' ? "" : "\n",
                                  "```\n"),
           *diags});
    }
  }
  StartLlm(at);
}

void Runner::StartLlm(const AttemptPtr& at) {
  absl::StatusOr<kiln::v1::Prompt> prompt = BuildPrompt(at->inputs);
  if (!prompt.ok()) return Fail(at, TaskResult::OUTCOME_FAILED, prompt.status());
  at->llm = tracer_->StartSpan("llm.request", at->span.context(), clock_->Now(),
                               SpanKind::kClient);
  at->llm.SetString("gen_ai.operation.name", "chat")
      .SetString("gen_ai.system", provider_->name())
      .SetString("gen_ai.request.model", prompt->model())
      .SetInt("gen_ai.request.max_tokens", prompt->max_output_tokens());
  if (at->llm.context().valid()) {
    prompt->set_traceparent(FormatTraceparent(at->llm.context()));
  }
  StreamCallbacks cb;
  std::weak_ptr<Attempt> weak = at;
  cb.on_first_token = [this, weak] {
    AttemptPtr at = weak.lock();
    if (!at) return;
    {
      MutexLock l(&at->mu);
      if (at->first_token) return;
      at->first_token = true;
    }
    TimeToProto(clock_->Now(), at->rec.mutable_first_token_time());
    at->port->FirstToken(at->a.lease());
  };
  // Every request is billed to the attempt as it ends, so a call that fails
  // still accounts for what it sent.
  cb.on_request = [this, weak](const LlmRequestRecord& q) {
    if (AttemptPtr at = weak.lock()) AddRequest(at, q);
  };
  cb.on_done = [this, at](absl::StatusOr<LlmResult> r) {
    PostIo([this, at, r = std::move(r)]() mutable { AfterLlm(at, std::move(r)); });
    MutexLock l(&mu_);
    calls_in_flight_--;
    calls_cv_.SignalAll();
  };
  {
    MutexLock l(&mu_);
    calls_in_flight_++;
  }
  ReportSpend(at, /*request_open=*/true);
  std::unique_ptr<LlmCall> call = provider_->Start(*prompt, std::move(cb));
  MutexLock l(&at->mu);
  at->call = std::move(call);
  if (at->dropped) at->call->Cancel();
}

void Runner::AddRequest(const AttemptPtr& at, const LlmRequestRecord& q) {
  kiln::v1::LlmRequest* r = at->rec.add_llm_requests();
  r->set_outcome(q.outcome);
  r->set_http_status(q.http_status);
  r->set_request_id(q.request_id);
  r->set_response_id(q.response_id);
  *r->mutable_usage() = UsageOf(q);
  r->set_error(q.error);
  r->set_retried(q.retried);
  ::kiln::AddUsage(r->usage(), at->rec.mutable_usage());
  if (const ModelProfile* p = models_->Find(at->a.task().model())) {
    r->set_cost_usd(p->Cost(q.usage));
    at->rec.set_cost_usd(at->rec.cost_usd() + p->Cost(q.usage));
    at->rec.set_uncached_cost_usd(at->rec.uncached_cost_usd() + p->UncachedCost(q.usage));
  }
  if (!q.request_id.empty() || !q.response_id.empty()) {
    at->rec.set_provider_request_id(!q.request_id.empty() ? q.request_id : q.response_id);
  }
  ReportSpend(at, /*request_open=*/q.retried);
}

void Runner::ReportSpend(const AttemptPtr& at, bool request_open) {
  kiln::v1::Progress p;
  *p.mutable_lease() = at->a.lease();
  *p.mutable_usage() = at->rec.usage();
  p.set_cost_usd(at->rec.cost_usd());
  p.set_uncached_cost_usd(at->rec.uncached_cost_usd());
  p.set_request_open(request_open);
  at->port->Spent(p);
}

void Runner::AddTimings(const AttemptPtr& at, const LlmResult& r) {
  kiln::v1::Timings* t = at->rec.mutable_timings();
  if (!t->has_time_to_first_token()) {
    DurationToProto(r.timings.ttft, t->mutable_time_to_first_token());
  }
  DurationToProto(DurationFromProto(t->llm()) + r.timings.total, t->mutable_llm());
}

void Runner::AfterLlm(const AttemptPtr& at, absl::StatusOr<LlmResult> result) {
  {
    MutexLock l(&at->mu);
    at->call.reset();
  }
  if (at->llm.recording()) {
    const absl::Time now = clock_->Now();
    if (result.ok()) {
      const ModelProfile* p = models_->Find(at->a.task().model());
      SetUsageAttributes(UsageOf(*result), p ? p->Cost(result->usage) : 0, &at->llm);
      at->llm.SetString("gen_ai.response.id", result->request_id)
          .SetString("kiln.llm.finish_reason", result->finish_reason)
          .SetInt("kiln.llm.ttft_ms", absl::ToInt64Milliseconds(result->timings.ttft))
          .SetInt("kiln.llm.queue_ms", absl::ToInt64Milliseconds(result->timings.queue));
    } else {
      at->llm.SetError(absl::StatusCodeToString(result.status().code()),
                       result.status().message(), now);
    }
    at->llm.End(now);
  }
  if (at->dropped) return Finish(at, {});
  const kiln::v1::Task& task = at->a.task();
  if (!result.ok()) {
    const bool retry = RetryableLlmError(result.status().code());
    const TaskResult::Outcome outcome =
        result.status().code() == absl::StatusCode::kResourceExhausted
            ? TaskResult::OUTCOME_CAPACITY  // still rate limited after the retries
            : (retry ? TaskResult::OUTCOME_RETRYABLE : TaskResult::OUTCOME_FAILED);
    return Fail(at, outcome,
                absl::Status(result.status().code(),
                             absl::StrCat("LLM request: ", result.status().message())));
  }
  AddTimings(at, *result);

  if (task.kind() == kiln::v1::TASK_KIND_PLAN) {
    at->plan_tries++;
    absl::StatusOr<kiln::v1::Plan> plan =
        ParsePlanReply(result->text, at->a.job(), *models_);
    if (plan.ok()) {
      TaskResult r;
      r.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
      *r.mutable_plan() = std::move(*plan);
      return Finish(at, std::move(r));
    }
    if (at->plan_tries < 2) {
      // Once more, with what was wrong.
      at->inputs.repairs.push_back({result->text, std::string(plan.status().message())});
      return StartLlm(at);
    }
    return Fail(at, TaskResult::OUTCOME_FAILED,
                absl::InvalidArgumentError(absl::StrCat(
                    "invalid plan (also after a retry with the errors): ",
                    plan.status().message())));
  }

  // GENERATE / REPAIR: the reply becomes the file (written whole, or the
  // edit applied), which goes into the worktree, then to the blob store.
  const AppliedReply applied = ApplyReply(at->file, result->text);
  *at->rec.mutable_edit() = applied.edit;
  const std::string& code = applied.content;
  absl::Status w = repos_.WriteFile(task.job_id(), task.path(), code);
  if (!w.ok()) return Fail(at, TaskResult::OUTCOME_FAILED, w);
  absl::StatusOr<kiln::v1::Digest> digest = Upload(at, code);
  if (!digest.ok()) {
    return Fail(at, TaskResult::OUTCOME_RETRYABLE,
                absl::UnavailableError(absl::StrCat(
                    "upload of ", task.path(), ": ", digest.status().message())));
  }
  at->artifact.set_job_id(task.job_id());
  at->artifact.set_path(task.path());
  *at->artifact.mutable_digest() = *digest;
  at->artifact.set_task_id(task.id());
  at->artifact.set_attempt(at->a.lease().attempt());

  if (!applied.failures.empty()) {
    // Blocks that did not apply: the repair gets them with the file as it
    // is now (the others applied), and no check runs on a half edit.
    at->port->LlmDone(at->a.lease());
    return EditFailed(at, applied.failures);
  }
  std::vector<Command> commands;
  // A file the edit left as it was is not checked again.
  const bool unchanged = applied.edit.result() == "unchanged";
  for (const auto& check : at->a.job().checks()) {
    if (unchanged) break;
    if (!GlobMatch(check.match(), task.path())) continue;
    Command c;
    c.command = absl::StrReplaceAll(check.command(), {{"{file}", ShellQuote(task.path())}});
    c.timeout = check.has_timeout() ? DurationFromProto(check.timeout())
                                    : options_.check_timeout;
    c.permits = check.permits();
    if (c.permits > 0) c.semaphore = options_.semaphore;
    commands.push_back(std::move(c));
  }
  if (commands.empty()) {
    TaskResult r;
    r.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
    *r.add_artifacts() = at->artifact;
    return Finish(at, std::move(r));
  }
  at->port->LlmDone(at->a.lease());
  PostBuild([this, at, commands = std::move(commands)] { RunCommands(at, commands); });
}

absl::StatusOr<kiln::v1::Digest> Runner::Upload(const AttemptPtr& at,
                                                const std::string& bytes) {
  return RetryTransferOr<kiln::v1::Digest>([&] { return at->port->UploadBlob(bytes); },
                                           &at->cancel, options_.transfers);
}

absl::StatusOr<std::string> Runner::Download(const AttemptPtr& at,
                                             const kiln::v1::Digest& digest) {
  return RetryTransferOr<std::string>([&] { return at->port->DownloadBlob(digest); },
                                      &at->cancel, options_.transfers);
}

}  // namespace kiln
