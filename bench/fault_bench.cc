// A batch under an operator's faults, on the real cluster: kiln_llmsim (the
// OpenAI-compatible provider, counting what it serves), a kiln_coordinator
// and kiln_worker processes (--sandbox=none). While the batch runs, a worker
// is killed with SIGKILL and restarted every --worker_kill_every, and the
// coordinator is killed with SIGKILL and restarted on the same port after
// being down --coordinator_down, --coordinator_kills times. At the end it
// prints one Markdown row: the requests the provider served against those
// the report counts (lost attempts included), the lost attempts and the part
// of the cost that is an estimate, and whether the batch succeeded.
//
//   bazel run -c opt //bench:fault_bench -- --spec=FILE [--time_scale=10]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/states.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "spec/spec_parser.h"

ABSL_FLAG(std::string, spec, "", "the batch spec (YAML)");
ABSL_FLAG(double, time_scale, 10, "simulated seconds per real second");
ABSL_FLAG(int, workers, 3, "kiln_worker processes");
ABSL_FLAG(absl::Duration, worker_kill_every, absl::Seconds(3),
          "kill -9 one worker (and restart it) this often while the batch runs");
ABSL_FLAG(int, worker_kills, 6, "kill workers this many times");
ABSL_FLAG(int, coordinator_kills, 3, "kill -9 the coordinator this many times");
ABSL_FLAG(absl::Duration, coordinator_kill_every, absl::Seconds(6),
          "time between coordinator kills");
ABSL_FLAG(absl::Duration, coordinator_down, absl::Seconds(1),
          "how long the coordinator stays down each time");
ABSL_FLAG(std::string, work_dir, "/tmp/kiln-fault-bench", "scratch space");
ABSL_FLAG(bool, header, false, "print the table's header first");
ABSL_FLAG(absl::Duration, timeout, absl::Minutes(20), "give up on the batch after this long");

namespace kiln {
namespace {

namespace fs = std::filesystem;

// GET `path` from 127.0.0.1:`port`; the body, or "" on any error.
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req =
        absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
    }
  }
  ::close(fd);
  const size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

// The integer after `"key":` in a flat JSON object; -1 when absent.
int64_t JsonInt(const std::string& json, const std::string& key) {
  const std::string quoted = absl::StrCat("\"", key, "\":");
  size_t at = json.find(quoted);
  if (at == std::string::npos) return -1;
  at += quoted.size();
  while (at < json.size() && json[at] == ' ') ++at;
  size_t end = at;
  while (end < json.size() && json[end] >= '0' && json[end] <= '9') ++end;
  int64_t v = -1;
  if (!absl::SimpleAtoi(json.substr(at, end - at), &v)) return -1;
  return v;
}

int Main() {
  auto parsed = ReadSpecFile(absl::GetFlag(FLAGS_spec));
  if (!parsed.ok()) {
    std::fprintf(stderr, "fault_bench: %s\n", std::string(parsed.status().message()).c_str());
    return 2;
  }
  const std::string dir = absl::GetFlag(FLAGS_work_dir);
  fs::remove_all(dir);
  fs::create_directories(dir);
  kiln::v1::BatchSpec spec = parsed->batch;
  for (kiln::v1::JobSpec& job : *spec.mutable_jobs()) {
    const std::string repo = absl::StrCat(dir, "/repos/", job.name());
    fs::create_directories(repo);
    job.mutable_repo()->set_path(repo);
    job.clear_checks();
    job.clear_build();
  }
  const double scale = absl::GetFlag(FLAGS_time_scale);

  int sim_port = 0;
  auto sim = StartServer({"llm/sim/kiln_llmsim", "--port=0", "--port_file=" + dir + "/llmsim.port",
                          absl::StrCat("--time_scale=", scale), "--seed=1"},
                         {}, dir + "/llmsim.log", dir + "/llmsim.port", &sim_port);
  if (!sim.ok()) {
    std::fprintf(stderr, "fault_bench: kiln_llmsim: %s\n", std::string(sim.status().message()).c_str());
    return 1;
  }
  int port = 0;
  auto coordinator_argv = [&](const std::string& listen) {
    return std::vector<std::string>{
        "coordinator/kiln_coordinator", "--listen=" + listen,
        "--port_file=" + dir + "/coordinator.port", "--state_dir=" + dir + "/state",
        absl::StrCat("--time_scale=", scale), "--heartbeat_interval=500ms", "--lease_ttl=3s"};
  };
  auto coord = StartServer(coordinator_argv("127.0.0.1:0"), {}, dir + "/coordinator.log",
                           dir + "/coordinator.port", &port);
  if (!coord.ok()) {
    std::fprintf(stderr, "fault_bench: kiln_coordinator: %s\n",
                 std::string(coord.status().message()).c_str());
    return 1;
  }
  const std::string target = absl::StrCat("127.0.0.1:", port);
  std::map<int, std::unique_ptr<Subprocess>> workers;
  auto start_worker = [&](int i) {
    auto w = Subprocess::Start(
        {"worker/kiln_worker", "--coordinator=" + target, absl::StrCat("--worker_id=w", i),
         "--provider=openai", absl::StrCat("--base_url=http://127.0.0.1:", sim_port, "/v1"),
         absl::StrCat("--work_dir=", dir, "/w", i), "--llm_slots=64", "--build_slots=1",
         "--sandbox=none"},
        {{"OPENAI_API_KEY", "sk-bench"}}, absl::StrCat(dir, "/w", i, ".log"));
    if (w.ok()) workers[i] = std::make_unique<Subprocess>(std::move(*w));
  };
  for (int i = 1; i <= absl::GetFlag(FLAGS_workers); ++i) start_worker(i);

  auto stub = kiln::v1::JobService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  kiln::v1::SubmitBatchRequest submit;
  *submit.mutable_spec() = spec;
  submit.set_request_id("fault-bench");
  kiln::v1::SubmitBatchResponse submitted;
  {
    grpc::ClientContext ctx;
    if (grpc::Status s = stub->SubmitBatch(&ctx, submit, &submitted); !s.ok()) {
      std::fprintf(stderr, "fault_bench: submit: %s\n", s.error_message().c_str());
      return 1;
    }
  }

  std::mt19937 rng(7);
  int worker_kills = 0, coordinator_kills = 0;
  const absl::Time start = absl::Now();
  absl::Time next_worker_kill = start + absl::GetFlag(FLAGS_worker_kill_every);
  absl::Time next_coordinator_kill = start + absl::GetFlag(FLAGS_coordinator_kill_every);
  kiln::v1::Batch batch;
  while (absl::Now() < start + absl::GetFlag(FLAGS_timeout)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    kiln::v1::GetBatchRequest req;
    req.set_batch_id(submitted.batch().id());
    req.set_view(kiln::v1::BATCH_VIEW_BASIC);
    if (stub->GetBatch(&ctx, req, &batch).ok() && IsTerminal(batch.state())) break;
    const absl::Time now = absl::Now();
    if (worker_kills < absl::GetFlag(FLAGS_worker_kills) && now >= next_worker_kill) {
      const int i = 1 + static_cast<int>(rng() % workers.size());
      workers[i]->Stop(SIGKILL);
      ++worker_kills;
      start_worker(i);
      next_worker_kill = now + absl::GetFlag(FLAGS_worker_kill_every);
    }
    if (coordinator_kills < absl::GetFlag(FLAGS_coordinator_kills) &&
        now >= next_coordinator_kill) {
      coord->Stop(SIGKILL);
      ++coordinator_kills;
      absl::SleepFor(absl::GetFlag(FLAGS_coordinator_down));
      fs::remove(dir + "/coordinator.port");
      int again = 0;
      coord = StartServer(coordinator_argv(target), {}, dir + "/coordinator.log",
                          dir + "/coordinator.port", &again);
      if (!coord.ok()) {
        std::fprintf(stderr, "fault_bench: restart: %s\n",
                     std::string(coord.status().message()).c_str());
        return 1;
      }
      next_coordinator_kill = absl::Now() + absl::GetFlag(FLAGS_coordinator_kill_every);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  kiln::v1::Report report;
  {
    grpc::ClientContext ctx;
    kiln::v1::GetReportRequest req;
    req.set_batch_id(batch.id());
    (void)stub->GetReport(&ctx, req, &report);
  }
  const std::string stats = HttpGet(sim_port, "/sim/stats");
  const int64_t served = JsonInt(stats, "requests");
  if (absl::GetFlag(FLAGS_header)) {
    std::printf("| faults | batch | requests served | reported | lost attempts | "
                "estimated $ | cost $ |\n|---|---|---|---|---|---|---|\n");
  }
  std::printf("| %d worker kills, %d coordinator kills (down %s) | %s | %lld | %lld | %d | %.4f "
              "| %.4f |\n",
              worker_kills, coordinator_kills,
              absl::FormatDuration(absl::GetFlag(FLAGS_coordinator_down)).c_str(),
              Name(batch.state()).c_str(), static_cast<long long>(served),
              static_cast<long long>(report.usage().requests()), report.lost_attempts(),
              report.estimated_cost_usd(), report.cost_usd());
  std::fflush(stdout);
  for (auto& [i, w] : workers) w->Stop(SIGTERM);
  coord->Stop(SIGTERM);
  sim->Stop(SIGTERM);
  return batch.state() == kiln::v1::BATCH_STATE_SUCCEEDED ? 0 : 1;
}

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return kiln::Main();
}
