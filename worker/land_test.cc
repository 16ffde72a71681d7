// Landing with real git: bare repositories on disk as remotes.
#include "worker/land.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

std::string Sh(const std::string& cmd) {
  const std::string out = absl::StrCat(::testing::TempDir(), "/land_sh.out");
  const int rc = std::system(absl::StrCat("(", cmd, ") >", out, " 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(rc, 0) << cmd << "\n" << s.str();
  std::string text = s.str();
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class LandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshTestDir("land_test");
    origin_ = dir_ + "/origin";
    remote_ = dir_ + "/remote.git";
    Sh(absl::StrCat("git init -q -b main ", origin_, " && cd ", origin_,
                    " && printf 'a = 1\\n' > a.py && printf 'b = 1\\n' > b.py && mkdir -p d && "
                    "printf 'c\\n' > d/c.txt && git add -A && git -c user.email=t@t -c "
                    "user.name=t commit -qm base"));
    Sh(absl::StrCat("git clone -q --bare ", origin_, " ", remote_));
    // Every ref update that lands, as a hook sees it.
    Sh(absl::StrCat("printf '#!/bin/sh\\ncat >> ", dir_, "/pushes.log\\n' > ", remote_,
                    "/hooks/post-receive && chmod +x ", remote_, "/hooks/post-receive"));
    worktree_ = dir_ + "/worktree";
    Sh(absl::StrCat("git clone -q ", origin_, " ", worktree_, " && git -C ", worktree_,
                    " checkout -q --detach"));
    job_.set_name("svc");
    job_.mutable_repo()->set_path(origin_);
    kiln::v1::LandSpec* land = job_.mutable_land();
    land->set_branch("kiln/migrate");
    land->set_message("Migrate\n\n{summary}");
    land->mutable_author()->set_name("Kiln");
    land->mutable_author()->set_email("kiln@example.com");
    land->set_push(true);
    land->set_remote("file://" + remote_);  // a bare repository on disk
  }

  LandInputs Inputs(int when = 1000) {
    LandInputs in;
    in.worktree = worktree_;
    in.job = &job_;
    in.summary = "Changed 1 file";
    in.commit_time = absl::FromUnixSeconds(when);
    in.scratch = absl::StrCat(dir_, "/scratch-", ++scratch_);
    in.previous.set_branch("kiln/migrate");
    return in;
  }

  // Writes the change into the worktree, as the runner does.
  LandFile Change(const std::string& path, const std::string& content) {
    fs::create_directories((fs::path(worktree_) / path).parent_path());
    std::ofstream(fs::path(worktree_) / path, std::ios::binary) << content;
    return {path, content};
  }

  int Pushes() {
    std::ifstream in(dir_ + "/pushes.log");
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
    return n;
  }

  std::string Remote(const std::string& args) { return Sh(absl::StrCat("git -C ", remote_, " ", args)); }

  std::string dir_, origin_, remote_, worktree_;
  int scratch_ = 0;
  kiln::v1::JobSpec job_;
  HostSandbox host_;
  Lander lander_{&host_};
};

TEST_F(LandTest, ThePushedCommitIsTheBasePlusExactlyTheChangedFiles) {
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n"), Change("d/new.py", "n = 1\n")};
  Change("b.py", "b = 99  # not part of the job\n");  // in the worktree, not the job's
  const LandOutcome o = lander_.Land(in, nullptr);
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_PUSHED);
  EXPECT_EQ(o.landing.pushed_commit(), o.landing.commit());
  EXPECT_EQ(o.landing.base(), "main");
  EXPECT_EQ(Remote("rev-parse kiln/migrate"), o.landing.commit());
  EXPECT_EQ(Remote("rev-parse kiln/migrate^"), Remote("rev-parse main"));
  EXPECT_EQ(Remote("diff --name-only main kiln/migrate"), "a.py\nd/new.py");
  EXPECT_EQ(Remote("show kiln/migrate:a.py"), "a = 2");
  EXPECT_EQ(Remote("log -1 --format=%an/%ae/%s kiln/migrate"), "Kiln/kiln@example.com/Migrate");
  EXPECT_TRUE(absl::StrContains(o.patch, "Subject: [PATCH] Migrate")) << o.patch;
  EXPECT_TRUE(absl::StrContains(o.patch, "+a = 2"));
  EXPECT_FALSE(absl::StrContains(o.patch, "b = 99"));
  EXPECT_EQ(Pushes(), 1);
}

TEST_F(LandTest, ARetryMakesTheSameCommitAndPushesNothingMore) {
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome first = lander_.Land(in, nullptr);
  ASSERT_TRUE(first.error.ok()) << first.error;
  // The worker died before its result was recorded: the same task again.
  in.scratch += "-again";
  const LandOutcome again = lander_.Land(in, nullptr);
  ASSERT_TRUE(again.error.ok()) << again.error;
  EXPECT_EQ(again.landing.commit(), first.landing.commit());
  EXPECT_EQ(again.landing.state(), kiln::v1::LANDING_STATE_PUSHED);
  EXPECT_EQ(Pushes(), 1);
}

TEST_F(LandTest, ARerunUpdatesTheSameBranchWithOneCommit) {
  LandInputs in = Inputs(1000);
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome first = lander_.Land(in, nullptr);
  ASSERT_TRUE(first.error.ok());
  LandInputs rerun = Inputs(2000);  // a new batch
  rerun.previous.set_pushed_commit(first.landing.pushed_commit());
  rerun.files = {Change("a.py", "a = 3\n")};
  const LandOutcome second = lander_.Land(rerun, nullptr);
  ASSERT_TRUE(second.error.ok()) << second.error;
  EXPECT_NE(second.landing.commit(), first.landing.commit());
  EXPECT_EQ(Remote("rev-list --count main..kiln/migrate"), "1");
  EXPECT_EQ(Remote("show kiln/migrate:a.py"), "a = 3");
  EXPECT_EQ(Pushes(), 2);
}

TEST_F(LandTest, ABranchMovedByAnotherCloneIsRejectedAndThePatchKept) {
  LandInputs in = Inputs(1000);
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome first = lander_.Land(in, nullptr);
  ASSERT_TRUE(first.error.ok());
  const std::string other = dir_ + "/other";
  Sh(absl::StrCat("git clone -q ", remote_, " ", other, " && cd ", other,
                  " && git checkout -q kiln/migrate && echo x > x.txt && git add x.txt && "
                  "git -c user.email=o@o -c user.name=o commit -qm theirs && git push -q "
                  "origin kiln/migrate"));
  const std::string theirs = Remote("rev-parse kiln/migrate");
  LandInputs rerun = Inputs(2000);
  rerun.previous.set_pushed_commit(first.landing.pushed_commit());
  rerun.files = {Change("a.py", "a = 3\n")};
  const LandOutcome o = lander_.Land(rerun, nullptr);
  EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_PUSH_REJECTED);
  EXPECT_EQ(o.error.code(), absl::StatusCode::kAborted);
  EXPECT_TRUE(absl::StrContains(o.landing.message(), "stale info")) << o.landing.message();
  EXPECT_FALSE(o.patch.empty());
  EXPECT_EQ(Remote("rev-parse kiln/migrate"), theirs);  // untouched
}

TEST_F(LandTest, AProtectedBranchOrTheBaseIsNeverPushed) {
  for (const char* branch : {"master", "main"}) {
    job_.mutable_land()->set_branch(branch);
    LandInputs in = Inputs();
    in.files = {Change("a.py", "a = 2\n")};
    const LandOutcome o = lander_.Land(in, nullptr);
    EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_FAILED) << branch;
    EXPECT_TRUE(absl::StrContains(o.error.message(), "nothing was pushed")) << o.error;
    EXPECT_FALSE(o.patch.empty());
  }
  job_.mutable_land()->set_branch("release");
  job_.mutable_land()->add_protected_("release");
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n")};
  EXPECT_EQ(lander_.Land(in, nullptr).landing.state(), kiln::v1::LANDING_STATE_FAILED);
  EXPECT_EQ(Pushes(), 0);
}

TEST_F(LandTest, PullRequestCommandSeesItsEnvironmentAndARerunUpdatesIt) {
  const std::string log = dir_ + "/pr.log";
  kiln::v1::PullRequestSpec* pr = job_.mutable_land()->mutable_pr();
  pr->set_title("Migrate svc");
  pr->set_body("Body: {summary}");
  pr->set_draft(true);
  pr->set_command(absl::StrCat("env | grep ^KILN_ | sort > ", log,
                               "; cat \"$KILN_BODY_FILE\" >> ", log,
                               "; echo created; echo https://forge.example/o/svc/pull/7"));
  pr->set_update_command(absl::StrCat("echo \"update $KILN_PR_URL\" >> ", log, ".update"));
  LandInputs in = Inputs(1000);
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome o = lander_.Land(in, nullptr);
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_PR_OPEN);
  EXPECT_EQ(o.landing.pr_url(), "https://forge.example/o/svc/pull/7");
  const std::string env = Slurp(log);
  for (const char* want : {"KILN_BRANCH=kiln/migrate", "KILN_BASE=main", "KILN_TITLE=Migrate svc",
                           "KILN_DRAFT=true", "KILN_BODY_FILE=", "Body: Changed 1 file"}) {
    EXPECT_TRUE(absl::StrContains(env, want)) << want << " in\n" << env;
  }
  // A rerun: the open request is updated, never opened again.
  LandInputs rerun = Inputs(2000);
  rerun.previous.set_pushed_commit(o.landing.pushed_commit());
  rerun.previous.set_pr_url(o.landing.pr_url());
  rerun.files = {Change("a.py", "a = 3\n")};
  fs::remove(log);
  const LandOutcome again = lander_.Land(rerun, nullptr);
  ASSERT_TRUE(again.error.ok()) << again.error;
  EXPECT_EQ(again.landing.state(), kiln::v1::LANDING_STATE_PR_OPEN);
  EXPECT_EQ(again.landing.pr_url(), "https://forge.example/o/svc/pull/7");
  EXPECT_FALSE(fs::exists(log));  // the create command did not run
  EXPECT_EQ(Slurp(log + ".update"), "update https://forge.example/o/svc/pull/7\n");
}

TEST_F(LandTest, ARetryAfterThePushOpensThePullRequestOnce) {
  const std::string log = dir_ + "/pr.log";
  kiln::v1::PullRequestSpec* pr = job_.mutable_land()->mutable_pr();
  // The forge knows no request for the branch yet: the update fails.
  pr->set_update_command("exit 1");
  pr->set_command(absl::StrCat("echo opened >> ", log, "; echo https://forge.example/pull/9"));
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n")};
  // The first attempt pushed, then died before the request.
  job_.mutable_land()->mutable_pr()->set_command("kill -9 $PPID; sleep 5");
  (void)lander_.Land(in, nullptr);
  ASSERT_EQ(Pushes(), 1);
  job_.mutable_land()->mutable_pr()->set_command(
      absl::StrCat("echo opened >> ", log, "; echo https://forge.example/pull/9"));
  in.scratch += "-retry";
  const LandOutcome o = lander_.Land(in, nullptr);
  ASSERT_TRUE(o.error.ok()) << o.error;
  EXPECT_EQ(o.landing.pr_url(), "https://forge.example/pull/9");
  EXPECT_EQ(Slurp(log), "opened\n");
  EXPECT_EQ(Pushes(), 1);
}

TEST_F(LandTest, ATokenInTheRemoteNeverReachesTheLanding) {
  setenv("KILN_LAND_TEST_TOKEN", "s3cr3t-t0ken", 1);
  job_.mutable_land()->set_remote("http://kiln:${KILN_LAND_TEST_TOKEN}@127.0.0.1:9/svc.git");
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome o = lander_.Land(in, nullptr);
  EXPECT_FALSE(o.error.ok());
  EXPECT_TRUE(o.retryable);
  const std::string all = absl::StrCat(o.landing.DebugString(), o.error.message(), o.patch);
  EXPECT_FALSE(absl::StrContains(all, "s3cr3t-t0ken")) << all;
  EXPECT_EQ(o.landing.remote(), "http://127.0.0.1:9/svc.git");
}

TEST_F(LandTest, NoChangedFileMeansUnchangedAndNoCommit) {
  LandInputs in = Inputs();
  const LandOutcome o = lander_.Land(in, nullptr);
  EXPECT_TRUE(o.error.ok());
  EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_UNCHANGED);
  EXPECT_TRUE(o.landing.commit().empty());
  EXPECT_TRUE(o.patch.empty());
  EXPECT_EQ(Pushes(), 0);
}

TEST_F(LandTest, WithoutPushOnlyThePatchLeavesTheWorker) {
  job_.mutable_land()->set_push(false);
  LandInputs in = Inputs();
  in.files = {Change("a.py", "a = 2\n")};
  const LandOutcome o = lander_.Land(in, nullptr);
  ASSERT_TRUE(o.error.ok());
  EXPECT_EQ(o.landing.state(), kiln::v1::LANDING_STATE_CHANGED);
  EXPECT_FALSE(o.patch.empty());
  EXPECT_EQ(Pushes(), 0);
}

}  // namespace
}  // namespace kiln
