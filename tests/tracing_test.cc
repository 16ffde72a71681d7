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
#include "tests/kiln_cli.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using opentelemetry::proto::trace::v1::Span;
using opentelemetry::proto::trace::v1::Status;

constexpr char kToken[] = "tracing-token";

KilnResult Kiln(const std::string& cwd, const std::string& args) {
  return RunKiln(cwd, args, absl::StrCat("KILN_TOKEN=", kToken));
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


// The spans of one run, indexed.
struct Trace {
  std::map<std::string, const ReceivedSpan*> by_id;  // span id (hex)
  std::map<std::string, std::vector<const ReceivedSpan*>> by_name;
  std::vector<ReceivedSpan> spans;

  const ReceivedSpan* Parent(const ReceivedSpan* s) const {
    auto it = by_id.find(absl::BytesToHexString(s->span.parent_span_id()));
    return it == by_id.end() ? nullptr : it->second;
  }
};

// Indexes `spans`, expecting every one in the trace `trace_id`, with
// distinct span ids.
Trace Collect(std::vector<ReceivedSpan> spans, const std::string& trace_id) {
  Trace t;
  t.spans = std::move(spans);
  for (const ReceivedSpan& s : t.spans) {
    EXPECT_EQ(absl::BytesToHexString(s.span.trace_id()), trace_id) << s.span.name();
    const std::string id = absl::BytesToHexString(s.span.span_id());
    EXPECT_TRUE(t.by_id.emplace(id, &s).second) << "duplicate span id " << id;
  }
  for (const ReceivedSpan& s : t.spans) t.by_name[s.span.name()].push_back(&s);
  return t;
}

// The tree: the CLI's span is the only root; every other span has its
// parent in the trace, of the right name, and comes from the service that
// does the work. `extra` adds (name -> parent name, service) pairs.
void ExpectTree(const Trace& trace,
                std::map<std::string, std::pair<std::string, std::string>> extra = {}) {
  std::map<std::string, std::pair<std::string, std::string>> expect = {
      {"batch", {"kiln run", "kiln-coordinator"}},
      {"job", {"batch", "kiln-coordinator"}},
      {"task", {"job", "kiln-coordinator"}},
      {"attempt", {"task", "kiln-worker"}},
      {"llm.request", {"attempt", "kiln-worker"}},
      {"semaphore.wait", {"attempt", "kiln-worker"}},
      {"check", {"attempt", "kiln-worker"}},
      {"build", {"attempt", "kiln-worker"}},
  };
  expect.insert(extra.begin(), extra.end());
  auto root = trace.by_name.find("kiln run");
  ASSERT_NE(root, trace.by_name.end());
  ASSERT_EQ(root->second.size(), 1u);
  EXPECT_EQ(root->second[0]->service, "kiln-cli");
  EXPECT_TRUE(root->second[0]->span.parent_span_id().empty());
  for (const auto& [name, want] : expect) {
    auto it = trace.by_name.find(name);
    ASSERT_NE(it, trace.by_name.end()) << "no " << name << " span";
    for (const ReceivedSpan* s : it->second) {
      const ReceivedSpan* p = trace.Parent(s);
      ASSERT_NE(p, nullptr) << name << " has no parent in the trace";
      EXPECT_EQ(p->span.name(), want.first) << name;
      EXPECT_EQ(s->service, want.second) << name;
      EXPECT_LE(s->span.start_time_unix_nano(), s->span.end_time_unix_nano()) << name;
    }
  }
  for (const auto& [name, spans] : trace.by_name) {
    EXPECT_TRUE(name == "kiln run" || expect.count(name)) << "unexpected span " << name;
  }
}

std::string TraceIdIn(const std::string& out) {
  const size_t at = out.find("kiln: trace ");
  return at == std::string::npos ? "" : out.substr(at + 12, 32);
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

    int sim_port = 0;
    auto sim = StartServer({Bin("llm/sim/kiln_llmsim"), "--port=0",
                            "--port_file=" + dir_ + "/llmsim.port", "--time_scale=50",
                            "--seed=11", otlp},
                           {}, dir_ + "/llmsim.log", dir_ + "/llmsim.port", &sim_port);
    ASSERT_TRUE(sim.ok()) << sim.status();
    procs_.push_back(std::move(*sim));

    int port = 0;
    auto c = StartServer(
        {Bin("coordinator/kiln_coordinator"), "--listen=127.0.0.1:0",
         "--port_file=" + dir_ + "/coordinator.port", "--state_dir=" + dir_ + "/state",
         "--permits=compile=2", otlp},
        {{"KILN_TOKEN", kToken}}, dir_ + "/coordinator.log", dir_ + "/coordinator.port", &port);
    ASSERT_TRUE(c.ok()) << c.status();
    procs_.push_back(std::move(*c));
    target_ = absl::StrCat("127.0.0.1:", port);

    for (const char* id : {"w1", "w2"}) {
      auto w = Subprocess::Start(
          {Bin("worker/kiln_worker"), "--coordinator=" + target_,
           std::string("--worker_id=") + id, "--provider=openai",
           absl::StrCat("--base_url=http://127.0.0.1:", sim_port, "/v1"),
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
  KilnResult r = Kiln(dir_, absl::StrCat("run --plain --coordinator=", target_, " ", otlp,
                                     " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  // A second batch with tracing sampled out adds no spans.
  std::ofstream(dir_ + "/again.yaml")
      << absl::StrReplaceAll(Spec(), {{"name: traced", "name: untraced"},
                                      {"Game loop.", "Main loop."}});
  KilnResult quiet = Kiln(dir_, absl::StrCat("run --plain --coordinator=", target_, " ", otlp,
                                         " --trace_sample_ratio=0 again.yaml"));
  ASSERT_EQ(quiet.code, 0) << quiet.out << quiet.err;
  EXPECT_EQ(quiet.out.find("kiln: trace "), std::string::npos) << quiet.out;
  StopAll();

  const std::string trace_id = TraceIdIn(r.out);
  ASSERT_EQ(trace_id.size(), 32u) << r.out;

  const Trace trace = Collect(receiver_.spans(), trace_id);
  const auto& by_name = trace.by_name;
  ExpectTree(trace, {{"chat kimi-k2", {"llm.request", "kiln-llmsim"}}});
  // 3 files + the build: 4 tasks (more if a check failed and a repair ran).
  EXPECT_GE(by_name.at("task").size(), 4u);
  EXPECT_EQ(by_name.at("build").size(), 1u);
  EXPECT_EQ(by_name.at("job").size(), 1u);
  const Span& batch = by_name.at("batch")[0]->span;
  EXPECT_EQ(AttrText(batch, "kiln.batch.state"), "SUCCEEDED");
  EXPECT_EQ(AttrText(by_name.at("job")[0]->span, "kiln.job.name"), "web");

  // LLM spans: the worker's request and the simulator's answer agree.
  int64_t output_tokens = 0, prompt_tokens = 0;
  for (const ReceivedSpan* s : by_name.at("llm.request")) {
    EXPECT_EQ(AttrText(s->span, "gen_ai.system"), "openai");
    EXPECT_EQ(AttrText(s->span, "gen_ai.request.model"), "kimi-k2");
    EXPECT_EQ(s->span.kind(), Span::SPAN_KIND_CLIENT);
    EXPECT_GT(AttrInt(s->span, "gen_ai.usage.output_tokens"), 0);
    output_tokens += AttrInt(s->span, "gen_ai.usage.output_tokens");
    prompt_tokens += AttrInt(s->span, "gen_ai.usage.input_tokens");
  }
  for (const ReceivedSpan* s : by_name.at("chat kimi-k2")) {
    const ReceivedSpan* req = trace.Parent(s);
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

  for (const ReceivedSpan* s : by_name.at("attempt")) {
    EXPECT_GE(AttrInt(s->span, "kiln.attempt"), 1);
    EXPECT_TRUE(absl::EndsWith(AttrText(s->span, "kiln.repo"), "/tracing/repo"))
        << AttrText(s->span, "kiln.repo");
    EXPECT_TRUE(AttrText(s->span, "kiln.worker.id") == "w1" ||
                AttrText(s->span, "kiln.worker.id") == "w2");
    const std::string kind = AttrText(s->span, "kiln.task.kind");
    if (kind == "BUILD" || kind == "SELECT") continue;
    EXPECT_TRUE(absl::StartsWith(AttrText(s->span, "kiln.file.path"), "web/")) << kind;
    EXPECT_EQ(AttrText(s->span, "gen_ai.request.model"), "kimi-k2");
  }
  for (const ReceivedSpan* s : by_name.at("semaphore.wait")) {
    EXPECT_EQ(AttrText(s->span, "kiln.semaphore.name"), "compile");
    EXPECT_EQ(AttrInt(s->span, "kiln.semaphore.permits"), 1);
    EXPECT_GE(AttrInt(s->span, "kiln.permit.wait_ms"), 0);
  }
  for (const char* name : {"check", "build"}) {
    for (const ReceivedSpan* s : by_name.at(name)) {
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
  EXPECT_EQ(AttrText(by_name.at("build")[0]->span, "kiln.check.exit_code"), "0");
}

// The embedded default: one process runs the CLI, the coordinator and the
// workers; they share one exporter and still show as three services.
TEST(EmbeddedTracingTest, TheEmbeddedClusterIsTracedUnderTheCommand) {
  FakeOtlpReceiver receiver;
  const std::string dir = absl::StrCat(::testing::TempDir(), "/tracing-embedded");
  fs::remove_all(dir);
  fs::create_directories(dir + "/repo");
  fs::create_directories(dir + "/.cfg");
  std::ofstream(dir + "/repo/package.json") << "{\"type\": \"module\"}\n";
  std::ofstream(dir + "/job.yaml") << Spec();
  KilnResult r = Kiln(dir, absl::StrCat("run --plain --time_scale=50 --workers=2 --sandbox=none "
                                    "--otlp_endpoint=",
                                    receiver.endpoint(), " job.yaml"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string trace_id = TraceIdIn(r.out);
  ASSERT_EQ(trace_id.size(), 32u) << r.out;
  // The command exported everything before it exited.
  const Trace trace = Collect(receiver.spans(), trace_id);
  ExpectTree(trace);
  for (const ReceivedSpan* s : trace.by_name.at("llm.request")) {
    EXPECT_EQ(AttrText(s->span, "gen_ai.system"), "sim");
    EXPECT_GT(AttrInt(s->span, "gen_ai.usage.output_tokens"), 0);
  }
  EXPECT_EQ(AttrText(trace.by_name.at("batch")[0]->span, "kiln.batch.state"), "SUCCEEDED");
}

}  // namespace
}  // namespace kiln
