// kiln_llmsim: an OpenAI- and Anthropic-compatible HTTP server backed by the
// simulated model (model profiles, prompt caching, rate limits, faults, real
// code), for tests, demos and benchmarks.
//
//   kiln_llmsim --port=8089 --time_scale=10
//   OPENAI_BASE_URL=http://127.0.0.1:8089/v1  (OpenAI clients)
//   ANTHROPIC_BASE_URL=http://127.0.0.1:8089  (Anthropic clients)

#include <sys/resource.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/telemetry_flags.h"
#include "llm/sim/http_server.h"
#include "llm/model_profile.h"
#include "common/secret.h"
#include "llm/sim/simulated_model.h"

ABSL_FLAG(std::string, host, "127.0.0.1", "IPv4 address to listen on");
ABSL_FLAG(int, port, 8089, "TCP port; 0 picks a free one (see --port_file)");
ABSL_FLAG(std::string, port_file, "", "write the port here once listening");
ABSL_FLAG(double, time_scale, 1.0,
          "simulated seconds per real second (10: ten times faster)");
ABSL_FLAG(uint64_t, seed, 1, "seed of the generated code, defects and faults");
ABSL_FLAG(double, defect_rate, 0.0,
          "share of first attempts whose file carries a defect its check rejects");
ABSL_FLAG(double, fault_5xx, 0.0, "share of requests answered 500 (529 for Anthropic)");
ABSL_FLAG(double, fault_stall, 0.0, "share of streams that stop sending mid-way");
ABSL_FLAG(double, fault_drop, 0.0, "share of streams whose connection is closed mid-way");
ABSL_FLAG(int64_t, rpm, 0,
          "account-wide requests per minute per model (0: the profiles' limits)");
ABSL_FLAG(std::string, models, "",
          "YAML file of extra or overriding model profiles");
ABSL_FLAG(std::string, api_key_env, "",
          "name of an environment variable holding the key clients must send; "
          "empty: any key is accepted");
ABSL_FLAG(int, chunk_tokens, 8, "tokens per streamed chunk");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "an OpenAI- and Anthropic-compatible LLM simulator.\n"
      "  kiln_llmsim --port=8089 --time_scale=10 [--defect_rate=0.2] "
      "[--fault_5xx=0.05]");
  absl::ParseCommandLine(argc, argv);
  using namespace kiln;
  // Thousands of concurrent streams need as many descriptors.
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);

  absl::StatusOr<ModelCatalog> catalog =
      ModelCatalog::BuiltinWithFile(absl::GetFlag(FLAGS_models));
  if (!catalog.ok()) {
    std::fprintf(stderr, "kiln_llmsim: %s\n", std::string(catalog.status().message()).c_str());
    return 2;
  }
  const ModelCatalog& models = *catalog;
  if (absl::GetFlag(FLAGS_time_scale) <= 0) {
    std::fprintf(stderr, "kiln_llmsim: --time_scale must be positive\n");
    return 2;
  }
  SimOptions sim;
  sim.seed = absl::GetFlag(FLAGS_seed);
  sim.defect_rate = absl::GetFlag(FLAGS_defect_rate);
  sim.faults.server_error = absl::GetFlag(FLAGS_fault_5xx);
  sim.faults.stall = absl::GetFlag(FLAGS_fault_stall);
  sim.faults.drop = absl::GetFlag(FLAGS_fault_drop);
  sim.faults.seed = sim.seed;
  sim.requests_per_minute = absl::GetFlag(FLAGS_rpm);
  sim.chunk_tokens = absl::GetFlag(FLAGS_chunk_tokens);
  SimulatedModel llm(&models, sim);

  SimHttpServerOptions o;
  o.host = absl::GetFlag(FLAGS_host);
  o.port = absl::GetFlag(FLAGS_port);
  o.time_scale = absl::GetFlag(FLAGS_time_scale);
  if (const std::string env = absl::GetFlag(FLAGS_api_key_env); !env.empty()) {
    absl::StatusOr<Secret> key = LoadSecret(env);
    if (!key.ok()) {
      std::fprintf(stderr, "kiln_llmsim: --api_key_env: %s\n",
                   std::string(key.status().message()).c_str());
      return 2;
    }
    o.api_key = key->Reveal();
  }
  absl::StatusOr<std::unique_ptr<Telemetry>> telemetry = StartTelemetryFromFlags();
  if (!telemetry.ok()) {
    std::fprintf(stderr, "kiln_llmsim: --%s\n",
                 std::string(telemetry.status().message()).c_str());
    return 2;
  }
  o.tracer = (*telemetry)->NewTracer("kiln-llmsim");
  SimHttpServer server(&llm, o);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::fprintf(stderr, "kiln_llmsim: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (const std::string pf = absl::GetFlag(FLAGS_port_file); !pf.empty()) {
    (void)WriteFileAtomically(pf, absl::StrCat(server.port(), "\n"));
  }
  std::printf("kiln_llmsim listening on http://%s:%d (time scale %g)\n",
              o.host.c_str(), server.port(), o.time_scale);
  std::fflush(stdout);
  WaitForStopSignal();
  server.Stop();
  (*telemetry)->Shutdown(absl::Seconds(10));
  return 0;
}
