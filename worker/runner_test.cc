#include "worker/runner.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/fake_span_sink.h"
#include "common/mutex.h"
#include "common/test_dir.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "llm/sim/in_process_provider.h"
#include "worker/fake_permits.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using kiln::v1::TaskResult;

// The coordinator's side of a session, in memory.
class FakePort : public WorkerPort {
 public:
  void FirstToken(const kiln::v1::Lease& lease) override {
    MutexLock l(&mu_);
    first_tokens_.push_back(lease.task_id());
  }
  void LlmDone(const kiln::v1::Lease& lease) override {
    MutexLock l(&mu_);
    llm_done_.push_back(lease.task_id());
    cv_.SignalAll();
  }
  void Spent(const kiln::v1::Progress& p) override {
    MutexLock l(&mu_);
    spent_.push_back(p);
  }
  std::vector<kiln::v1::Progress> spent() {
    MutexLock l(&mu_);
    return spent_;
  }
  void Report(TaskResult result) override {
    MutexLock l(&mu_);
    reports_.push_back(std::move(result));
    cv_.SignalAll();
  }
  absl::StatusOr<kiln::v1::Digest> UploadBlob(const std::string& bytes) override {
    const kiln::v1::Digest d = DigestOf(bytes);
    MutexLock l(&mu_);
    ++upload_calls_;
    if (failing_uploads_ > 0) {
      --failing_uploads_;
      cv_.SignalAll();
      return absl::UnavailableError("failed to connect to all addresses");
    }
    blobs_[d.hash()] = bytes;
    return d;
  }
  absl::StatusOr<std::string> DownloadBlob(const kiln::v1::Digest& d) override {
    MutexLock l(&mu_);
    auto it = blobs_.find(d.hash());
    if (it == blobs_.end()) return absl::NotFoundError(d.hash());
    return it->second;
  }
  std::string worker_id() const override { return "w-test"; }

  // The next `n` uploads fail as with the coordinator down.
  void FailUploads(int n) {
    MutexLock l(&mu_);
    failing_uploads_ = n;
  }
  int upload_calls() {
    MutexLock l(&mu_);
    return upload_calls_;
  }
  // Until `n` uploads were tried (a minute at most).
  void WaitUploadCalls(int n) {
    MutexLock l(&mu_);
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (upload_calls_ < n && absl::Now() < deadline) {
      cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
    }
  }

  // The reports so far, once there are `n` (a minute at most).
  std::vector<TaskResult> Wait(size_t n) {
    MutexLock l(&mu_);
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (reports_.size() < n && absl::Now() < deadline) {
      cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
    }
    return reports_;
  }
  std::string Blob(const kiln::v1::Digest& d) { return *DownloadBlob(d); }
  std::vector<std::string> first_tokens() {
    MutexLock l(&mu_);
    return first_tokens_;
  }
  std::vector<std::string> llm_done() {
    MutexLock l(&mu_);
    return llm_done_;
  }
  // Until some attempt freed its LLM slot (a minute at most).
  bool WaitLlmDone() {
    MutexLock l(&mu_);
    const absl::Time deadline = absl::Now() + absl::Minutes(1);
    while (llm_done_.empty() && absl::Now() < deadline) {
      cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
    }
    return !llm_done_.empty();
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::vector<TaskResult> reports_;
  std::map<std::string, std::string> blobs_;
  std::vector<std::string> first_tokens_;
  std::vector<std::string> llm_done_;
  std::vector<kiln::v1::Progress> spent_;
  int failing_uploads_ = 0;
  int upload_calls_ = 0;
};

// Answers each request with the next scripted reply, and keeps the prompts.
class ScriptedProvider : public Provider {
 public:
  explicit ScriptedProvider(std::vector<std::string> replies)
      : replies_(std::move(replies)) {}
  std::string name() const override { return "scripted"; }
  std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt& prompt,
                                 StreamCallbacks cb) override {
    std::string reply;
    {
      MutexLock l(&mu_);
      prompts_.push_back(PromptText(prompt));
      reply = replies_.at(std::min(next_++, replies_.size() - 1));
    }
    cb.on_first_token();
    LlmResult r;
    r.text = reply;
    r.usage.input = 100;
    r.usage.output = 50;
    r.attempts = 1;
    LlmRequestRecord req;
    req.outcome = "ok";
    req.usage = r.usage;
    r.requests = {req};
    if (cb.on_request) cb.on_request(req);
    cb.on_done(r);
    struct Done : LlmCall {
      void Cancel() override {}
    };
    return std::make_unique<Done>();
  }
  std::vector<std::string> prompts() {
    MutexLock l(&mu_);
    return prompts_;
  }

 private:
  Mutex mu_;
  std::vector<std::string> replies_;
  size_t next_ = 0;
  std::vector<std::string> prompts_;
};

// Plays one call: the request records, then the end (a reply or an error).
class PlayedProvider : public Provider {
 public:
  PlayedProvider(std::vector<LlmRequestRecord> requests, absl::StatusOr<LlmResult> end)
      : requests_(std::move(requests)), end_(std::move(end)) {}
  std::string name() const override { return "played"; }
  std::unique_ptr<LlmCall> Start(const kiln::v1::Prompt&, StreamCallbacks cb) override {
    if (end_.ok() && cb.on_first_token) cb.on_first_token();
    for (const auto& r : requests_) cb.on_request(r);
    cb.on_done(end_);
    struct Done : LlmCall {
      void Cancel() override {}
    };
    return std::make_unique<Done>();
  }

 private:
  std::vector<LlmRequestRecord> requests_;
  absl::StatusOr<LlmResult> end_;
};

kiln::v1::Assignment Assign(const std::string& task_id, kiln::v1::TaskKind kind,
                            const std::string& path, const kiln::v1::JobSpec& job) {
  kiln::v1::Assignment a;
  a.mutable_lease()->set_task_id(task_id);
  a.mutable_lease()->set_attempt(1);
  kiln::v1::Task* t = a.mutable_task();
  t->set_id(task_id);
  t->set_job_id("b1/" + job.name());
  t->set_kind(kind);
  t->set_path(path);
  t->set_model("gpt-4o-mini");
  t->set_max_output_tokens(4000);
  *a.mutable_job() = job;
  return a;
}

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = FreshTestDir("repo");
    std::ofstream(fs::path(repo_) / "README") << "the repo\n";
    // Without it node --check accepts any file that uses `export`.
    std::ofstream(fs::path(repo_) / "package.json") << "{\"type\": \"module\"}\n";
    job_.set_name("web");
    job_.mutable_repo()->set_path(repo_);
    job_.mutable_model()->set_model("gpt-4o-mini");
    job_.mutable_context()->set_system("You write JavaScript.");
    job_.mutable_context()->add_files("README");
    for (const char* p : {"web/a.js", "web/b.js"}) {
      kiln::v1::FileSpec* f = job_.add_files();
      f->set_path(p);
      f->set_instructions("a module");
      f->set_expected_tokens(200);
    }
    job_.mutable_files(1)->add_deps("web/a.js");
    kiln::v1::CheckSpec* c = job_.add_checks();
    c->set_match("*.js");
    c->set_command("node --check {file}");
  }

  std::unique_ptr<Runner> MakeRunner(Provider* provider, PermitSource* permits,
                                     int build_slots = 2, Tracer* tracer = nullptr) {
    RunnerOptions o;
    o.work_dir = FreshTestDir("work");
    o.build_slots = build_slots;
    o.tracer = tracer;
    o.transfers.first = absl::Milliseconds(1);
    o.transfers.max = absl::Milliseconds(5);
    return std::make_unique<Runner>(o, provider, &models_, &sandbox_, permits);
  }

  std::unique_ptr<SimProvider> Sim(double defect_rate) {
    SimProviderOptions o;
    o.time_scale = 1000;
    o.sim.defect_rate = defect_rate;
    return std::make_unique<SimProvider>(&models_, o);
  }

  const ModelCatalog models_ = ModelCatalog::Builtin();
  BwrapSandbox sandbox_;
  FakePermits permits_{1};
  FakePort port_;
  std::string repo_;
  kiln::v1::JobSpec job_;
};

TEST_F(RunnerTest, GenerateWritesChecksAndReportsUsage) {
  auto sim = Sim(0);
  auto runner = MakeRunner(sim.get(), &permits_);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  const TaskResult& r = reports[0];
  ASSERT_EQ(r.outcome(), TaskResult::OUTCOME_SUCCEEDED) << r.DebugString();
  ASSERT_EQ(r.artifacts_size(), 1);
  EXPECT_EQ(r.artifacts(0).path(), "web/a.js");
  EXPECT_TRUE(absl::StrContains(port_.Blob(r.artifacts(0).digest()), "export function"));
  EXPECT_EQ(r.lease().task_id(), "t1");
  EXPECT_GT(r.record().usage().output_tokens(), 0);
  EXPECT_GT(r.record().usage().input_tokens(), 0);
  EXPECT_EQ(r.record().usage().requests(), 1);
  EXPECT_GT(r.record().cost_usd(), 0);
  EXPECT_EQ(r.record().worker_id(), "w-test");
  EXPECT_TRUE(r.record().has_first_token_time());
  EXPECT_TRUE(r.record().timings().has_llm());
  ASSERT_EQ(r.record().checks_size(), 1);
  EXPECT_EQ(r.record().checks(0).command(), "node --check 'web/a.js'");
  EXPECT_EQ(r.record().checks(0).exit_code(), 0);
  EXPECT_EQ(port_.first_tokens(), std::vector<std::string>{"t1"});
  EXPECT_EQ(port_.llm_done(), std::vector<std::string>{"t1"});
  // The spend went to the coordinator as it happened: a request open, then
  // its usage, so a lost attempt would still be billed.
  const auto spent = port_.spent();
  ASSERT_EQ(spent.size(), 2u);
  EXPECT_TRUE(spent[0].request_open());
  EXPECT_EQ(spent[0].usage().requests(), 0);
  EXPECT_FALSE(spent[1].request_open());
  EXPECT_EQ(spent[1].usage().output_tokens(), r.record().usage().output_tokens());
  EXPECT_DOUBLE_EQ(spent[1].cost_usd(), r.record().cost_usd());
}

// The coordinator is down when the file is ready: the upload is retried
// until it answers, and the paid reply is delivered, not generated again.
TEST_F(RunnerTest, AFinishedFileIsUploadedOnceTheCoordinatorAnswersAgain) {
  ScriptedProvider scripted({"```js\nexport function f() { return 1; }\n```\n"});
  auto runner = MakeRunner(&scripted, &permits_);
  port_.FailUploads(5);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  EXPECT_EQ(scripted.prompts().size(), 1u);  // one paid request
  EXPECT_GE(port_.upload_calls(), 6);
  EXPECT_EQ(port_.Blob(reports[0].artifacts(0).digest()),
            "export function f() { return 1; }\n");
}

// ... until the attempt is cancelled (the lease is no longer this worker's).
TEST_F(RunnerTest, UploadRetriesEndWhenTheAttemptIsCancelled) {
  ScriptedProvider scripted({"```js\nexport function f() { return 1; }\n```\n"});
  auto runner = MakeRunner(&scripted, &permits_);
  port_.FailUploads(1 << 30);
  const kiln::v1::Assignment a = Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_);
  runner->Run(a, &port_);
  port_.WaitUploadCalls(3);
  runner->Cancel(a.lease());
  runner->Stop();  // joins: the retry loop ended
  EXPECT_EQ(runner->running(), 0);
  EXPECT_TRUE(port_.Wait(0).empty());
}

TEST_F(RunnerTest, DefectIsReportedWithDiagnosticsAndTheRepairFixesIt) {
  auto sim = Sim(1.0);  // every first attempt is broken
  auto runner = MakeRunner(sim.get(), &permits_);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  const TaskResult& failed = reports[0];
  ASSERT_EQ(failed.outcome(), TaskResult::OUTCOME_CHECK_FAILED) << failed.DebugString();
  ASSERT_EQ(failed.artifacts_size(), 1);
  const std::string diags = port_.Blob(failed.diagnostics());
  EXPECT_TRUE(absl::StrContains(diags, "$ node --check 'web/a.js'")) << diags;
  EXPECT_TRUE(absl::StrContains(diags, "web/a.js")) << diags;
  EXPECT_TRUE(absl::StrContains(diags, "SyntaxError")) << diags;
  EXPECT_NE(failed.record().checks(0).exit_code(), 0);
  EXPECT_FALSE(failed.record().error().message().empty());

  kiln::v1::Assignment repair =
      Assign("t1.r1", kiln::v1::TASK_KIND_REPAIR, "web/a.js", job_);
  *repair.add_dep_artifacts() = failed.artifacts(0);
  *repair.mutable_diagnostics() = failed.diagnostics();
  runner->Run(repair, &port_);
  reports = port_.Wait(2);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[1].outcome(), TaskResult::OUTCOME_SUCCEEDED)
      << reports[1].DebugString() << port_.Blob(reports[1].diagnostics());
}

TEST_F(RunnerTest, DepsComeFromTheBlobStoreIntoThePromptAndTheWorktree) {
  ScriptedProvider scripted({"```js\nimport { f } from './a.js';\nexport function g() { return f(); }\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::Assignment a = Assign("t2", kiln::v1::TASK_KIND_GENERATE, "web/b.js", job_);
  kiln::v1::Artifact* dep = a.add_dep_artifacts();
  dep->set_path("web/a.js");
  *dep->mutable_digest() = *port_.UploadBlob("export function f() { return 1; }\n");
  runner->Run(a, &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  const std::string prompt = scripted.prompts().at(0);
  EXPECT_TRUE(absl::StrContains(prompt, "export function f()"));  // dep code
  EXPECT_TRUE(absl::StrContains(prompt, "the repo"));             // context file
}

TEST_F(RunnerTest, InvalidPlanIsRetriedOnceWithTheErrors) {
  const std::string bad = "```yaml\nfiles:\n  - {path: ../../etc/passwd, instructions: x}\n```";
  const std::string good =
      "```yaml\nfiles:\n  - {path: src/a.py, instructions: x}\n"
      "  - {path: src/b.py, instructions: y, deps: [src/a.py]}\nsummary: two files\n```";
  ScriptedProvider scripted({bad, good});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.clear_files();
  job.clear_checks();
  job.set_task("a tiny service");
  runner->Run(Assign("p1", kiln::v1::TASK_KIND_PLAN, "", job), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  EXPECT_EQ(reports[0].plan().files_size(), 2);
  EXPECT_EQ(reports[0].plan().summary(), "two files");
  EXPECT_EQ(reports[0].record().usage().requests(), 2);
  ASSERT_EQ(scripted.prompts().size(), 2u);
  EXPECT_TRUE(absl::StrContains(scripted.prompts()[1], "That plan is not valid:"));
  EXPECT_TRUE(absl::StrContains(scripted.prompts()[1], "files[0].path")) << scripted.prompts()[1];
}

TEST_F(RunnerTest, PlanThatStaysInvalidFailsNamingThePath) {
  ScriptedProvider scripted(
      {"```yaml\nfiles:\n  - {path: ../../etc/passwd, instructions: x}\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.clear_files();
  job.set_task("overwrite `../../etc/passwd`");
  runner->Run(Assign("p1", kiln::v1::TASK_KIND_PLAN, "", job), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_FAILED);
  const std::string msg = reports[0].record().error().message();
  EXPECT_TRUE(absl::StrContains(msg, "invalid plan")) << msg;
  EXPECT_TRUE(absl::StrContains(msg, "plan:2:")) << msg;  // the line in the plan
  EXPECT_TRUE(absl::StrContains(msg, "files[0].path")) << msg;
  EXPECT_EQ(scripted.prompts().size(), 2u);
}

TEST_F(RunnerTest, SymlinkOutOfTheWorktreeIsRefused) {
  const std::string outside = FreshTestDir("outside");
  fs::create_symlink(outside, fs::path(repo_) / "out");
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_files(0)->set_path("out/x.js");
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "out/x.js", job), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_FAILED);
  EXPECT_TRUE(absl::StrContains(reports[0].record().error().message(), "outside the worktree"))
      << reports[0].record().error().message();
  EXPECT_TRUE(fs::is_empty(outside));
}

TEST_F(RunnerTest, HangingCheckIsKilledAtItsLimitAndReported) {
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_checks(0)->set_command("sleep 300");
  job.mutable_checks(0)->mutable_timeout()->set_nanos(300000000);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  const TaskResult& r = reports[0];
  EXPECT_EQ(r.outcome(), TaskResult::OUTCOME_CHECK_FAILED);
  ASSERT_EQ(r.record().checks_size(), 1);
  EXPECT_TRUE(r.record().checks(0).killed());
  EXPECT_EQ(r.record().checks(0).exit_code(), -9);
  EXPECT_TRUE(absl::StrContains(port_.Blob(r.diagnostics()), "0.30s time limit"))
      << port_.Blob(r.diagnostics());
}

TEST_F(RunnerTest, PermitsBoundConcurrentChecks) {
  FakePermits permits(2);
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  auto runner = MakeRunner(&scripted, &permits, /*build_slots=*/4);
  kiln::v1::JobSpec job = job_;
  job.mutable_checks(0)->set_permits(1);
  // The first two checks wait for each other (in the job's worktree), so
  // the test fails if checks run one at a time as surely as if three run
  // at once on two permits.
  job.mutable_checks(0)->set_command(
      "node --check {file} && mkdir -p .meet && touch .meet/$(basename {file}) && "
      "for i in $(seq 1 1200); do [ $(ls .meet | wc -l) -ge 2 ] && exit 0; sleep 0.05; done; "
      "exit 1");
  for (int i = 0; i < 8; ++i) {
    job.mutable_files(0)->set_path(absl::StrCat("web/f", i, ".js"));
    runner->Run(Assign(absl::StrCat("t", i), kiln::v1::TASK_KIND_GENERATE,
                       absl::StrCat("web/f", i, ".js"), job),
                &port_);
  }
  auto reports = port_.Wait(8);
  ASSERT_EQ(reports.size(), 8u);
  for (const auto& r : reports) {
    EXPECT_EQ(r.outcome(), TaskResult::OUTCOME_SUCCEEDED) << r.DebugString();
    EXPECT_EQ(r.record().checks(0).permits(), 1);
    EXPECT_EQ(r.record().checks(0).semaphore(), "compile");
  }
  EXPECT_EQ(permits.grants(), 8);
  EXPECT_EQ(permits.max_in_use(), 2);
}

TEST_F(RunnerTest, LostPermitKillsTheCheckAndIsRetryable) {
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_checks(0)->set_permits(1);
  job.mutable_checks(0)->set_command("sleep 300");
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job), &port_);
  ASSERT_TRUE(permits_.WaitForGrants(1));
  permits_.LoseAll();
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_RETRYABLE);
  EXPECT_TRUE(absl::StrContains(reports[0].record().error().message(), "lost its lease"))
      << reports[0].record().error().message();
}

TEST_F(RunnerTest, CancelledAttemptReportsNothing) {
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_checks(0)->set_command("touch started; sleep 300");
  kiln::v1::Assignment a = Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job);
  runner->Run(a, &port_);
  ASSERT_TRUE(port_.WaitLlmDone());
  runner->Cancel(a.lease());
  // The attempt ends (its check is killed) without reporting; a readiness
  // wait, bounded.
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  while (runner->running() > 0 && absl::Now() < deadline) std::this_thread::yield();
  EXPECT_EQ(runner->running(), 0);
  EXPECT_TRUE(port_.Wait(0).empty());
  EXPECT_EQ(runner->finished(), 0);
}

TEST_F(RunnerTest, BuildRunsOverTheJobsFiles) {
  ScriptedProvider scripted({"unused"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_build()->set_command("cat web/a.js web/b.js > all.txt && grep -q two all.txt");
  kiln::v1::Assignment a = Assign("b", kiln::v1::TASK_KIND_BUILD, "", job);
  for (const char* p : {"web/a.js", "web/b.js"}) {
    kiln::v1::Artifact* art = a.add_job_artifacts();
    art->set_path(p);
    *art->mutable_digest() = *port_.UploadBlob(absl::StrCat("// ", p, " one two\n"));
  }
  runner->Run(a, &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  EXPECT_EQ(reports[0].record().checks(0).permits(), 1);  // builds take one by default
  EXPECT_TRUE(scripted.prompts().empty());
  EXPECT_EQ(port_.llm_done(), std::vector<std::string>{"b"});
}

TEST_F(RunnerTest, MissingContextFileFailsNamingTheField) {
  ScriptedProvider scripted({"unused"});
  auto runner = MakeRunner(&scripted, &permits_);
  kiln::v1::JobSpec job = job_;
  job.mutable_context()->add_files("docs/missing.md");
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_FAILED);
  EXPECT_TRUE(absl::StrContains(reports[0].record().error().message(), "context.files[1]"))
      << reports[0].record().error().message();
}

TEST_F(RunnerTest, AFailedCheckIsTracedUnderTheTaskSpan) {
  FakeSpanSink spans;
  Tracer tracer("kiln-worker", &spans, 1.0);
  auto sim = Sim(1.0);  // the check fails
  auto runner = MakeRunner(sim.get(), &permits_, 2, &tracer);
  job_.mutable_checks(0)->set_permits(1);
  kiln::v1::Assignment a = Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_);
  const std::string task_span = "00f067aa0ba902b7";
  a.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-" + task_span + "-01");
  runner->Run(a, &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  const TaskResult& r = reports[0];
  ASSERT_EQ(r.outcome(), TaskResult::OUTCOME_CHECK_FAILED);

  ASSERT_EQ(spans.Named("attempt").size(), 1u);
  const otlp::Span attempt = spans.Named("attempt")[0];
  EXPECT_EQ(absl::BytesToHexString(attempt.parent_span_id()), task_span);
  EXPECT_EQ(AttrText(attempt, "kiln.outcome"), "CHECK_FAILED");
  EXPECT_EQ(AttrText(attempt, "kiln.file.path"), "web/a.js");
  EXPECT_EQ(AttrInt(attempt, "kiln.attempt"), 1);
  EXPECT_EQ(AttrText(attempt, "kiln.worker.id"), "w-test");
  EXPECT_EQ(AttrText(attempt, "gen_ai.system"), "sim");
  using opentelemetry::proto::trace::v1::Status;
  EXPECT_EQ(attempt.status().code(), Status::STATUS_CODE_ERROR);
  ASSERT_GE(attempt.events_size(), 1);
  EXPECT_EQ(attempt.events(0).name(), "exception");

  ASSERT_EQ(spans.Named("llm.request").size(), 1u);
  const otlp::Span llm = spans.Named("llm.request")[0];
  EXPECT_EQ(llm.parent_span_id(), attempt.span_id());
  EXPECT_EQ(llm.kind(), otlp::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(AttrText(llm, "gen_ai.request.model"), "gpt-4o-mini");
  EXPECT_EQ(AttrInt(llm, "gen_ai.usage.output_tokens"), r.record().usage().output_tokens());
  EXPECT_EQ(AttrInt(llm, "kiln.usage.full_price_input_tokens"),
            r.record().usage().input_tokens());
  EXPECT_EQ(AttrInt(attempt, "gen_ai.usage.output_tokens"), r.record().usage().output_tokens());

  ASSERT_EQ(spans.Named("semaphore.wait").size(), 1u);
  EXPECT_EQ(spans.Named("semaphore.wait")[0].parent_span_id(), attempt.span_id());
  EXPECT_EQ(AttrText(spans.Named("semaphore.wait")[0], "kiln.semaphore.name"), "compile");

  ASSERT_EQ(spans.Named("check").size(), 1u);
  const otlp::Span check = spans.Named("check")[0];
  EXPECT_EQ(check.parent_span_id(), attempt.span_id());
  EXPECT_EQ(AttrInt(check, "kiln.check.exit_code"), r.record().checks(0).exit_code());
  EXPECT_NE(AttrInt(check, "kiln.check.exit_code"), 0);
  EXPECT_EQ(check.status().code(), Status::STATUS_CODE_ERROR);
  EXPECT_EQ(check.events(0).attributes(0).value().string_value(), "CHECK_FAILED");
  EXPECT_LE(attempt.start_time_unix_nano(), llm.start_time_unix_nano());
  EXPECT_LE(check.end_time_unix_nano(), attempt.end_time_unix_nano());
}

TEST_F(RunnerTest, AnUntracedAssignmentRecordsNoSpans) {
  FakeSpanSink spans;
  Tracer tracer("kiln-worker", &spans, 1.0);
  auto sim = Sim(0);
  auto runner = MakeRunner(sim.get(), &permits_, 2, &tracer);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  ASSERT_EQ(port_.Wait(1).size(), 1u);
  EXPECT_TRUE(spans.spans().empty());
}

TEST_F(RunnerTest, EveryRequestIsBilledAndAFailedOneIsNamed) {
  // A 529 (nothing billed), a dropped stream that had billed its prompt,
  // then the reply.
  LlmRequestRecord overloaded;
  overloaded.outcome = "overloaded";
  overloaded.http_status = 529;
  overloaded.request_id = "req_1";
  overloaded.error = "HTTP 529: overloaded_error: Overloaded";
  overloaded.retried = true;
  LlmRequestRecord dropped;
  dropped.outcome = "dropped";
  dropped.http_status = 200;
  dropped.usage.input = 1000;
  dropped.usage.output = 10;
  dropped.retried = true;
  LlmRequestRecord ok;
  ok.outcome = "ok";
  ok.http_status = 200;
  ok.request_id = "req_3";
  ok.usage.input = 1000;
  ok.usage.output = 200;
  LlmResult res;
  res.text = "```js\nexport function a() { return 1; }\n```\n";
  res.finish_reason = "stop";
  res.usage.input = 2000;
  res.usage.output = 210;
  res.attempts = 3;
  res.requests = {overloaded, dropped, ok};
  PlayedProvider played({overloaded, dropped, ok}, res);
  auto runner = MakeRunner(&played, &permits_);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  const kiln::v1::AttemptRecord& rec = reports[0].record();
  ASSERT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  EXPECT_EQ(rec.usage().requests(), 3);
  EXPECT_EQ(rec.usage().retried_requests(), 2);
  EXPECT_EQ(rec.usage().rate_limited(), 0);
  EXPECT_EQ(rec.usage().input_tokens(), 2000);  // the dropped one's prompt too
  EXPECT_EQ(rec.usage().output_tokens(), 210);
  ASSERT_EQ(rec.llm_requests_size(), 3);
  EXPECT_EQ(rec.llm_requests(0).outcome(), "overloaded");
  EXPECT_EQ(rec.llm_requests(0).http_status(), 529);
  EXPECT_DOUBLE_EQ(rec.llm_requests(0).cost_usd(), 0);
  EXPECT_GT(rec.llm_requests(1).cost_usd(), 0);
  EXPECT_NEAR(rec.cost_usd(),
              rec.llm_requests(1).cost_usd() + rec.llm_requests(2).cost_usd(), 1e-12);
  EXPECT_EQ(rec.provider_request_id(), "req_3");
}

TEST_F(RunnerTest, ACutOffReplyThatCouldNotBeContinuedFailsTheAttempt) {
  LlmRequestRecord cut;
  cut.outcome = "cut_off";
  cut.usage.input = 100;
  cut.usage.output = 4000;
  PlayedProvider played({cut}, absl::OutOfRangeError("output cut off at 4000 tokens (length)"));
  auto runner = MakeRunner(&played, &permits_);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_FAILED);
  EXPECT_EQ(reports[0].record().error().message(),
            "LLM request: output cut off at 4000 tokens (length)");
  EXPECT_FALSE(reports[0].record().error().retryable());
  EXPECT_EQ(reports[0].record().usage().cut_off(), 1);
  EXPECT_EQ(reports[0].record().usage().output_tokens(), 4000);
  EXPECT_EQ(reports[0].artifacts_size(), 0);  // nothing was written
}

TEST_F(RunnerTest, StillRateLimitedAfterTheRetriesIsACapacityOutcome) {
  LlmRequestRecord limited;
  limited.outcome = "rate_limited";
  limited.http_status = 429;
  PlayedProvider played({limited},
                        absl::ResourceExhaustedError("gave up after retries: HTTP 429"));
  auto runner = MakeRunner(&played, &permits_);
  runner->Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].outcome(), TaskResult::OUTCOME_CAPACITY);
  EXPECT_TRUE(reports[0].record().error().retryable());
  EXPECT_EQ(reports[0].record().usage().rate_limited(), 1);
}

TEST_F(RunnerTest, RecordsAreStampedWithTheInjectedClock) {
  FakeClock clock(absl::FromUnixSeconds(1700000000));
  ScriptedProvider scripted({"```js\nexport function f() {}\n```"});
  RunnerOptions o;
  o.work_dir = FreshTestDir("work-clock");
  job_.clear_checks();
  Runner runner(o, &scripted, &models_, &sandbox_, &permits_, &clock);
  runner.Run(Assign("t1", kiln::v1::TASK_KIND_GENERATE, "web/a.js", job_), &port_);
  auto reports = port_.Wait(1);
  ASSERT_EQ(reports.size(), 1u);
  ASSERT_EQ(reports[0].outcome(), TaskResult::OUTCOME_SUCCEEDED) << reports[0].DebugString();
  EXPECT_EQ(reports[0].record().start_time().seconds(), 1700000000);
  EXPECT_EQ(reports[0].record().first_token_time().seconds(), 1700000000);
  EXPECT_EQ(reports[0].record().end_time().seconds(), 1700000000);
}

}  // namespace
}  // namespace kiln
