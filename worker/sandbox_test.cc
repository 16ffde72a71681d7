#include "worker/sandbox.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

CommandSpec Shell(const std::string& cmd, const std::string& cwd) {
  CommandSpec s;
  s.argv = {"/bin/sh", "-c", cmd};
  s.cwd = cwd;
  s.writable = {cwd};
  return s;
}

class SandboxTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto s = MakeSandbox(GetParam());
    ASSERT_TRUE(s.ok()) << s.status();
    sandbox_ = std::move(*s);
  }
  std::unique_ptr<Sandbox> sandbox_;
};

TEST_P(SandboxTest, ExitCodeAndOutput) {
  const std::string dir = FreshTestDir("exit-" + GetParam());
  auto r = sandbox_->Run(Shell("echo out; echo err >&2; exit 3", dir), nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_TRUE(absl::StrContains(r->output, "out"));
  EXPECT_TRUE(absl::StrContains(r->output, "err"));
  EXPECT_FALSE(r->timed_out);
}

TEST_P(SandboxTest, TimeLimitKillsTheWholeGroup) {
  const std::string dir = FreshTestDir("hang-" + GetParam());
  // A background child that would outlive its shell, and a foreground hang.
  CommandSpec s = Shell("(sleep 300; touch late) & sleep 300", dir);
  s.timeout = absl::Milliseconds(300);
  auto r = sandbox_->Run(s, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -9);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "late"));
}

TEST_P(SandboxTest, CancelKills) {
  const std::string dir = FreshTestDir("cancel-" + GetParam());
  Cancellation cancel;
  std::thread t([&] {
    // Cancel once the command has started (it creates the file first).
    while (!fs::exists(fs::path(dir) / "started")) {
      std::this_thread::yield();
    }
    cancel.Cancel("lease lost");
  });
  auto r = sandbox_->Run(Shell("touch started; sleep 300", dir), &cancel);
  t.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->timed_out);
  EXPECT_EQ(r->exit_code, -9);
}

TEST_P(SandboxTest, OutputIsCappedToHeadAndTail) {
  const std::string dir = FreshTestDir("cap-" + GetParam());
  CommandSpec s = Shell("echo FIRST; seq 1 100000; echo LAST", dir);
  s.output_cap = 4096;
  auto r = sandbox_->Run(s, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LT(r->output.size(), 4200u);
  EXPECT_GT(r->omitted_bytes, 500000);
  EXPECT_TRUE(absl::StartsWith(r->output, "FIRST"));
  EXPECT_TRUE(absl::EndsWith(r->output, "LAST\n"));
  EXPECT_TRUE(absl::StrContains(r->output, "bytes omitted"));
}

TEST_P(SandboxTest, MemoryLimit) {
  const std::string dir = FreshTestDir("mem-" + GetParam());
  CommandSpec s = Shell("python3 -c 'x = bytearray(512 * 1024 * 1024)'", dir);
  s.memory_bytes = int64_t{256} << 20;
  auto r = sandbox_->Run(s, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r->output, "MemoryError")) << r->output;
}

INSTANTIATE_TEST_SUITE_P(Kinds, SandboxTest, ::testing::Values("none", "bwrap"));

TEST(BwrapSandbox, NoNetworkAndReadOnlyOutsideTheWorktree) {
  BwrapSandbox bwrap;
  ASSERT_TRUE(bwrap.Probe().ok()) << bwrap.Probe();
  const std::string work = FreshTestDir("bwrap-work");
  const std::string outside = FreshTestDir("bwrap-outside");
  // Only loopback exists, and it is a fresh one.
  auto net = bwrap.Run(Shell("cat /proc/net/dev | tail -n +3 | cut -d: -f1", work), nullptr);
  ASSERT_TRUE(net.ok());
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(net->output)), "lo");
  // Writes inside the worktree land; outside they are refused.
  auto in = bwrap.Run(Shell("echo hi > inside.txt", work), nullptr);
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(in->exit_code, 0);
  EXPECT_TRUE(fs::exists(fs::path(work) / "inside.txt"));
  auto out = bwrap.Run(Shell(absl::StrCat("echo hi > ", outside, "/x.txt"), work), nullptr);
  ASSERT_TRUE(out.ok());
  EXPECT_NE(out->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(out->output, "Read-only file system")) << out->output;
  EXPECT_FALSE(fs::exists(fs::path(outside) / "x.txt"));
}

// The pid a command wrote to `file`, once it has.
pid_t WaitForPid(const fs::path& file) {
  for (int i = 0; i < 2000; ++i) {
    std::ifstream in(file);
    long pid = 0;
    if (in >> pid && pid > 0) return static_cast<pid_t>(pid);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ADD_FAILURE() << "no pid in " << file;
  return 0;
}

bool Gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// A process that left the command's group and session (setsid) is killed
// when the command ends: the guard is its subreaper.
TEST(HostSandbox, NothingTheCommandStartedOutlivesIt) {
  const std::string dir = FreshTestDir("escape");
  HostSandbox host;
  auto r = host.Run(Shell("setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & "
                          "while [ ! -s escaped.pid ]; do :; done; echo done",
                          dir),
                    nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->output;
  const pid_t escaped = WaitForPid(fs::path(dir) / "escaped.pid");
  ASSERT_GT(escaped, 0);
  EXPECT_TRUE(Gone(escaped)) << "pid " << escaped << " outlived its command";
}

// A worker killed outright (SIGKILL) while a command runs takes the command,
// its children and the processes that escaped its group along.
TEST(HostSandbox, ACommandDiesWithItsWorker) {
  const std::string dir = FreshTestDir("orphan");
  const pid_t worker = ::fork();
  ASSERT_GE(worker, 0);
  if (worker == 0) {
    HostSandbox host;
    CommandSpec s = Shell(
        "setsid sh -c 'echo $$ > escaped.pid; exec sleep 300' & "
        "sh -c 'echo $$ > child.pid; exec sleep 300' & echo $$ > shell.pid; wait",
        dir);
    s.timeout = absl::Minutes(5);
    (void)host.Run(s, nullptr);
    ::_exit(0);
  }
  std::vector<pid_t> pids;
  for (const char* f : {"shell.pid", "child.pid", "escaped.pid"}) {
    pids.push_back(WaitForPid(fs::path(dir) / f));
  }
  ::kill(worker, SIGKILL);
  ASSERT_EQ(::waitpid(worker, nullptr, 0), worker);
  for (pid_t pid : pids) {
    ASSERT_GT(pid, 0);
    bool gone = false;
    for (int i = 0; i < 2000 && !(gone = Gone(pid)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(gone) << "pid " << pid << " outlived its worker";
  }
}

// The time limit holds for a command that closed its output.
TEST_P(SandboxTest, TimeLimitHoldsAfterTheOutputIsClosed) {
  const std::string dir = FreshTestDir("closed-" + GetParam());
  CommandSpec s = Shell("exec >/dev/null 2>&1; sleep 300", dir);
  s.timeout = absl::Milliseconds(300);
  auto r = sandbox_->Run(s, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->timed_out);
  EXPECT_EQ(r->exit_code, -9);
}

TEST(ShellQuote, QuotesForSh) {
  EXPECT_EQ(ShellQuote("a b"), "'a b'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
}

}  // namespace
}  // namespace kiln
