// One client process holding N concurrent streams (default 1,000) against a
// kiln_llmsim process, through the real openai adapter (libcurl multi on one
// thread). Prints streams completed per second, the client's CPU time per
// stream, its peak RSS, and the makespan against the simulator's own
// timeline (ratio 1.00 = the client added no delay).
//
//   bazel run -c opt //bench:llm_stream_bench -- --streams=1000

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/mutex.h"
#include "common/subprocess.h"
#include "llm/http_provider.h"
#include "llm/openai_wire.h"
#include "llm/prompt.h"

ABSL_FLAG(int, streams, 1000, "concurrent streams");
ABSL_FLAG(double, time_scale, 20, "kiln_llmsim's time scale");
ABSL_FLAG(int, output_tokens, 600, "expected output tokens per stream");
ABSL_FLAG(std::string, model, "gpt-4o-mini", "model profile");
ABSL_FLAG(std::string, llmsim, "llm/sim/kiln_llmsim", "path of kiln_llmsim");

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long PeakRssKib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void RaiseFdLimit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace kiln;
  RaiseFdLimit();
  const int n = absl::GetFlag(FLAGS_streams);
  const double scale = absl::GetFlag(FLAGS_time_scale);

  const std::string port_file =
      absl::StrCat("/tmp/kiln-llm-bench-", getpid(), ".port");
  absl::StatusOr<Subprocess> sim = Subprocess::Start(
      {absl::GetFlag(FLAGS_llmsim), "--port=0", "--port_file=" + port_file,
       absl::StrCat("--time_scale=", scale)});
  if (!sim.ok()) {
    std::fprintf(stderr, "%s\n", std::string(sim.status().message()).c_str());
    return 1;
  }
  absl::StatusOr<std::string> port = WaitForFileLine(port_file, absl::Seconds(30));
  if (!port.ok()) {
    std::fprintf(stderr, "%s\n", std::string(port.status().message()).c_str());
    return 1;
  }
  std::remove(port_file.c_str());

  HttpProviderOptions o;
  o.base_url = absl::StrCat("http://127.0.0.1:", *port, "/v1");
  o.api_key = Secret("bench");
  HttpProvider provider(std::make_unique<OpenAiWire>(), o);

  // Every stream: its own file, a shared stable prefix under the cache
  // minimum (no cache effects), the same expected size.
  std::vector<kiln::v1::Prompt> prompts;
  for (int i = 0; i < n; ++i) {
    PromptInputs in;
    in.model = absl::GetFlag(FLAGS_model);
    in.system = "You write code.";
    in.path = absl::StrCat("src/f", i, ".py");
    in.file_instructions = "Write it.";
    in.expected_tokens = absl::GetFlag(FLAGS_output_tokens);
    prompts.push_back(*BuildPrompt(in));
  }

  Mutex mu;
  CondVar cv;
  int done = 0, failed = 0;
  int64_t output_tokens = 0;
  absl::Duration longest_ttft, longest_total;
  const double cpu0 = CpuSeconds();
  const absl::Time t0 = absl::Now();
  std::vector<std::unique_ptr<LlmCall>> calls;
  calls.reserve(n);
  for (int i = 0; i < n; ++i) {
    StreamCallbacks cb;
    cb.on_done = [&](absl::StatusOr<LlmResult> r) {
      MutexLock l(&mu);
      ++done;
      if (!r.ok()) {
        ++failed;
        if (failed <= 3) std::fprintf(stderr, "stream failed: %s\n", r.status().ToString().c_str());
      } else {
        output_tokens += r->usage.output;
        longest_ttft = std::max(longest_ttft, r->timings.ttft);
        longest_total = std::max(longest_total, r->timings.total);
      }
      cv.SignalAll();
    };
    calls.push_back(provider.Start(prompts[i], std::move(cb)));
  }
  {
    MutexLock l(&mu);
    while (done < n) cv.Wait(&mu);
  }
  const double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  const double cpu = CpuSeconds() - cpu0;

  // The simulator's own timeline for one stream (all start together and
  // none waits on another): ttft + output / tps, scaled.
  const ModelCatalog models = ModelCatalog::Builtin();
  const ModelProfile* p = models.Find(absl::GetFlag(FLAGS_model));
  const double ideal =
      absl::ToDoubleSeconds(p->RequestTime(EstimateTokens(PromptText(prompts[0])),
                                           output_tokens / std::max(1, n - failed))) /
      scale;

  std::printf("| streams | failed | wall s | ideal s | ratio | streams/s | client CPU ms/stream | "
              "client peak RSS MiB | RSS KiB/stream | output tok/s |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %d | %d | %.2f | %.2f | %.2f | %.0f | %.3f | %.1f | %.1f | %.0f |\n", n, failed,
              wall, ideal, wall / ideal, n / wall, 1000 * cpu / n, PeakRssKib() / 1024.0,
              static_cast<double>(PeakRssKib()) / n, output_tokens / wall);
  return failed == 0 ? 0 : 1;
}
