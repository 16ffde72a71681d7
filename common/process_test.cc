#include "common/process.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A stop signal handled by another thread than the waiting one (as in a
// busy process) still ends the wait.
TEST(WaitForStopSignal, ReturnsWhenTheSignalLandsOnAnotherThread) {
  std::promise<void> returned;
  std::thread waiter([&] {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &term, nullptr);  // never this thread
    WaitForStopSignal();
    returned.set_value();
  });
  // Once the handler is in place, the signal goes to this thread.
  for (;;) {
    struct sigaction now = {};
    ::sigaction(SIGTERM, nullptr, &now);
    if (now.sa_handler != SIG_DFL) break;
    std::this_thread::yield();
  }
  ::kill(::getpid(), SIGTERM);
  const bool done = returned.get_future().wait_for(std::chrono::seconds(60)) ==
                    std::future_status::ready;
  EXPECT_TRUE(done);
  if (done) {
    waiter.join();
  } else {
    waiter.detach();
  }
}

TEST(WriteFileAtomically, ReplacesTheFileWithTheModeAndLeavesNoTemporary) {
  const std::string dir = FreshTestDir("write_atomically");
  const std::string path = dir + "/endpoint";
  ASSERT_TRUE(WriteFileAtomically(path, "old\n").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "7070 secret 42\n", 0600).ok());
  EXPECT_EQ(Slurp(path), "7070 secret 42\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(WriteFileAtomically, NamesTheFileItCannotWrite) {
  const std::string dir = FreshTestDir("write_atomically_missing");
  const absl::Status s = WriteFileAtomically(dir + "/no/such/dir/port", "1\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find(dir + "/no/such/dir/port.tmp"), absl::string_view::npos)
      << s.message();
}

}  // namespace
}  // namespace kiln
