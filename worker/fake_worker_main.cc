// kiln_fake_worker: a worker whose tasks finish at once without an LLM, for
// the coordinator's crash tests and its dispatch benchmark.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "common/process.h"
#include "common/secret.h"
#include "worker/fake_runner.h"
#include "worker/session.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "coordinator host:port");
ABSL_FLAG(std::string, token_env, "KILN_TOKEN", "environment variable with the token");
ABSL_FLAG(std::string, worker_id, "", "stable worker id (empty: assigned)");
ABSL_FLAG(int, slots, 16, "concurrent tasks");
ABSL_FLAG(bool, same_content, false, "write the same bytes into every file");
ABSL_FLAG(absl::Duration, delay, absl::ZeroDuration(), "time each task takes");
ABSL_FLAG(int64_t, crash_at_assignment, 0,
          "die abruptly when this many assignments have arrived (0: never)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace kiln;
  FakeRunnerOptions fo;
  fo.same_content = absl::GetFlag(FLAGS_same_content);
  fo.crash_at_assignment = absl::GetFlag(FLAGS_crash_at_assignment);
  fo.delay = absl::GetFlag(FLAGS_delay);
  FakeRunner runner(fo);
  WorkerSessionOptions so;
  so.target = absl::GetFlag(FLAGS_coordinator);
  if (auto t = LoadSecret(absl::GetFlag(FLAGS_token_env)); t.ok()) so.token = t->Reveal();
  so.worker_id = absl::GetFlag(FLAGS_worker_id);
  so.hostname = "fake";
  so.capabilities.set_llm_slots(absl::GetFlag(FLAGS_slots));
  WorkerSession session(so, &runner);
  session.Start();
  WaitForStopSignal();
  runner.Stop();
  session.Stop();
  std::printf("ran %lld, accepted %lld, rejected %lld, sessions %lld\n",
              static_cast<long long>(runner.ran()),
              static_cast<long long>(session.accepted()),
              static_cast<long long>(session.rejected()),
              static_cast<long long>(session.sessions()));
  return 0;
}
