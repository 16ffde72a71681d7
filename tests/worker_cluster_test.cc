// The whole cluster on loopback: kiln_llmsim (the OpenAI-compatible
// simulator, injecting defects), a kiln_coordinator with 2 `compile`
// permits, and three kiln_worker processes that check files in bubblewrap.
// Real jobs run through it: the 5-file browser renderer and the 40-endpoint
// API, whose generated files must pass their checks (injected defects
// repaired); a worker killed mid-task; a check that hangs; a generated path
// that tries to leave the repository; and the semaphore bound, measured
// from the recorded start and end of every check.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/proto_time.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "spec/spec_parser.h"
#include "tests/kiln_cli.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
constexpr char kToken[] = "cluster-token";

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// A git repository with one commit holding `files`.
std::string MakeRepo(const std::string& dir,
                     const std::map<std::string, std::string>& files) {
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& [path, content] : files) {
    fs::create_directories((fs::path(dir) / path).parent_path());
    std::ofstream(fs::path(dir) / path) << content;
  }
  EXPECT_EQ(Sh(absl::StrCat("cd ", dir,
                            " && git init -q -b main . && git add -A && git -c "
                            "user.email=t@t -c user.name=t commit -qm fixture")),
            0);
  return dir;
}

struct Finished {
  std::string batch;
  kiln::v1::BatchState state = kiln::v1::BATCH_STATE_UNSPECIFIED;
  std::vector<kiln::v1::Task> tasks;
  std::map<std::string, std::string> files;  // path -> content
};

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(absl::StrCat(::testing::TempDir(), "/cluster"));
    fs::remove_all(*dir_);
    fs::create_directories(*dir_);
    const std::string sim_port = *dir_ + "/llmsim.port";
    auto sim = Subprocess::Start(
        {"llm/sim/kiln_llmsim", "--port=0", "--port_file=" + sim_port, "--time_scale=50",
         "--defect_rate=0.5", "--seed=7"},
        {}, *dir_ + "/llmsim.log");
    ASSERT_TRUE(sim.ok()) << sim.status();
    llmsim_ = new Subprocess(std::move(*sim));
    auto sp = WaitForFileLine(sim_port, absl::Seconds(30));
    ASSERT_TRUE(sp.ok()) << sp.status();
    sim_port_ = std::stoi(*sp);

    const std::string port_file = *dir_ + "/coordinator.port";
    auto c = Subprocess::Start(
        {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0", "--port_file=" + port_file,
         "--state_dir=" + *dir_ + "/state", "--permits=compile=2", "--lease_ttl=3s",
         "--heartbeat_interval=500ms"},
        {{"KILN_TOKEN", kToken}}, *dir_ + "/coordinator.log");
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = new Subprocess(std::move(*c));
    auto cp = WaitForFileLine(port_file, absl::Seconds(30));
    ASSERT_TRUE(cp.ok()) << cp.status();
    port_ = std::stoi(*cp);
    workers_ = new std::map<std::string, std::unique_ptr<Subprocess>>();
    for (const char* id : {"w1", "w2", "w3"}) StartWorker(id);
  }

  static void TearDownTestSuite() {
    delete workers_;
    delete coordinator_;
    delete llmsim_;
  }

  static void StartWorker(const std::string& id) {
    auto w = Subprocess::Start(
        {"worker/kiln_worker", absl::StrCat("--coordinator=127.0.0.1:", port_),
         "--worker_id=" + id, "--provider=openai",
         absl::StrCat("--base_url=http://127.0.0.1:", sim_port_, "/v1"),
         "--work_dir=" + *dir_ + "/" + id, "--llm_slots=32", "--build_slots=2",
         "--permit_ttl=3s", "--sandbox=bwrap"},
        {{"KILN_TOKEN", kToken}}, absl::StrCat(*dir_, "/", id, ".log"));
    ASSERT_TRUE(w.ok()) << w.status();
    (*workers_)[id] = std::make_unique<Subprocess>(std::move(*w));
  }

  void SetUp() override {
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_),
                                   grpc::InsecureChannelCredentials());
    jobs_ = kiln::v1::JobService::NewStub(channel_);
  }

  std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout = absl::Seconds(10)) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
    ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
    return ctx;
  }

  kiln::v1::BatchSpec Load(const std::string& yaml_path) {
    auto parsed = ReadSpecFile(yaml_path);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? parsed->batch : kiln::v1::BatchSpec();
  }

  kiln::v1::BatchSpec Parse(const std::string& yaml) {
    auto parsed = ParseSpecYaml(yaml, "test.yaml");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? parsed->batch : kiln::v1::BatchSpec();
  }

  std::string Submit(const kiln::v1::BatchSpec& spec) {
    kiln::v1::SubmitBatchRequest req;
    *req.mutable_spec() = spec;
    kiln::v1::SubmitBatchResponse resp;
    grpc::Status s = jobs_->SubmitBatch(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.batch().id();
  }

  // Watches `batch` to its end; `on_event` sees every event on the way.
  kiln::v1::BatchState Watch(const std::string& batch,
                             const std::function<void(const kiln::v1::Event&)>& on_event = {}) {
    auto ctx = Ctx(absl::Minutes(5));
    kiln::v1::WatchBatchRequest req;
    req.set_batch_id(batch);
    auto reader = jobs_->WatchBatch(ctx.get(), req);
    kiln::v1::Event e;
    kiln::v1::BatchState state = kiln::v1::BATCH_STATE_UNSPECIFIED;
    while (reader->Read(&e)) {
      if (on_event) on_event(e);
      if (e.has_batch()) state = e.batch().state();
    }
    reader->Finish();
    return state;
  }

  Finished Collect(const std::string& batch, kiln::v1::BatchState state) {
    Finished f;
    f.batch = batch;
    f.state = state;
    kiln::v1::ListTasksRequest list;
    list.set_batch_id(batch);
    list.set_page_size(1000);
    kiln::v1::ListTasksResponse tasks;
    EXPECT_TRUE(jobs_->ListTasks(Ctx().get(), list, &tasks).ok());
    f.tasks.assign(tasks.tasks().begin(), tasks.tasks().end());
    kiln::v1::FetchArtifactsRequest fetch;
    fetch.set_batch_id(batch);
    auto ctx = Ctx();
    auto reader = jobs_->FetchArtifacts(ctx.get(), fetch);
    std::string current;
    kiln::v1::FetchArtifactsResponse r;
    while (reader->Read(&r)) {
      if (r.has_artifact()) {
        current = r.artifact().path();
        f.files[current];
      } else {
        f.files[current] += r.chunk().data();
      }
    }
    reader->Finish();
    return f;
  }

  Finished Run(const kiln::v1::BatchSpec& spec) {
    const std::string batch = Submit(spec);
    return Collect(batch, Watch(batch));
  }

  // Writes `files` into a fresh directory with `extra` and runs `check` on
  // each; returns the failures.
  std::vector<std::string> Recheck(const Finished& f, const std::string& name,
                                   const std::map<std::string, std::string>& extra,
                                   const std::string& check) {
    const fs::path out = fs::path(*dir_) / ("recheck-" + name);
    fs::remove_all(out);
    for (const auto& [path, content] : extra) {
      fs::create_directories((out / path).parent_path());
      std::ofstream(out / path) << content;
    }
    std::vector<std::string> failures;
    for (const auto& [path, content] : f.files) {
      fs::create_directories((out / path).parent_path());
      std::ofstream(out / path) << content;
    }
    for (const auto& [path, content] : f.files) {
      const std::string log = (out / "check.log").string();
      const std::string cmd =
          absl::StrCat("cd ", out.string(), " && ", check, " ", path, " >", log, " 2>&1");
      if (Sh(cmd) != 0) failures.push_back(absl::StrCat(path, ": ", Slurp(log)));
    }
    return failures;
  }

  static std::string* dir_;
  static int sim_port_;
  static int port_;
  static Subprocess* llmsim_;
  static Subprocess* coordinator_;
  static std::map<std::string, std::unique_ptr<Subprocess>>* workers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<kiln::v1::JobService::Stub> jobs_;
};

std::string* ClusterTest::dir_ = nullptr;
int ClusterTest::sim_port_ = 0;
int ClusterTest::port_ = 0;
Subprocess* ClusterTest::llmsim_ = nullptr;
Subprocess* ClusterTest::coordinator_ = nullptr;
std::map<std::string, std::unique_ptr<Subprocess>>* ClusterTest::workers_ = nullptr;

const char kPackageJson[] = "{\"type\": \"module\"}\n";

TEST_F(ClusterTest, BrowserRendererFilesPassTheirChecks) {
  kiln::v1::BatchSpec spec = Load("bench/scenarios/browser-renderer.yaml");
  ASSERT_EQ(spec.jobs_size(), 1);
  spec.mutable_jobs(0)->mutable_repo()->set_path(
      MakeRepo(*dir_ + "/repo-browser", {{"package.json", kPackageJson}}));
  Finished f = Run(spec);
  ASSERT_EQ(f.state, kiln::v1::BATCH_STATE_SUCCEEDED);
  for (const char* path :
       {"web/index.html", "web/style.css", "web/input.js", "web/renderer.js", "web/main.js"}) {
    ASSERT_TRUE(f.files.count(path)) << path;
  }
  EXPECT_TRUE(absl::StrContains(f.files["web/renderer.js"], "./input.js"))
      << f.files["web/renderer.js"].substr(0, 600);
  std::map<std::string, std::string> js;
  for (const auto& [p, c] : f.files) {
    if (absl::EndsWith(p, ".js")) js[p] = c;
  }
  Finished only_js = f;
  only_js.files = js;
  const auto failures =
      Recheck(only_js, "browser", {{"package.json", kPackageJson}}, "node --check");
  EXPECT_TRUE(failures.empty()) << failures.front();
  // Every generated .js file was checked by a worker, in the sandbox.
  for (const auto& t : f.tasks) {
    if (t.state() != kiln::v1::TASK_STATE_SUCCEEDED || !absl::EndsWith(t.path(), ".js")) {
      continue;
    }
    const auto& last = t.attempts(t.attempts_size() - 1);
    ASSERT_EQ(last.checks_size(), 1) << t.id();
    EXPECT_EQ(last.checks(0).exit_code(), 0);
    EXPECT_GT(last.usage().output_tokens(), 0);
    EXPECT_TRUE(absl::StartsWith(last.worker_id(), "w")) << last.worker_id();
  }
}

TEST_F(ClusterTest, ApiEndpointsAreRepairedAndTheSemaphoreBoundHolds) {
  kiln::v1::BatchSpec spec = Load("bench/scenarios/api-endpoints.yaml");
  ASSERT_EQ(spec.jobs_size(), 1);
  kiln::v1::JobSpec* job = spec.mutable_jobs(0);
  job->mutable_repo()->set_path(MakeRepo(*dir_ + "/repo-api", {{"api/__init__.py", ""}}));
  // Checks take a permit of the 2 the coordinator has, and long enough that
  // the three workers (6 build slots) contend for them.
  ASSERT_EQ(job->checks_size(), 1);
  job->mutable_checks(0)->set_permits(1);
  job->mutable_checks(0)->set_command("python3 -m py_compile {file} && sleep 0.1");
  Finished f = Run(spec);
  ASSERT_EQ(f.state, kiln::v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(f.files.size(), 41u);
  const auto failures = Recheck(f, "api", {}, "python3 -m py_compile");
  EXPECT_TRUE(failures.empty()) << failures.front();

  // Defects were injected (half the first attempts) and repaired.
  int repairs = 0;
  for (const auto& t : f.tasks) {
    if (t.kind() == kiln::v1::TASK_KIND_REPAIR && t.state() == kiln::v1::TASK_STATE_SUCCEEDED) {
      ++repairs;
    }
  }
  EXPECT_GE(repairs, 5);

  // Never more than 2 checks at once, cluster-wide, from what the workers
  // recorded: +1 at each start, -1 at each end.
  std::vector<std::pair<absl::Time, int>> edges;
  for (const auto& t : f.tasks) {
    for (const auto& a : t.attempts()) {
      for (const auto& c : a.checks()) {
        ASSERT_EQ(c.permits(), 1) << t.id();
        EXPECT_EQ(c.semaphore(), "compile");
        const absl::Time start = TimeFromProto(c.start_time());
        edges.push_back({start, +1});
        edges.push_back({start + DurationFromProto(c.duration()), -1});
      }
    }
  }
  std::sort(edges.begin(), edges.end());  // an end before a start at a tie
  int now = 0, peak = 0;
  for (const auto& [t, d] : edges) {
    now += d;
    peak = std::max(peak, now);
  }
  EXPECT_GE(edges.size(), 2u * 41);
  EXPECT_LE(peak, 2);
  std::printf("checks: %zu, highest concurrency observed: %d (permits 2), repairs: %d\n",
              edges.size() / 2, peak, repairs);
}

TEST_F(ClusterTest, AWorkerKilledMidTaskHasItsTaskFinishedByAnother) {
  std::string yaml =
      "name: kill\njobs:\n  - name: slow\n    model: kimi-k2\n    files:\n";
  for (int i = 0; i < 6; ++i) {
    absl::StrAppend(&yaml, "      - {path: src/m", i,
                    ".py, instructions: a module, expected_tokens: 2500}\n");
  }
  kiln::v1::BatchSpec spec = Parse(yaml);
  spec.mutable_jobs(0)->mutable_repo()->set_path(MakeRepo(*dir_ + "/repo-kill", {{"README", "x"}}));
  const std::string batch = Submit(spec);
  std::map<std::string, std::string> leased_to;  // task -> worker
  std::string victim_task, victim;
  const kiln::v1::BatchState state = Watch(batch, [&](const kiln::v1::Event& e) {
    if (e.has_task() && e.task().state() == kiln::v1::TASK_STATE_LEASED) {
      leased_to[e.task().task_id()] = e.task().worker_id();
    }
    // A worker is streaming this task's reply: kill it now.
    if (victim_task.empty() && e.has_progress() && e.progress().first_token()) {
      victim_task = e.progress().task_id();
      victim = leased_to[victim_task];
      ASSERT_TRUE(workers_->count(victim)) << victim;
      (*workers_)[victim]->Stop(SIGKILL);
    }
  });
  ASSERT_FALSE(victim_task.empty()) << "no task streamed";
  StartWorker(victim);  // back for the next tests
  Finished f = Collect(batch, state);
  ASSERT_EQ(f.state, kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(f.files.size(), 6u);
  for (const auto& t : f.tasks) {
    if (t.id() != victim_task) continue;
    ASSERT_GE(t.attempts_size(), 2);
    EXPECT_EQ(t.attempts(0).worker_id(), victim);
    EXPECT_TRUE(t.attempts(0).has_error());
    EXPECT_NE(t.attempts(t.attempts_size() - 1).worker_id(), victim);
    EXPECT_FALSE(t.attempts(t.attempts_size() - 1).has_error());
  }
}

TEST_F(ClusterTest, AHangingCheckIsKilledAtItsLimitAndReported) {
  kiln::v1::BatchSpec spec = Parse(
      "name: hang\njobs:\n  - name: hang\n    model: gpt-4o-mini\n"
      "    files: [{path: x.py, instructions: a module}]\n"
      "    checks: [{match: '*.py', command: 'sleep 600', timeout: 1s}]\n"
      "    limits: {no_repair: true}\n");
  spec.mutable_jobs(0)->mutable_repo()->set_path(MakeRepo(*dir_ + "/repo-hang", {{"README", "x"}}));
  Finished f = Run(spec);
  EXPECT_EQ(f.state, kiln::v1::BATCH_STATE_FAILED);
  bool killed = false;
  for (const auto& t : f.tasks) {
    for (const auto& a : t.attempts()) {
      for (const auto& c : a.checks()) {
        if (c.killed()) {
          killed = true;
          EXPECT_EQ(c.exit_code(), -9);
          EXPECT_TRUE(absl::StrContains(a.error().message(), "time limit"))
              << a.error().message();
        }
      }
    }
  }
  EXPECT_TRUE(killed);
}

TEST_F(ClusterTest, APathOutsideTheRepoIsRefused) {
  const std::string passwd = Slurp("/etc/passwd");
  // A plan that names ../../etc/passwd (the simulator plans what the task
  // names), and a file under a symlink that leads out of the repo.
  const std::string outside = *dir_ + "/outside";
  fs::create_directories(outside);
  const std::string repo = MakeRepo(*dir_ + "/repo-escape", {{"README", "x"}});
  fs::create_symlink(outside, fs::path(repo) / "out");
  ASSERT_EQ(Sh(absl::StrCat("cd ", repo,
                            " && git add out && git -c user.email=t@t -c user.name=t "
                            "commit -qm link")),
            0);
  kiln::v1::BatchSpec spec = Parse(
      "name: escape\njobs:\n"
      "  - name: plan\n    model: gpt-4o-mini\n"
      "    task: 'Replace `../../etc/passwd` with a new one.'\n"
      "  - name: link\n    model: gpt-4o-mini\n"
      "    files: [{path: out/x.py, instructions: a module}]\n");
  spec.mutable_jobs(0)->mutable_repo()->set_path(repo);
  spec.mutable_jobs(1)->mutable_repo()->set_path(repo);
  Finished f = Run(spec);
  EXPECT_EQ(f.state, kiln::v1::BATCH_STATE_FAILED);
  EXPECT_TRUE(f.files.empty());
  std::string plan_error, link_error;
  for (const auto& t : f.tasks) {
    if (t.attempts_size() == 0) continue;
    const std::string msg = t.attempts(t.attempts_size() - 1).error().message();
    if (t.kind() == kiln::v1::TASK_KIND_PLAN) plan_error = msg;
    if (t.path() == "out/x.py") link_error = msg;
  }
  EXPECT_TRUE(absl::StrContains(plan_error, "files[0].path")) << plan_error;
  EXPECT_TRUE(absl::StrContains(plan_error, "..")) << plan_error;
  EXPECT_TRUE(absl::StrContains(link_error, "outside the worktree")) << link_error;
  EXPECT_EQ(Slurp("/etc/passwd"), passwd);
  EXPECT_TRUE(fs::is_empty(outside));
}

}  // namespace
}  // namespace kiln
