// Scheduling strategies on the real cluster: for one scenario, each strategy
// runs in fresh processes — kiln_llmsim at a time scale (the provider, with
// its prompt cache and rate limits), a kiln_coordinator and kiln_worker
// processes speaking the provider's HTTP protocol — and prints one Markdown
// row. The strategies are batch policies of the same coordinator:
//
//   sequential      one task at a time (policy.concurrency = 1)
//   naive parallel  every ready task at once, no cache seeding, no pacing
//                   (seed: never, unpaced): 429s are retried by the workers
//   cached batch    one request per prefix awaited to completion, then every
//                   ready task at once, no pacing (seed: always, release:
//                   completion, unpaced)
//   kiln            the defaults: seeds released at the first token, paced
//                   to the profiles' and the batch's limits
//
// Checks and builds are left out: they run in real time while the LLM runs
// at the time scale, which would distort the comparison (the compile gate
// has its own benchmark). Times are in simulated seconds (real x scale).
//
//   bazel run -c opt //bench:cluster_bench -- --scenario=NAME --spec=FILE
//       [--time_scale=50] [--rpm=N] [--provider=openai|anthropic]
//
// The lower bound comes from the strategy simulator's model of the same
// spec (bench/schedsim.h): the longer of the critical path and what the
// rate limit alone needs. Full-price input is compared with the least any
// strategy paid in the run (or the simulator's count, if lower): nobody
// pays less than the minimum, so that is its closest upper estimate.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/proc_stats.h"
#include "bench/schedsim.h"
#include "common/proto_time.h"
#include "common/states.h"
#include "common/subprocess.h"
#include "common/usage.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "llm/model_profile.h"
#include "spec/spec_parser.h"

ABSL_FLAG(std::string, scenario, "", "the scenario's name in the table");
ABSL_FLAG(std::string, spec, "", "the batch spec (YAML)");
ABSL_FLAG(std::string, strategies, "sequential,naive,cached,kiln",
          "which strategies to run, in order");
ABSL_FLAG(double, time_scale, 50, "simulated seconds per real second");
ABSL_FLAG(double, sequential_time_scale, 0,
          "the time scale of the sequential strategy (0: --time_scale); a long "
          "sequential run may go faster, at the price of its fixed per-request "
          "overheads weighing more");
ABSL_FLAG(int64_t, rpm, 0,
          "the provider account's requests per minute per model (kiln_llmsim --rpm); "
          "0: the batch's policy.requests_per_minute, else the profiles'");
ABSL_FLAG(std::string, provider, "openai", "protocol of the workers: openai or anthropic");
ABSL_FLAG(int, workers, 2, "kiln_worker processes");
ABSL_FLAG(int, llm_slots, 256, "LLM slots per worker");
ABSL_FLAG(std::string, work_dir, "/tmp/kiln-cluster-bench", "scratch space");
ABSL_FLAG(bool, header, false, "print the table's header first");
ABSL_FLAG(absl::Duration, timeout, absl::Hours(2), "give up on a batch after this long");

namespace kiln {
namespace {

namespace fs = std::filesystem;

struct Row {
  std::string strategy;
  bool ok = false;
  std::string error;
  double makespan_s = 0;
  kiln::v1::Usage usage;
  double cost = 0;
  double coordinator_cpu_s = 0;
};

const char* Label(const std::string& s) {
  if (s == "sequential") return "sequential";
  if (s == "naive") return "naive parallel";
  if (s == "cached") return "cached batch";
  return "kiln";
}

// The spec as the strategy runs it: repos under `dir`, no checks or builds,
// the strategy's policy.
kiln::v1::BatchSpec ForStrategy(kiln::v1::BatchSpec spec, const std::string& strategy,
                                const std::string& dir) {
  for (kiln::v1::JobSpec& job : *spec.mutable_jobs()) {
    const std::string name = fs::path(job.repo().path()).filename().string();
    const std::string repo = absl::StrCat(dir, "/repos/", name.empty() ? job.name() : name);
    fs::create_directories(repo);
    job.mutable_repo()->set_path(repo);
    job.clear_checks();
    job.clear_build();
  }
  kiln::v1::SchedulingPolicy* p = spec.mutable_policy();
  if (strategy == "sequential") {
    p->set_max_concurrency(1);
  } else if (strategy == "naive") {
    p->set_seed(kiln::v1::SEED_MODE_NEVER);
    p->set_unpaced(true);
  } else if (strategy == "cached") {
    p->set_seed(kiln::v1::SEED_MODE_ALWAYS);
    p->set_release(kiln::v1::RELEASE_MODE_COMPLETION);
    p->set_unpaced(true);
  }
  return spec;
}

Row RunStrategy(const kiln::v1::BatchSpec& base, const std::string& strategy) {
  Row row;
  row.strategy = strategy;
  const double scale = strategy == "sequential" && absl::GetFlag(FLAGS_sequential_time_scale) > 0
                           ? absl::GetFlag(FLAGS_sequential_time_scale)
                           : absl::GetFlag(FLAGS_time_scale);
  const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_work_dir), "/",
                                       absl::GetFlag(FLAGS_scenario), "-", strategy);
  fs::remove_all(dir);
  fs::create_directories(dir);
  int64_t rpm = absl::GetFlag(FLAGS_rpm);
  if (rpm == 0) rpm = base.policy().requests_per_minute();

  std::vector<std::string> sim_argv = {"llm/sim/kiln_llmsim", "--port=0",
                                       "--port_file=" + dir + "/llmsim.port",
                                       absl::StrCat("--time_scale=", scale), "--seed=1"};
  if (rpm > 0) sim_argv.push_back(absl::StrCat("--rpm=", rpm));
  int sim_port = 0;
  auto sim = StartServer(sim_argv, {}, dir + "/llmsim.log", dir + "/llmsim.port", &sim_port);
  if (!sim.ok()) {
    row.error = absl::StrCat("kiln_llmsim: ", sim.status().message());
    return row;
  }
  int port = 0;
  auto coord = StartServer(
      {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
       "--port_file=" + dir + "/coordinator.port", "--state_dir=" + dir + "/state",
       absl::StrCat("--time_scale=", scale), "--heartbeat_interval=1s", "--lease_ttl=20s"},
      {}, dir + "/coordinator.log", dir + "/coordinator.port", &port);
  if (!coord.ok()) {
    row.error = absl::StrCat("kiln_coordinator: ", coord.status().message());
    return row;
  }
  const std::string target = absl::StrCat("127.0.0.1:", port);
  const std::string provider = absl::GetFlag(FLAGS_provider);
  const std::string base_url = absl::StrCat("http://127.0.0.1:", sim_port,
                                            provider == "openai" ? "/v1" : "");
  std::vector<Subprocess> workers;
  for (int i = 1; i <= absl::GetFlag(FLAGS_workers); ++i) {
    const std::string id = absl::StrCat("w", i);
    auto w = Subprocess::Start(
        {"worker/kiln_worker", "--coordinator=" + target, "--worker_id=" + id,
         "--provider=" + provider, "--base_url=" + base_url, "--work_dir=" + dir + "/" + id,
         absl::StrCat("--llm_slots=", absl::GetFlag(FLAGS_llm_slots)), "--build_slots=1",
         "--sandbox=none"},
        {{"OPENAI_API_KEY", "sk-bench"}, {"ANTHROPIC_API_KEY", "sk-ant-bench"}},
        dir + "/" + id + ".log");
    if (!w.ok()) {
      row.error = absl::StrCat("kiln_worker: ", w.status().message());
      return row;
    }
    workers.push_back(std::move(*w));
  }

  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  args.SetMaxReceiveMessageSize(-1);
  auto stub = kiln::v1::JobService::NewStub(
      grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  kiln::v1::SubmitBatchRequest submit;
  *submit.mutable_spec() = ForStrategy(base, strategy, dir);
  kiln::v1::SubmitBatchResponse submitted;
  {
    grpc::ClientContext ctx;
    grpc::Status s = stub->SubmitBatch(&ctx, submit, &submitted);
    if (!s.ok()) {
      row.error = absl::StrCat("submit: ", s.error_message());
      return row;
    }
  }
  // Polled (this is a benchmark's reader, not a client that must scale).
  const absl::Time give_up = absl::Now() + absl::GetFlag(FLAGS_timeout);
  kiln::v1::Batch batch;
  while (absl::Now() < give_up) {
    grpc::ClientContext ctx;
    kiln::v1::GetBatchRequest req;
    req.set_batch_id(submitted.batch().id());
    req.set_view(kiln::v1::BATCH_VIEW_BASIC);
    if (stub->GetBatch(&ctx, req, &batch).ok() && IsTerminal(batch.state())) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  row.coordinator_cpu_s = ReadProcStats(coord->pid()).cpu_s;
  if (batch.state() != kiln::v1::BATCH_STATE_SUCCEEDED) {
    row.error = absl::StrCat("batch ", Name(batch.state()));
  } else {
    grpc::ClientContext ctx;
    kiln::v1::GetReportRequest req;
    req.set_batch_id(batch.id());
    kiln::v1::Report report;
    grpc::Status s = stub->GetReport(&ctx, req, &report);
    if (!s.ok()) {
      row.error = absl::StrCat("report: ", s.error_message());
    } else {
      row.ok = true;
      // From the first lease (workers connected) to the last result.
      row.makespan_s = absl::ToDoubleSeconds(TimeFromProto(batch.end_time()) -
                                             TimeFromProto(batch.start_time())) *
                       scale;
      row.usage = report.usage();
      row.cost = report.cost_usd();
    }
  }
  for (auto it = workers.rbegin(); it != workers.rend(); ++it) it->Stop(SIGTERM);
  coord->Stop(SIGTERM);
  sim->Stop(SIGTERM);
  return row;
}

int Main() {
  const std::string scenario = absl::GetFlag(FLAGS_scenario);
  auto parsed = ReadSpecFile(absl::GetFlag(FLAGS_spec));
  if (!parsed.ok()) {
    std::fprintf(stderr, "cluster_bench: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const ModelCatalog models = ModelCatalog::Builtin();
  // The bound of the spec as it runs (no checks or builds).
  SchedSimOptions so;
  so.slots = absl::GetFlag(FLAGS_workers) * absl::GetFlag(FLAGS_llm_slots);
  so.requests_per_minute = absl::GetFlag(FLAGS_rpm);
  kiln::v1::BatchSpec plain = ForStrategy(parsed->batch, "kiln",
                                          absl::GetFlag(FLAGS_work_dir) + "/bound");
  auto model = Simulate(Strategy::kKiln, plain, models, so);
  if (!model.ok()) {
    std::fprintf(stderr, "cluster_bench: %s\n", std::string(model.status().message()).c_str());
    return 2;
  }
  const double bound = absl::ToDoubleSeconds(model->lower_bound);

  std::vector<Row> rows;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_strategies), ',',
                                            absl::SkipEmpty())) {
    rows.push_back(RunStrategy(parsed->batch, std::string(s)));
    std::fprintf(stderr, "cluster_bench: %s %s done\n", scenario.c_str(), s.data());
  }
  // The least full-price input of the run (no strategy can pay less than
  // the minimum, so this is the closest upper estimate of it), and the
  // simulator's count for the same spec when that is lower.
  double least = static_cast<double>(std::max<int64_t>(1, model->min_full_price_input));
  for (const Row& r : rows) {
    if (!r.ok) continue;
    least = std::min(least, static_cast<double>(std::max<int64_t>(1, r.usage.input_tokens())));
  }
  if (absl::GetFlag(FLAGS_header)) {
    std::printf("| scenario | strategy | makespan s | bound s | ratio | input full | cache read "
                "| cache write | full / least | cost $ | hit rate | 429s | coordinator CPU s |\n"
                "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  }
  for (const Row& r : rows) {
    if (!r.ok) {
      std::printf("| %s | %s | failed: %s | | | | | | | | | | |\n", scenario.c_str(),
                  Label(r.strategy), r.error.c_str());
      continue;
    }
    const kiln::v1::Usage& u = r.usage;
    std::printf("| %s | %s | %.1f | %.1f | %.2f | %lld | %lld | %lld | %.2f | %.4f | %.1f%% "
                "| %lld | %.2f |\n",
                scenario.c_str(), Label(r.strategy), r.makespan_s, bound,
                r.makespan_s / std::max(1e-9, bound), static_cast<long long>(u.input_tokens()),
                static_cast<long long>(u.cache_read_tokens()),
                static_cast<long long>(u.cache_write_tokens()), u.input_tokens() / least,
                r.cost, 100.0 * u.cache_read_tokens() / std::max<int64_t>(1, PromptTokens(u)),
                static_cast<long long>(u.rate_limited()), r.coordinator_cpu_s);
  }
  std::fflush(stdout);
  // The targets, from this run's rows (kiln last).
  const Row* kiln = nullptr;
  for (const Row& r : rows) {
    if (r.strategy == "kiln" && r.ok) kiln = &r;
  }
  if (kiln != nullptr) {
    // Ahead of every other strategy; "tied" when within 1% of the best of
    // them (several strategies at the bound cannot be told apart).
    bool ahead = true, tied = true, cheaper_than_naive = true;
    for (const Row& r : rows) {
      if (&r == kiln || !r.ok) continue;
      if (r.makespan_s <= kiln->makespan_s) ahead = false;
      if (r.makespan_s * 1.01 < kiln->makespan_s) tied = false;
      if (r.strategy == "naive" && r.cost <= kiln->cost) cheaper_than_naive = false;
    }
    const char* fastest = ahead ? "met" : (tied ? "tied" : "missed");
    std::printf("TARGET %s makespan_ratio=%.3f (<= 1.10: %s) full_over_min=%.3f (<= 1.05: %s) "
                "fastest=%s cheaper_than_naive=%s 429s=%lld\n",
                scenario.c_str(), kiln->makespan_s / std::max(1e-9, bound),
                kiln->makespan_s / bound <= 1.10 ? "met" : "missed",
                kiln->usage.input_tokens() / least,
                kiln->usage.input_tokens() / least <= 1.05 ? "met" : "missed",
                fastest, cheaper_than_naive ? "met" : "missed",
                static_cast<long long>(kiln->usage.rate_limited()));
  }
  for (const Row& r : rows) {
    if (!r.ok) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kiln::Main();
}
