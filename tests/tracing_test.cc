// A traced run across five processes: the CLI (`kiln run` against a remote
// coordinator), kiln_coordinator, two kiln_worker processes calling
// kiln_llmsim over the OpenAI protocol, and kiln_llmsim itself, all with
// --otlp_endpoint pointing at an OTLP/gRPC receiver inside this test. The
// processes are stopped with SIGTERM (they flush their spans on shutdown);
// then the test reads the whole trace: one trace id, the tree
//   kiln run → batch → job → task → attempt → {llm.request → chat (llmsim),
//   semaphore.wait, check, build}
// with every parent present, each span from the right service, and the
// attributes agreeing across processes (the tokens the simulator billed are
// the ones the worker recorded and the coordinator totalled).
#include <sys/wait.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/fake_otlp_receiver.h"
#include "common/fake_span_sink.h"
#include "common/subprocess.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

constexpr char kToken[] = "tracing-token";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Bin(const std::string& runfile) { return fs::absolute(runfile).string(); }

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

Result Kiln(const std::string& cwd, const std::string& args) {
  const std::string o = cwd + "/.stdout", e = cwd + "/.stderr";
  const std::string cmd =
      absl::StrCat("cd ", cwd, " && env XDG_CONFIG_HOME=", cwd, "/.cfg KILN_TOKEN=", kToken,
                   " ", Bin("cli/kiln"), " ", args, " >", o, " 2>", e);
  const int rc = std::system(cmd.c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, Slurp(o), Slurp(e)};
}

constexpr char kSpec[] = R"(name: traced
jobs:
  - name: web
    repo: ./repo
    model: kimi-k2
    context:
      system: "SYSTEM"
    files:
      - {path: web/input.js, instructions: "Keyboard input queue.", expected_tokens: 400}
      - path: web/renderer.js
        instructions: "Canvas renderer."
        deps: [web/input.js]
        expected_tokens: 400
      - path: web/main.js
        instructions: "Game loop."
        deps: [web/input.js, web/renderer.js]
        expected_tokens: 400
    checks:
      - {match: "*.js", command: "node --check {file}", permits: 1}
    build: {command: "node --check web/main.js", permits: 1}
)";

// The spec with a system prompt long enough to be cached: the files share
// it, so cache reads and writes show in the spans.
std::string Spec() {
  std::string system;
  for (int i = 0; i < 150; ++i) {
    absl::StrAppend(&system, "Write complete, idiomatic JavaScript modules. ");
  }
  return absl::StrReplaceAll(kSpec, {{"SYSTEM", system}});
}

class TracingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/tracing");
    fs::remove_all(dir_);
    fs::create_directories(dir_ + "/repo");
    fs::create_directories(dir_ + "/.cfg");
    std::ofstream(dir_ + "/repo/package.json") << "{\"type\": \"module\"}\n";
    std::ofstream(dir_ + "/job.yaml") << Spec();
    const std::string otlp = "--otlp_endpoint=" + receiver_.endpoint();

    auto sim = Subprocess::Start({Bin("llm/kiln_llmsim"), "--port=0",
                                  "--port_file=" + dir_ + "/llmsim.port", "--time_scale=50",
                                  "--seed=11", otlp},
                                 {}, dir_ + "/llmsim.log");
    ASSERT_TRUE(sim.ok()) << sim.status();
    procs_.push_back(std::move(*sim));
    auto sim_port = WaitForFileLine(dir_ + "/llmsim.port", absl::Seconds(30));
    ASSERT_TRUE(sim_port.ok()) << sim_port.status();

    auto c = Subprocess::Start(
        {Bin("coordinator/kiln_coordinator"), "--listen=127.0.0.1:0",
         "--port_file=" + dir_ + "/coordinator.port", "--state_dir=" + dir_ + "/state",
         "--permits=compile=2", otlp},
        {{"KILN_TOKEN", kToken}}, dir_ + "/coordinator.log");
    ASSERT_TRUE(c.ok()) << c.status();
    procs_.push_back(std::move(*c));
    auto port = WaitForFileLine(dir_ + "/coordinator.port", absl::Seconds(30));
    ASSERT_TRUE(port.ok()) << port.status();
    target_ = absl::StrCat("127.0.0.1:", *port);

    for (const char* id : {"w1", "w2"}) {
      auto w = Subprocess::Start(
          {Bin("worker/kiln_worker"), "--coordinator=" + target_,
           std::string("--worker_id=") + id, "--provider=openai",
           absl::StrCat("--base_url=http://127.0.0.1:", *sim_port, "/v1"),
           "--work_dir=" + dir_ + "/" + id, "--build_slots=2", "--sandbox=none", otlp},
          {{"KILN_TOKEN", kToken}, {"OPENAI_API_KEY", "sk-test"}},
          absl::StrCat(dir_, "/", id, ".log"));
      ASSERT_TRUE(w.ok()) << w.status();
      procs_.push_back(std::move(*w));
    }
  }

  // SIGTERM to every process, workers first: each flushes its spans.
  void StopAll() {
    for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) it->Stop(SIGTERM);
  }

  FakeOtlpReceiver receiver_;
  std::string dir_;
  std::string target_;
  std::vector<Subprocess> procs_;
};

TEST_F(TracingTest, OneTraceFromTheCliThroughTheWorkersIntoTheLlm) {
  const std::string otlp = "--otlp_endpoint=" + receiver_.endpoint();
  Result r = Kiln(dir_, absl::StrCat("run --plain --coordinator=", target_, " ", otlp,
                                     " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // A second batch with tracing sampled out adds no spans.
  std::ofstream(dir_ + "/again.yaml")
      << absl::StrReplaceAll(Spec(), {{"name: traced", "name: untraced"},
                                      {"Game loop.", "Main loop."}});
  Result quiet = Kiln(dir_, absl::StrCat("run --plain --coordinator=", target_, " ", otlp,
                                         " --trace_sample_ratio=0 again.yaml"));
  ASSERT_EQ(quiet.code, 0) << quiet.out << quiet.err;
  EXPECT_EQ(quiet.out.find("kiln: trace "), std::string::npos) << quiet.out;
  StopAll();

  const size_t at = r.out.find("kiln: trace ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string trace_id = r.out.substr(at + 12, 32);

  const std::vector<ReceivedSpan> got = receiver_.spans();
  ASSERT_FALSE(got.empty());
  std::map<std::string, const ReceivedSpan*> by_id;  // span id (hex) -> span
  std::map<std::string, std::vector<const ReceivedSpan*>> by_name;
  for (const ReceivedSpan& s : got) {
    EXPECT_EQ(absl::BytesToHexString(s.span.trace_id()), trace_id) << s.span.name();
    const std::string id = absl::BytesToHexString(s.span.span_id());
    EXPECT_TRUE(by_id.emplace(id, &s).second) << "duplicate span id " << id;
    by_name[s.span.name()].push_back(&s);
  }
  auto parent_of = [&](const ReceivedSpan* s) -> const ReceivedSpan* {
    auto it = by_id.find(absl::BytesToHexString(s->span.parent_span_id()));
    return it == by_id.end() ? nullptr : it->second;
  };

  // The tree: every span but the CLI's has its parent in the trace, of the
  // right name; each comes from the service that does the work.
  const std::map<std::string, std::pair<std::string, std::string>> expect = {
      // name -> (parent name, service)
      {"batch", {"kiln run", "kiln-coordinator"}},
      {"job", {"batch", "kiln-coordinator"}},
      {"task", {"job", "kiln-coordinator"}},
      {"attempt", {"task", "kiln-worker"}},
      {"llm.request", {"attempt", "kiln-worker"}},
      {"semaphore.wait", {"attempt", "kiln-worker"}},
      {"check", {"attempt", "kiln-worker"}},
      {"build", {"attempt", "kiln-worker"}},
      {"chat kimi-k2", {"llm.request", "kiln-llmsim"}},
  };
  ASSERT_EQ(by_name["kiln run"].size(), 1u);
  EXPECT_EQ(by_name["kiln run"][0]->service, "kiln-cli");
  EXPECT_TRUE(by_name["kiln run"][0]->span.parent_span_id().empty());
  for (const auto& [name, want] : expect) {
    ASSERT_FALSE(by_name[name].empty()) << "no " << name << " span";
    for (const ReceivedSpan* s : by_name[name]) {
      const ReceivedSpan* p = parent_of(s);
      ASSERT_NE(p, nullptr) << name << " has no parent in the trace";
      EXPECT_EQ(p->span.name(), want.first) << name;
      EXPECT_EQ(s->service, want.second) << name;
      EXPECT_LE(s->span.start_time_unix_nano(), s->span.end_time_unix_nano()) << name;
    }
  }
  for (const auto& [name, spans] : by_name) {
    EXPECT_TRUE(name == "kiln run" || expect.count(name)) << "unexpected span " << name;
  }

  // 3 files + the build: 4 tasks (more if a check failed and a repair ran).
  EXPECT_GE(by_name["task"].size(), 4u);
  EXPECT_EQ(by_name["build"].size(), 1u);
  EXPECT_EQ(by_name["job"].size(), 1u);
  const Span& batch = by_name["batch"][0]->span;
  EXPECT_EQ(AttrText(batch, "kiln.batch.state"), "SUCCEEDED");
  EXPECT_EQ(AttrText(by_name["job"][0]->span, "kiln.job.name"), "web");

  // LLM spans: the worker's request and the simulator's answer agree.
  int64_t output_tokens = 0, prompt_tokens = 0;
  for (const ReceivedSpan* s : by_name["llm.request"]) {
    EXPECT_EQ(AttrText(s->span, "gen_ai.system"), "openai");
    EXPECT_EQ(AttrText(s->span, "gen_ai.request.model"), "kimi-k2");
    EXPECT_EQ(s->span.kind(), Span::SPAN_KIND_CLIENT);
    EXPECT_GT(AttrInt(s->span, "gen_ai.usage.output_tokens"), 0);
    output_tokens += AttrInt(s->span, "gen_ai.usage.output_tokens");
    prompt_tokens += AttrInt(s->span, "gen_ai.usage.input_tokens");
  }
  for (const ReceivedSpan* s : by_name["chat kimi-k2"]) {
    const ReceivedSpan* req = parent_of(s);
    EXPECT_EQ(s->span.kind(), Span::SPAN_KIND_SERVER);
    EXPECT_EQ(AttrText(s->span, "http.response.status_code"), "200");
    EXPECT_EQ(AttrInt(s->span, "gen_ai.usage.output_tokens"),
              AttrInt(req->span, "gen_ai.usage.output_tokens"));
    EXPECT_EQ(AttrInt(s->span, "gen_ai.usage.cache_read.input_tokens"),
              AttrInt(req->span, "gen_ai.usage.cache_read.input_tokens"));
    EXPECT_EQ(AttrText(s->span, "gen_ai.response.id"), AttrText(req->span, "gen_ai.response.id"));
  }
  // What the coordinator totalled is what the workers recorded.
  EXPECT_EQ(AttrInt(batch, "gen_ai.usage.output_tokens"), output_tokens);
  EXPECT_EQ(AttrInt(batch, "gen_ai.usage.input_tokens"), prompt_tokens);
  EXPECT_GT(AttrInt(batch, "gen_ai.usage.cache_read.input_tokens"), 0);
  EXPECT_GT(std::stod(AttrText(batch, "kiln.cost_usd")), 0.0);

  for (const ReceivedSpan* s : by_name["attempt"]) {
    EXPECT_GE(AttrInt(s->span, "kiln.attempt"), 1);
    EXPECT_TRUE(absl::EndsWith(AttrText(s->span, "kiln.repo"), "/tracing/repo"))
        << AttrText(s->span, "kiln.repo");
    EXPECT_TRUE(AttrText(s->span, "kiln.worker.id") == "w1" ||
                AttrText(s->span, "kiln.worker.id") == "w2");
    const std::string kind = AttrText(s->span, "kiln.task.kind");
    if (kind == "BUILD") continue;
    EXPECT_TRUE(absl::StartsWith(AttrText(s->span, "kiln.file.path"), "web/")) << kind;
    EXPECT_EQ(AttrText(s->span, "gen_ai.request.model"), "kimi-k2");
  }
  for (const ReceivedSpan* s : by_name["semaphore.wait"]) {
    EXPECT_EQ(AttrText(s->span, "kiln.semaphore.name"), "compile");
    EXPECT_EQ(AttrInt(s->span, "kiln.semaphore.permits"), 1);
    EXPECT_GE(AttrInt(s->span, "kiln.permit.wait_ms"), 0);
  }
  for (const char* name : {"check", "build"}) {
    for (const ReceivedSpan* s : by_name[name]) {
      EXPECT_EQ(AttrText(s->span, "kiln.check.command").substr(0, 12), "node --check");
      const std::string code = AttrText(s->span, "kiln.check.exit_code");
      ASSERT_FALSE(code.empty()) << name;
      // A failing check is an error with its exception event.
      if (code != "0") {
        EXPECT_EQ(s->span.status().code(), Status::STATUS_CODE_ERROR);
        ASSERT_GT(s->span.events_size(), 0);
        EXPECT_EQ(s->span.events(0).name(), "exception");
      } else {
        EXPECT_NE(s->span.status().code(), Status::STATUS_CODE_ERROR);
      }
    }
  }
  EXPECT_EQ(AttrText(by_name["build"][0]->span, "kiln.check.exit_code"), "0");
}

}  // namespace
}  // namespace kiln
