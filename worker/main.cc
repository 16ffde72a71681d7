// kiln_worker: connects to a coordinator and runs its tasks: LLM calls
// through the configured provider, checks and builds in a sandbox under the
// cluster semaphore. Stateless: kill it at any time; its leases expire and
// other workers finish them.

#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/binary.h"
#include "common/process.h"
#include "common/telemetry_flags.h"
#include "llm/model_profile.h"
#include "common/secret.h"
#include "worker/worker.h"

ABSL_FLAG(std::string, coordinator, "127.0.0.1:7070", "coordinator host:port");
ABSL_FLAG(std::string, token_env, "KILN_TOKEN",
          "environment variable (or secrets-file entry) holding the coordinator's token");
ABSL_FLAG(std::string, secrets_file, "", "file of NAME=value lines for the token and API keys");
ABSL_FLAG(std::string, worker_id, "",
          "stable id across reconnects (empty: the coordinator assigns one)");
ABSL_FLAG(int, llm_slots, 256, "concurrent LLM requests");
ABSL_FLAG(int, build_slots, 0, "concurrent checks and builds (0: the number of cores)");
ABSL_FLAG(int, io_threads, 8, "threads for checkouts and blob transfers");
ABSL_FLAG(std::string, git_token_env, "",
          "environment variable holding a token git may push with (through GIT_ASKPASS); "
          "empty: git's own credentials (helper, SSH agent)");
ABSL_FLAG(std::string, work_dir, ".kiln/worker", "mirrors, worktrees and scratch space");
ABSL_FLAG(std::string, provider, "sim", "sim, openai or anthropic");
ABSL_FLAG(std::string, base_url, "",
          "the provider's endpoint (empty: its public API), e.g. http://127.0.0.1:8089/v1");
ABSL_FLAG(std::string, api_key_env, "",
          "environment variable with the provider's key (empty: OPENAI_API_KEY / "
          "ANTHROPIC_API_KEY)");
ABSL_FLAG(std::string, models, "", "YAML file of extra or overriding model profiles");
ABSL_FLAG(std::string, api_model_key, "",
          "which api_model id of a profile is sent: anthropic, openai, openrouter, "
          "moonshot, ... (empty: from --base_url, else --provider)");
ABSL_FLAG(int, max_continuations, 3,
          "continuations of a reply cut off at its output cap before the attempt fails");
ABSL_FLAG(std::string, serve_models, "",
          "comma-separated models this worker calls (empty: every known model for sim, "
          "any model otherwise)");
ABSL_FLAG(double, time_scale, 1.0, "sim: simulated seconds per real second");
ABSL_FLAG(uint64_t, sim_seed, 1, "sim: seed of the generated code and defects");
ABSL_FLAG(double, defect_rate, 0.0, "sim: share of first attempts with a defect");
ABSL_FLAG(std::string, sandbox, "bwrap", "bwrap (bubblewrap) or none (limits only)");
ABSL_FLAG(int64_t, check_memory_mib, 2048, "address-space limit of check and build processes");
ABSL_FLAG(int64_t, output_cap_kib, 1024, "output kept per check or build");
ABSL_FLAG(absl::Duration, check_timeout, absl::Seconds(60),
          "time limit of a check whose spec gives none");
ABSL_FLAG(absl::Duration, build_timeout, absl::Minutes(10),
          "time limit of a build whose spec gives none");
ABSL_FLAG(std::string, semaphore, "compile", "cluster semaphore of checks with permits");
ABSL_FLAG(absl::Duration, permit_ttl, absl::Seconds(30),
          "TTL of permit leases (renewed every third of it)");
ABSL_FLAG(absl::Duration, permit_margin, absl::ZeroDuration(),
          "a permit not renewed for its TTL minus this is given up and its command killed "
          "(0: a sixth of the TTL)");

int main(int argc, char** argv) {
  using namespace kiln;
  Binary bin("kiln_worker",
             "a Kiln worker.\n"
             "  kiln_worker --coordinator=HOST:PORT [--provider=sim|openai|anthropic] "
             "[--base_url=URL] [--llm_slots=256] [--build_slots=N]",
             argc, argv);

  absl::StatusOr<ModelCatalog> catalog =
      ModelCatalog::BuiltinWithFile(absl::GetFlag(FLAGS_models));
  if (!catalog.ok()) return bin.Fail(catalog.status());
  const ModelCatalog& models = *catalog;

  WorkerOptions o;
  o.coordinator = absl::GetFlag(FLAGS_coordinator);
  o.token = bin.Token(absl::GetFlag(FLAGS_token_env), absl::GetFlag(FLAGS_secrets_file));
  o.worker_id = absl::GetFlag(FLAGS_worker_id);
  o.llm_slots = absl::GetFlag(FLAGS_llm_slots);
  o.provider.kind = absl::GetFlag(FLAGS_provider);
  o.provider.base_url = absl::GetFlag(FLAGS_base_url);
  o.provider.api_key_env = absl::GetFlag(FLAGS_api_key_env);
  o.provider.model_key = absl::GetFlag(FLAGS_api_model_key);
  o.provider.max_continuations = absl::GetFlag(FLAGS_max_continuations);
  o.provider.secrets_file = absl::GetFlag(FLAGS_secrets_file);
  o.provider.sim.time_scale = absl::GetFlag(FLAGS_time_scale);
  o.provider.sim.sim.seed = absl::GetFlag(FLAGS_sim_seed);
  o.provider.sim.sim.defect_rate = absl::GetFlag(FLAGS_defect_rate);
  for (absl::string_view m :
       absl::StrSplit(absl::GetFlag(FLAGS_serve_models), ',', absl::SkipEmpty())) {
    o.serve_models.emplace_back(m);
  }
  o.sandbox = absl::GetFlag(FLAGS_sandbox);
  o.permit_ttl = absl::GetFlag(FLAGS_permit_ttl);
  o.permit_margin = absl::GetFlag(FLAGS_permit_margin);
  RunnerOptions& ro = o.runner;
  ro.work_dir = absl::GetFlag(FLAGS_work_dir);
  ro.git_token_env = absl::GetFlag(FLAGS_git_token_env);
  ro.build_slots = absl::GetFlag(FLAGS_build_slots);
  ro.io_threads = absl::GetFlag(FLAGS_io_threads);
  ro.memory_bytes = absl::GetFlag(FLAGS_check_memory_mib) << 20;
  ro.output_cap = static_cast<size_t>(absl::GetFlag(FLAGS_output_cap_kib)) << 10;
  ro.check_timeout = absl::GetFlag(FLAGS_check_timeout);
  ro.build_timeout = absl::GetFlag(FLAGS_build_timeout);
  ro.semaphore = absl::GetFlag(FLAGS_semaphore);
  if (absl::Status s = bin.StartTelemetry(); !s.ok()) return bin.Fail(s);
  ro.tracer = bin.telemetry().NewTracer("kiln-worker");
  absl::StatusOr<std::unique_ptr<Worker>> worker = Worker::Start(std::move(o), &models);
  if (!worker.ok()) return bin.Fail(worker.status());

  std::fprintf(stderr, "kiln_worker: %s\n", (*worker)->Describe().c_str());
  bin.WaitForStop();
  (*worker)->Stop();
  if (absl::Status refused = (*worker)->refused(); !refused.ok()) {
    return bin.Fail(absl::StrCat(refused.message(), "; the token comes from $",
                                 absl::GetFlag(FLAGS_token_env), " or --secrets_file"));
  }
  std::fprintf(stderr, "kiln_worker: stopped; %lld attempts reported, %lld accepted\n",
               static_cast<long long>((*worker)->finished()),
               static_cast<long long>((*worker)->accepted()));
  return 0;  // ~Binary flushes the spans
}
