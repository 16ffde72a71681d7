// The `kiln` binary end to end, as a user runs it: each example on the
// embedded default (coordinator and workers in-process, simulated LLM,
// checks in bubblewrap); Ctrl-C in the middle of a run and the run resumed;
// the cluster commands against a real kiln_coordinator and kiln_worker
// processes; and the errors a new user meets.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"
#include "tests/kiln_cli.h"
#include "tests/migration_check.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// A fresh working directory holding copies (links resolved) of `examples`.
std::string Workdir(const std::string& name, const std::vector<std::string>& examples = {}) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", name);
  fs::remove_all(dir);
  fs::create_directories(dir + "/.cfg");
  for (const auto& e : examples) {
    fs::copy(fs::path("examples") / e, fs::path(dir) / e,
             fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    // Runfiles are symlinks: replace them with the files.
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(dir) / e)) {
      if (entry.is_symlink()) {
        const fs::path target = fs::canonical(entry.path());
        fs::remove(entry.path());
        fs::copy_file(target, entry.path());
      }
    }
  }
  return dir;
}

using Result = KilnResult;

// Runs kiln in `cwd` with no user config, as a shell would.
Result Kiln(const std::string& cwd, const std::string& args, const std::string& env = "") {
  return RunKiln(cwd, args, env);
}

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// Polls `path` until it contains `needle` (a readiness wait, not ordering).
bool WaitForText(const std::string& path, const std::string& needle, absl::Duration timeout) {
  const absl::Time end = absl::Now() + timeout;
  while (absl::Now() < end) {
    if (absl::StrContains(Slurp(path), needle)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

// Attempts per GENERATE path, from `kiln report --tasks`.
std::map<std::string, int> GenerateAttempts(const std::string& report) {
  std::map<std::string, int> out;
  for (absl::string_view line : absl::StrSplit(report, '\n')) {
    std::vector<std::string> cols = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (cols.size() > 6 && cols[1] == "GENERATE") out[cols[2]] = std::stoi(cols[5]);
  }
  return out;
}

constexpr char kFast[] = "--plain --time_scale=50 --workers=2";

TEST(EmbeddedRun, BrowserRendererThenAgainFromTheResultCache) {
  const std::string dir = Workdir("browser", {"browser-renderer"});
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " browser-renderer/job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kiln: embedded: 2 workers"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("browser-renderer SUCCEEDED: 5/5 files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kiln: wrote 5 files to kiln-out/browser-renderer/"), std::string::npos);
  EXPECT_NE(r.out.find("SUCCEEDED: 5/5 files in 1 job"), std::string::npos);
  EXPECT_NE(r.out.find("critical  checkout -> web/input.js -> web/renderer.js -> web/main.js"),
            std::string::npos)
      << r.out;
  const fs::path out = fs::path(dir) / "kiln-out/browser-renderer";
  EXPECT_EQ(FilesUnder(out).size(), 5u);
  // The generated JavaScript passes its check again, here.
  fs::copy_file(fs::path(dir) / "browser-renderer/repo/package.json", out / "package.json");
  for (const char* f : {"web/input.js", "web/renderer.js", "web/main.js"}) {
    EXPECT_EQ(Sh(absl::StrCat("node --check ", (out / f).string())), 0) << f;
  }
  EXPECT_NE(Slurp(out / "web/renderer.js").find("input.js"), std::string::npos);

  // The same file again: a new batch, every task answered by the result
  // cache, nothing billed.
  Result again = Kiln(dir, absl::StrCat("run ", kFast, " browser-renderer/job.yaml"));
  ASSERT_EQ(again.code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("5 tasks from the result cache"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("cost      $0.0000"), std::string::npos) << again.out;
}

TEST(EmbeddedRun, ApiEndpointsWithRepairs) {
  const std::string dir = Workdir("api", {"api-endpoints"});
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " --defect_rate=0.3 --out=gen "
                                    "api-endpoints/job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SUCCEEDED: 41/41 files in 1 job"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("failed its check; repairing"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("repaired  api/"), std::string::npos) << r.out;
  const std::vector<fs::path> files = FilesUnder(fs::path(dir) / "gen/api-endpoints/api");
  ASSERT_EQ(files.size(), 41u);
  for (const auto& f : files) {
    EXPECT_EQ(Sh(absl::StrCat("python3 -m py_compile ", f.string())), 0) << f;
  }
  // The router was written after the endpoints and imports them.
  const std::string router = Slurp(fs::path(dir) / "gen/api-endpoints/api/router.py");
  EXPECT_NE(router.find("from api.users import "), std::string::npos) << router;
}

// A free-text `task:` is planned into files and written, whether or not the
// job has a build (a plan reply has none; the job's own decides).
TEST(EmbeddedRun, FreeTextTaskWithAndWithoutABuild) {
  for (const bool with_build : {false, true}) {
    const std::string dir = Workdir(with_build ? "task-build" : "task-nobuild");
    fs::create_directories(fs::path(dir) / "repo");
    std::ofstream(fs::path(dir) / "repo/README.md") << "a tiny service\n";
    std::ofstream(fs::path(dir) / "job.yaml")
        << "name: svc\nrepo: ./repo\nmodel: gpt-4o-mini\n"
           "task: \"A tiny python key-value service with a store and handlers.\"\n"
           "checks:\n  - {match: \"*.py\", command: \"python3 -m py_compile {file}\"}\n"
        << (with_build ? "build: {command: \"python3 -m compileall -q src\"}\n" : "");
    Result r = Kiln(dir, absl::StrCat("run ", kFast, " job.yaml"));
    ASSERT_EQ(r.code, 0) << with_build << r.out << r.err;
    EXPECT_FALSE(absl::StrContains(r.out, "PLAN FAILED")) << r.out;
    EXPECT_TRUE(absl::StrContains(r.out, "svc SUCCEEDED")) << r.out;
    const std::vector<fs::path> files = FilesUnder(fs::path(dir) / "kiln-out/svc");
    ASSERT_GE(files.size(), 3u) << r.out;
    for (const auto& f : files) {
      EXPECT_EQ(f.extension(), ".py") << f;
      EXPECT_EQ(Sh(absl::StrCat("python3 -m py_compile ", f.string())), 0) << f;
    }
    Result report = Kiln(dir, "report --tasks");
    ASSERT_EQ(report.code, 0) << report.err;
    EXPECT_EQ(absl::StrContains(report.out, " BUILD "), with_build) << report.out;
  }
}

// A listed file edited again after its branch moved: the rerun checks out
// the new commit and edits the new content, instead of a cached edit of the
// old one; at the same commit the edit comes from the cache.
TEST(EmbeddedRun, ARerunAfterTheBranchMovedEditsTheNewContent) {
  const std::string dir = Workdir("moved");
  const std::string repo = dir + "/repo";
  fs::create_directories(repo);
  std::ofstream(repo + "/svc.py") << "import http_client\n\nA = http_client.get('a')\n";
  ASSERT_EQ(Sh(absl::StrCat("cd ", repo, " && git init -q -b main . && git add . && ",
                            "git -c user.name=t -c user.email=t@t commit -qm one")),
            0);
  std::ofstream(dir + "/job.yaml")
      << "name: svc\nrepo: {path: ./repo, ref: main}\nmodel: gpt-4o-mini\n"
         "instructions: \"replace `http_client` with `transport`\"\n"
         "files: [{path: svc.py, mode: edit}]\n"
         "checks:\n  - {match: \"*.py\", command: \"python3 -m py_compile {file}\"}\n";
  const std::string out = dir + "/kiln-out/svc/svc.py";
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "svc: checked out ")) << r.out;
  const std::string v1 = Slurp(out);
  EXPECT_TRUE(absl::StrContains(v1, "A = transport.get('a')")) << v1;
  EXPECT_FALSE(absl::StrContains(v1, "http_client")) << v1;

  // The same commit: served from the result cache.
  r = Kiln(dir, absl::StrCat("run ", kFast, " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "1 tasks from the result cache")) << r.out;

  // The branch moves: the edit is made again, of the new content.
  std::ofstream(repo + "/svc.py", std::ios::app) << "B = http_client.post('b')\n";
  ASSERT_EQ(Sh(absl::StrCat("cd ", repo, " && git -c user.name=t -c user.email=t@t ",
                            "commit -qam two")),
            0);
  r = Kiln(dir, absl::StrCat("run ", kFast, " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_FALSE(absl::StrContains(r.out, "tasks from the result cache")) << r.out;
  const std::string v2 = Slurp(out);
  EXPECT_TRUE(absl::StrContains(v2, "B = transport.post('b')")) << v2;
  EXPECT_FALSE(absl::StrContains(v2, "http_client")) << v2;
}

TEST(EmbeddedRun, BulkMatrixOverGeneratedGitRepos) {
  const std::string dir = Workdir("bulk");
  ASSERT_EQ(Sh(absl::StrCat("python3 examples/bulk/generate.py --repos 3 --files 4 --out ", dir,
                            "/bulk >/dev/null")),
            0);
  EXPECT_TRUE(fs::exists(fs::path(dir) / "bulk/repos/svc-002/.git"));
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " bulk/batch.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SUCCEEDED: 12/12 files in 3 jobs"), std::string::npos) << r.out;
  for (const char* svc : {"svc-000", "svc-001", "svc-002"}) {
    const auto files = FilesUnder(fs::path(dir) / "kiln-out" / svc);
    EXPECT_EQ(files.size(), 4u) << svc;
    for (const auto& f : files) {
      EXPECT_EQ(Sh(absl::StrCat("python3 -m py_compile ", f.string())), 0) << f;
    }
  }
  // One shared prefix across the three repos: read from the cache.
  EXPECT_EQ(r.out.find("cache     0.0%"), std::string::npos) << r.out;
}

// Reads every file under `dir` into path -> content (paths relative to it).
std::map<std::string, std::string> ReadTree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& f : FilesUnder(dir)) out[f.lexically_relative(dir).generic_string()] = Slurp(f);
  return out;
}

TEST(EmbeddedRun, MigrationEditsOnlyTheFilesUsingTheClient) {
  const std::string dir = Workdir("migration");
  ASSERT_EQ(Sh(absl::StrCat("python3 examples/migration/generate.py --repos 3 --migrated 1 "
                            "--out ",
                            dir, "/migration >/dev/null")),
            0);
  // Every first attempt carries a defect the repair must fix.
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " --defect_rate=1 migration/batch.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "svc-002 SUCCEEDED: 0/0 files")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "unchanged svc-002: no matching files")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "files     8 changed, 0 unchanged, 0 created, 0 failed"))
      << r.out;
  EXPECT_FALSE(fs::exists(fs::path(dir) / "kiln-out/svc-002"));
  for (const char* svc : {"svc-000", "svc-001"}) {
    const auto problems =
        MigrationProblems(absl::StrCat(dir, "/migration/repos/", svc),
                          ReadTree(fs::path(dir) / "kiln-out" / svc), dir + "/scratch");
    EXPECT_TRUE(problems.empty()) << svc << ": " << problems.front();
  }
  // Large files were edited by blocks, small ones whole.
  Result report = Kiln(dir, "report --tasks");
  ASSERT_EQ(report.code, 0) << report.err;
  int by_blocks = 0, whole = 0;
  for (absl::string_view line : absl::StrSplit(report.out, '\n')) {
    if (!absl::StrContains(line, " SUCCEEDED ")) continue;
    const bool large = absl::StrContains(line, "catalog.py") || absl::StrContains(line, "invoices.py");
    if (absl::StrContains(line, "search_replace +")) {
      EXPECT_TRUE(large) << line;
      ++by_blocks;
    } else if (absl::StrContains(line, "whole +")) {
      EXPECT_FALSE(large) << line;
      ++whole;
    }
  }
  EXPECT_EQ(by_blocks, 4) << report.out;
  EXPECT_EQ(whole, 4) << report.out;
  // `kiln plan` sizes the edits from the local repos.
  Result plan = Kiln(dir, "plan migration/batch.yaml");
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_TRUE(absl::StrContains(plan.out, "4 files selected in")) << plan.out;
  EXPECT_TRUE(absl::StrContains(plan.out, "(no matching files)")) << plan.out;
}

TEST(EmbeddedRun, ChangesLandAsOneCommitPerRepoPushedToTheirRemotes) {
  const std::string dir = Workdir("landing");
  ASSERT_EQ(Sh(absl::StrCat("python3 examples/migration/generate.py --repos 3 --migrated 1 "
                            "--land --out ",
                            dir, "/m >/dev/null")),
            0);
  const std::string repos = dir + "/m/repos";
  auto git = [&](const std::string& repo, const std::string& args) {
    const std::string out = dir + "/git.out";
    Sh(absl::StrCat("git -C ", repos, "/", repo, " ", args, " >", out, " 2>&1"));
    std::string text = Slurp(out);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  };
  const std::string branch = "kiln/http-client-migration";
  Result r = Kiln(dir, absl::StrCat("run ", kFast, " m/batch.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "landing   2 PUSHED, 1 UNCHANGED")) << r.out;
  std::map<std::string, std::string> first;
  for (const char* svc : {"svc-000", "svc-001"}) {
    const std::string remote = absl::StrCat(svc, ".remote.git");
    EXPECT_EQ(git(remote, "rev-list --count main.." + branch), "1") << svc;
    EXPECT_EQ(git(remote, "diff --name-only main " + branch),
              absl::StrJoin(FilesUsingTheClient(absl::StrCat(repos, "/", svc)), "\n"))
        << svc;
    first[svc] = git(remote, "rev-parse " + branch);
  }
  EXPECT_EQ(git("svc-002.remote.git", "branch --list " + branch), "");  // unchanged: no push

  // A rerun updates the same branches: still one commit on top of main.
  r = Kiln(dir, absl::StrCat("run ", kFast, " m/batch.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const char* svc : {"svc-000", "svc-001"}) {
    const std::string remote = absl::StrCat(svc, ".remote.git");
    EXPECT_EQ(git(remote, "rev-list --count main.." + branch), "1") << svc;
    EXPECT_NE(git(remote, "rev-parse " + branch), first[svc]) << svc;
  }

  // Someone else pushes to svc-001's branch: the next run is rejected there,
  // and its patch can still be fetched.
  Sh(absl::StrCat("git clone -q ", repos, "/svc-001.remote.git ", dir, "/other && cd ", dir,
                  "/other && git checkout -q ", branch, " && echo x > x.txt && git add x.txt && ",
                  "git -c user.email=o@o -c user.name=o commit -qm theirs && git push -q origin ",
                  branch));
  const std::string theirs = git("svc-001.remote.git", "rev-parse " + branch);
  r = Kiln(dir, absl::StrCat("run ", kFast, " m/batch.yaml"));
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "PUSH_REJECTED")) << r.out;
  EXPECT_EQ(git("svc-001.remote.git", "rev-parse " + branch), theirs);
  Result status = Kiln(dir, "status");
  EXPECT_TRUE(absl::StrContains(status.out, "landing   1 PUSHED, 1 PUSH_REJECTED, 1 UNCHANGED"))
      << status.out;
  Result json = Kiln(dir, "status --json");
  EXPECT_TRUE(absl::StrContains(json.out, "LANDING_STATE_PUSH_REJECTED")) << json.out;
  Result patches = Kiln(dir, "fetch --patches --out=patches");
  ASSERT_EQ(patches.code, 0) << patches.err;
  EXPECT_TRUE(absl::StrContains(Slurp(dir + "/patches/svc-001.patch"), "Subject: [PATCH]"));
  Result diff = Kiln(dir, "diff --job=svc-000");
  EXPECT_TRUE(absl::StrContains(diff.out, "-import http_client")) << diff.out;

  // Only the job that did not land runs again.
  Result retry = Kiln(dir, "retry --failed --plain --time_scale=50");
  EXPECT_EQ(retry.code, 1) << retry.out << retry.err;  // still rejected
  EXPECT_TRUE(absl::StrContains(retry.out, "retries 1 job of")) << retry.out;

  // The rejected change's patch applies to a clone as a commit on a new
  // branch (the newest batch is the retry's).
  Sh(absl::StrCat("git clone -q ", repos, "/svc-001 ", dir, "/clone"));
  Result apply = Kiln(dir, absl::StrCat("apply --job=svc-001 --repo=", dir, "/clone"));
  ASSERT_EQ(apply.code, 0) << apply.err;
  EXPECT_EQ(Sh(absl::StrCat("git -C ", dir, "/clone diff --quiet main~0 ", branch, "~1")), 0);
}

TEST(EmbeddedRun, InterruptedRunResumesFromWhatHadFinished) {
  const std::string dir = Workdir("resume", {"api-endpoints"});
  const std::string log = dir + "/first.log";
  // Slow enough to interrupt midway: about 1 s per endpoint.
  auto first = Subprocess::Start(
      {"/bin/sh", "-c",
       absl::StrCat("cd ", dir, " && exec env XDG_CONFIG_HOME=", dir, "/.cfg ", Bin("cli/kiln"),
                    " run --plain --time_scale=4 --llm_slots=4 --workers=1 "
                    "api-endpoints/job.yaml")},
      {}, log);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(WaitForText(log, " written (3/41)", absl::Seconds(120))) << Slurp(log);
  const int status = first->Stop(SIGINT);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 130) << Slurp(log);
  const std::string first_out = Slurp(log);
  EXPECT_NE(first_out.find("kiln: stopped. Batch "), std::string::npos) << first_out;
  std::set<std::string> done_before;
  for (absl::string_view line : absl::StrSplit(first_out, '\n')) {
    if (!absl::StrContains(line, " written (")) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    for (size_t i = 0; i + 1 < words.size(); ++i) {
      if (words[i + 1] == "written") done_before.insert(words[i]);
    }
  }
  ASSERT_GE(done_before.size(), 3u) << first_out;
  ASSERT_LT(done_before.size(), 41u) << first_out;

  Result second = Kiln(dir, absl::StrCat("run ", kFast, " api-endpoints/job.yaml"));
  ASSERT_EQ(second.code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("kiln: resuming batch "), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("SUCCEEDED: 41/41 files"), std::string::npos) << second.out;
  // Files finished before Ctrl-C were not generated again: one attempt each,
  // in the same batch.
  Result report = Kiln(dir, "report --tasks");
  ASSERT_EQ(report.code, 0) << report.err;
  const std::map<std::string, int> attempts = GenerateAttempts(report.out);
  EXPECT_EQ(attempts.size(), 41u) << report.out;
  for (const std::string& path : done_before) {
    ASSERT_TRUE(attempts.count(path)) << path;
    EXPECT_EQ(attempts.at(path), 1) << path;
  }
}

class ClusterCommands : public ::testing::Test {
 protected:
  static constexpr char kToken[] = "cli-test-token";

  static void SetUpTestSuite() {
    dir_ = new std::string(Workdir("cluster", {"browser-renderer"}));
    const std::string port_file = *dir_ + "/port";
    auto c = Subprocess::Start(
        {Bin("coordinator/kiln_coordinator"), "--listen=127.0.0.1:0",
         "--port_file=" + port_file, "--state_dir=" + *dir_ + "/state", "--permits=compile=2"},
        {{"KILN_TOKEN", kToken}}, *dir_ + "/coordinator.log");
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = new Subprocess(std::move(*c));
    auto port = WaitForFileLine(port_file, absl::Seconds(30));
    ASSERT_TRUE(port.ok()) << port.status();
    target_ = new std::string(absl::StrCat("127.0.0.1:", *port));
    workers_ = new std::vector<Subprocess>();
    for (const char* id : {"w1", "w2"}) {
      auto w = Subprocess::Start(
          {Bin("worker/kiln_worker"), "--coordinator=" + *target_, std::string("--worker_id=") + id,
           "--provider=sim", "--time_scale=50", "--work_dir=" + *dir_ + "/" + id,
           "--build_slots=1"},
          {{"KILN_TOKEN", kToken}}, absl::StrCat(*dir_, "/", id, ".log"));
      ASSERT_TRUE(w.ok()) << w.status();
      workers_->push_back(std::move(*w));
    }
  }
  static void TearDownTestSuite() {
    delete workers_;
    delete coordinator_;
  }

  Result Cli(const std::string& args, const std::string& token = kToken) {
    return Kiln(*dir_, absl::StrCat("--coordinator=", *target_, " ", args),
                absl::StrCat("KILN_TOKEN=", token));
  }

  static std::string* dir_;
  static std::string* target_;
  static Subprocess* coordinator_;
  static std::vector<Subprocess>* workers_;
};
std::string* ClusterCommands::dir_ = nullptr;
std::string* ClusterCommands::target_ = nullptr;
Subprocess* ClusterCommands::coordinator_ = nullptr;
std::vector<Subprocess>* ClusterCommands::workers_ = nullptr;

TEST_F(ClusterCommands, SubmitWatchStatusListFetchReport) {
  // Options after the subcommand, settings anywhere.
  Result submit = Kiln(*dir_, "submit browser-renderer/job.yaml --coordinator=" + *target_,
                       absl::StrCat("KILN_TOKEN=", kToken));
  ASSERT_EQ(submit.code, 0) << submit.err;
  const std::string id(absl::StripAsciiWhitespace(submit.out));
  ASSERT_TRUE(absl::StartsWith(id, "b_")) << id;

  Result watch = Cli("watch --plain " + id);
  EXPECT_EQ(watch.code, 0) << watch.out << watch.err;
  EXPECT_NE(watch.out.find("batch " + id + " SUCCEEDED"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("5/5 files, 1/1 jobs"), std::string::npos) << watch.out;

  Result status = Cli("status " + id);
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_EQ(status.out.find("batch " + id + " (browser-renderer): SUCCEEDED\n"), 0u)
      << status.out;
  EXPECT_NE(status.out.find("browser-renderer  SUCCEEDED  5/5"), std::string::npos)
      << status.out;

  Result list = Cli("list --state=succeeded");
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find(id + "  browser-renderer  SUCCEEDED  1/1"), std::string::npos)
      << list.out;

  Result fetch = Cli("fetch " + id + " --out=fetched");
  EXPECT_EQ(fetch.code, 0) << fetch.err;
  EXPECT_EQ(FilesUnder(fs::path(*dir_) / "fetched/browser-renderer/web").size(), 5u)
      << fetch.out;

  Result report = Cli("report " + id + " --tasks --html=report.html");
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_NE(report.out.find("batch " + id + " SUCCEEDED: 5/5 files in 1 job"),
            std::string::npos)
      << report.out;
  EXPECT_EQ(GenerateAttempts(report.out).size(), 5u) << report.out;
  const std::string html = Slurp(fs::path(*dir_) / "report.html");
  EXPECT_NE(html.find("<svg class=\"dag\""), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"gantt\""), std::string::npos);
  EXPECT_NE(html.find("web/renderer.js"), std::string::npos);

  Result json = Cli("status --json " + id);
  EXPECT_EQ(json.code, 0) << json.err;
  EXPECT_NE(json.out.find("\"state\": \"BATCH_STATE_SUCCEEDED\""), std::string::npos) << json.out;
}

TEST_F(ClusterCommands, RunAgainstTheClusterAndCancel) {
  Result run = Cli("run --plain --out=ran browser-renderer/job.yaml");
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_EQ(run.out.find("embedded"), std::string::npos) << run.out;
  EXPECT_EQ(FilesUnder(fs::path(*dir_) / "ran/browser-renderer").size(), 5u) << run.out;

  // A spec not run before (the result cache would finish it at once).
  std::string spec = Slurp(fs::path(*dir_) / "browser-renderer/job.yaml");
  spec.replace(spec.find("senior front-end engineer"), 25, "staff front-end engineer");
  std::ofstream(fs::path(*dir_) / "browser-renderer/other.yaml") << spec;
  Result submit = Cli("submit browser-renderer/other.yaml");
  ASSERT_EQ(submit.code, 0) << submit.err;
  const std::string id(absl::StripAsciiWhitespace(submit.out));
  Result cancel = Cli("cancel --reason=changed-my-mind " + id);
  EXPECT_EQ(cancel.code, 0) << cancel.err;
  EXPECT_TRUE(absl::StartsWith(cancel.out, "batch " + id + ": CANCEL")) << cancel.out;
  Result watch = Cli("watch --plain " + id);
  EXPECT_EQ(watch.code, 1) << watch.out << watch.err;
  EXPECT_NE(watch.out.find("batch " + id + " CANCELLED"), std::string::npos) << watch.out;
}

TEST_F(ClusterCommands, AnUnansweredSubmitOfTheSameFileResumesItsSubmission) {
  std::string spec = Slurp(fs::path(*dir_) / "browser-renderer/job.yaml");
  spec.replace(spec.find("senior front-end engineer"), 25, "expert front-end engineer");
  std::ofstream(fs::path(*dir_) / "browser-renderer/twice.yaml") << spec;
  Result first = Cli("submit browser-renderer/twice.yaml");
  ASSERT_EQ(first.code, 0) << first.err;
  // As if the answer had been lost: the record keeps only the request id.
  std::string record_file;
  for (const auto& e : fs::directory_iterator(fs::path(*dir_) / ".kiln/submits")) {
    const std::string text = Slurp(e.path());
    if (text.find(std::string(absl::StripAsciiWhitespace(first.out))) != std::string::npos) {
      record_file = e.path().string();
      std::ofstream(record_file) << text.substr(0, text.rfind('\n', text.size() - 2) + 1);
    }
  }
  ASSERT_FALSE(record_file.empty());
  Result again = Cli("submit browser-renderer/twice.yaml");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, first.out);
  EXPECT_NE(again.err.find("resending the unanswered submission"), std::string::npos)
      << again.err;
  // Answered: the next submit of the file is a new batch.
  Result third = Cli("submit browser-renderer/twice.yaml");
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_NE(third.out, first.out);
  for (const std::string& id : {first.out, third.out}) {
    (void)Cli("cancel " + std::string(absl::StripAsciiWhitespace(id)));
  }
}

TEST_F(ClusterCommands, WrongTokenAndUnreachableCoordinator) {
  Result bad = Cli("list", "not-the-token");
  EXPECT_EQ(bad.code, 3);
  EXPECT_EQ(bad.out, "");
  EXPECT_TRUE(absl::StartsWith(bad.err, "kiln: the coordinator at " + *target_ +
                                            " refused the token from $KILN_TOKEN"))
      << bad.err;
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;

  Result down = Kiln(*dir_, "--coordinator=127.0.0.1:1 status");
  EXPECT_EQ(down.code, 3);
  EXPECT_TRUE(absl::StartsWith(down.err, "kiln: cannot reach the coordinator at 127.0.0.1:1: "
                                         "nothing listens there (connection refused)"))
      << down.err;
  EXPECT_EQ(std::count(down.err.begin(), down.err.end(), '\n'), 1) << down.err;

  // Something accepts connections but never answers (a coordinator too busy
  // to): busy, not "cannot reach".
  const int busy = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(busy, 0);
  struct sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(busy, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(busy, 16), 0);  // the kernel accepts; nobody answers
  socklen_t len = sizeof addr;
  ::getsockname(busy, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string silent = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  Result stuck = Kiln(*dir_, "--coordinator=" + silent + " status");
  ::close(busy);
  EXPECT_EQ(stuck.code, 3);
  EXPECT_TRUE(absl::StartsWith(stuck.err, "kiln: the coordinator at " + silent +
                                              " accepts connections but did not answer"))
      << stuck.err;
}

// A worker whose token is refused says so and exits 2, instead of running
// on without ever being given work.
TEST_F(ClusterCommands, AWorkerWithAWrongOrNoTokenSaysSoAndExits) {
  for (const std::string token : {"not-the-token", ""}) {
    const std::string log = *dir_ + "/refused" + (token.empty() ? "-none" : "-wrong") + ".log";
    auto w = Subprocess::Start(
        {Bin("worker/kiln_worker"), "--coordinator=" + *target_, "--provider=sim",
         "--work_dir=" + *dir_ + "/refused", "--sandbox=none"},
        {{"KILN_TOKEN", token}}, log);
    ASSERT_TRUE(w.ok()) << w.status();
    const int status = w->Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << status;
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_TRUE(absl::StrContains(text, "kiln_worker: the coordinator at " + *target_ +
                                            " refused this worker's " +
                                            (token.empty() ? "connection: no token was given"
                                                           : "token")))
        << text;
    EXPECT_TRUE(absl::StrContains(text, "the token comes from $KILN_TOKEN")) << text;
  }
}

// A coordinator that stops answering without closing its connections (here
// SIGSTOP: the kernel keeps the sockets) is noticed by `kiln watch` from its
// keepalive pings, which reconnects instead of waiting forever.
TEST(CliWatch, NoticesACoordinatorThatStoppedAnswering) {
  const std::string dir = Workdir("watch-frozen", {"browser-renderer"});
  auto c = Subprocess::Start(
      {Bin("coordinator/kiln_coordinator"), "--listen=127.0.0.1:0", "--port_file=" + dir + "/port",
       "--state_dir=" + dir + "/state"},
      {}, dir + "/coordinator.log");
  ASSERT_TRUE(c.ok()) << c.status();
  auto port = WaitForFileLine(dir + "/port", absl::Seconds(60));
  ASSERT_TRUE(port.ok()) << port.status();
  const std::string target = absl::StrCat("127.0.0.1:", *port);
  // No workers: the batch waits, and its watch with it.
  Result submit = Kiln(dir, "submit browser-renderer/job.yaml --coordinator=" + target);
  ASSERT_EQ(submit.code, 0) << submit.err;
  const std::string id(absl::StripAsciiWhitespace(submit.out));
  const std::string log = dir + "/watch.log";
  auto watch = Subprocess::Start(
      {Bin("cli/kiln"), "--coordinator=" + target, "watch", "--plain", id}, {}, log);
  ASSERT_TRUE(watch.ok()) << watch.status();
  auto seen = [&](const std::string& what) {
    const absl::Time give_up = absl::Now() + ScaledTimeout(absl::Minutes(1));
    while (absl::Now() < give_up) {
      std::ifstream in(log);
      const std::string text((std::istreambuf_iterator<char>(in)), {});
      if (absl::StrContains(text, what)) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  };
  ASSERT_TRUE(seen("kiln: watching batch " + id)) << "the watch never started";
  ::kill(c->pid(), SIGSTOP);
  // Noticed from the keepalive pings: on the event stream (the watch then
  // reconnects), or on the call that reads the batch first when the freeze
  // comes before the stream opens (a slow, instrumented process).
  const bool noticed = seen("keepalive watchdog timeout");
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(noticed) << "the watch did not notice:\n" << text;
  ::kill(c->pid(), SIGCONT);
  watch->Stop(SIGKILL);
  c->Stop(SIGTERM);
}

TEST(CliErrors, OneClearLineAndExitTwo) {
  const std::string dir = Workdir("errors", {"browser-renderer"});
  std::ofstream(dir + "/bad.yaml") << "name: x\nrepo: ./r\nmodel: kimi-k2\nfiles:\n"
                                   << "  - {path: a.py, instructions: [oops}\n";
  std::ofstream(dir + "/model.yaml") << "name: x\nrepo: ./r\nmodel: gpt-5-ultra\nfiles:\n"
                                     << "  - {path: a.py, instructions: A}\n";
  fs::create_directories(dir + "/r/src");
  std::ofstream(dir + "/gone.yaml") << "name: x\nrepo: ./gone\nmodel: kimi-k2\nfiles:\n"
                                    << "  - {path: a.py, instructions: A}\n";
  std::ofstream(dir + "/dir.yaml") << "name: x\nrepo: ./r\nmodel: kimi-k2\nfiles:\n"
                                   << "  - {path: src, instructions: A}\n";
  struct Case {
    std::string args;
    std::string err;
  };
  const std::vector<Case> cases = {
      {"run nope.yaml", "kiln: nope.yaml: no such file\n"},
      {"run bad.yaml", "kiln: bad.yaml:5:"},
      {"plan model.yaml", "kiln: model.yaml:3:8: model: unknown model 'gpt-5-ultra'; known: "},
      // Caught before any LLM call, by plan, run and submit alike.
      {"plan gone.yaml", "kiln: gone.yaml:2:7: repo.path: '"},
      {"run dir.yaml", "kiln: dir.yaml:5:12: files[0].path: 'src' is a directory in "},
      {"submit --coordinator=127.0.0.1:1 dir.yaml",
       "kiln: dir.yaml:5:12: files[0].path: 'src' is a directory in "},
      {"run --ouput=x nope.yaml",
       "kiln: kiln run: unknown flag --ouput (did you mean --out?); see kiln help run\n"},
      {"runn", "kiln: unknown command \"runn\" (did you mean run?); see kiln --help\n"},
      {"run --workers=0 browser-renderer/job.yaml",
       "kiln: --workers: want an integer from 1 to 64, got \"0\"\n"},
      {"status", "kiln: no coordinator: pass --coordinator=HOST:PORT"},
  };
  for (const Case& c : cases) {
    Result r = Kiln(dir, c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.err;
    EXPECT_TRUE(absl::StartsWith(r.err, c.err)) << c.args << "\n" << r.err;
    EXPECT_EQ(r.out, "") << c.args;
  }
  EXPECT_TRUE(absl::EndsWith(Kiln(dir, "plan gone.yaml").err, "/gone' does not exist\n"));
  EXPECT_TRUE(absl::EndsWith(Kiln(dir, "submit --coordinator=127.0.0.1:1 dir.yaml").err,
                             "/r; a file task writes a file\n"));
}

TEST(CliHelp, EveryCommandHasHelpAndPlanPrintsTheDag) {
  const std::string dir = Workdir("help", {"browser-renderer"});
  Result top = Kiln(dir, "--help");
  EXPECT_EQ(top.code, 0);
  for (const char* cmd : {"run", "submit", "watch", "status", "list", "cancel", "fetch",
                          "report", "plan", "config"}) {
    EXPECT_NE(top.out.find(absl::StrCat("\n  ", cmd, " ")), std::string::npos) << cmd;
    Result help = Kiln(dir, absl::StrCat("help ", cmd));
    EXPECT_EQ(help.code, 0) << cmd;
    EXPECT_TRUE(absl::StartsWith(help.out, absl::StrCat("usage: kiln ", cmd))) << help.out;
    EXPECT_NE(help.out.find("--coordinator=HOST:PORT"), std::string::npos) << cmd;
  }
  Result plan = Kiln(dir, "plan browser-renderer/job.yaml");
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("critical path: checkout -> web/input.js -> web/renderer.js -> web/main.js"),
            std::string::npos)
      << plan.out;
  Result dot = Kiln(dir, "plan --dot browser-renderer/job.yaml");
  EXPECT_EQ(dot.out.find("digraph kiln {"), 0u) << dot.out;
  Result config = Kiln(dir, "config --workers=7", "KILN_PROVIDER=openai");
  EXPECT_NE(config.out.find("workers = 7    # flag --workers"), std::string::npos) << config.out;
  EXPECT_NE(config.out.find("provider = openai    # env KILN_PROVIDER"), std::string::npos)
      << config.out;
}

}  // namespace
}  // namespace kiln
