#include "cli/render.h"

#include "cli/html_report.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

kiln::v1::TaskReport* AddTask(kiln::v1::Report* r, const std::string& id,
                              kiln::v1::TaskKind kind, const std::string& path,
                              kiln::v1::TaskState state, double start, double end) {
  kiln::v1::TaskReport* t = r->add_tasks();
  t->set_task_id(id);
  t->set_job_name("web");
  t->set_kind(kind);
  t->set_path(path);
  t->set_state(state);
  t->set_model("kimi-k2");
  t->set_attempts(1);
  TimeToProto(kT0 + absl::Seconds(start), t->mutable_ready_time());
  TimeToProto(kT0 + absl::Seconds(start), t->mutable_start_time());
  TimeToProto(kT0 + absl::Seconds(start + 0.5), t->mutable_first_token_time());
  TimeToProto(kT0 + absl::Seconds(end), t->mutable_end_time());
  t->mutable_usage()->set_input_tokens(100);
  t->mutable_usage()->set_cache_read_tokens(300);
  t->mutable_usage()->set_output_tokens(50);
  t->set_cost_usd(0.001);
  return t;
}

// input.js (check failed, repaired) -> renderer.js.
kiln::v1::Report Sample() {
  kiln::v1::Report r;
  r.set_batch_id("b1");
  r.set_state(kiln::v1::BATCH_STATE_SUCCEEDED);
  DurationToProto(absl::Seconds(22), r.mutable_wall_time());
  DurationToProto(absl::Seconds(21), r.mutable_critical_path());
  DurationToProto(absl::Seconds(20), r.mutable_lower_bound());
  r.mutable_usage()->set_input_tokens(300);
  r.mutable_usage()->set_cache_read_tokens(900);
  r.mutable_usage()->set_output_tokens(150);
  r.mutable_usage()->set_requests(3);
  r.set_cost_usd(0.003);
  r.set_uncached_cost_usd(0.006);
  auto* phase = r.add_phases();
  phase->set_phase("llm");
  DurationToProto(absl::Seconds(30), phase->mutable_total());
  AddTask(&r, "t1", kiln::v1::TASK_KIND_GENERATE, "web/input.js", kiln::v1::TASK_STATE_FAILED, 0,
          8);
  AddTask(&r, "t2", kiln::v1::TASK_KIND_REPAIR, "web/input.js",
          kiln::v1::TASK_STATE_SUCCEEDED, 8, 12)
      ->set_on_critical_path(true);
  auto* t3 = AddTask(&r, "t3", kiln::v1::TASK_KIND_GENERATE, "web/<renderer>.js",
                     kiln::v1::TASK_STATE_SUCCEEDED, 12, 22);
  t3->set_on_critical_path(true);
  t3->add_deps("t2");
  return r;
}

kiln::v1::Batch SampleBatch() {
  kiln::v1::Batch b;
  b.set_id("b1");
  b.mutable_spec()->set_name("browser");
  b.set_state(kiln::v1::BATCH_STATE_SUCCEEDED);
  TimeToProto(kT0, b.mutable_create_time());
  b.set_jobs_total(1);
  b.set_jobs_done(1);
  b.set_cost_usd(0.003);
  kiln::v1::Job* j = b.add_jobs();
  j->mutable_spec()->set_name("web");
  j->set_state(kiln::v1::JOB_STATE_SUCCEEDED);
  j->set_files_total(2);
  j->set_files_done(2);
  j->mutable_tasks()->set_succeeded(2);
  j->mutable_tasks()->set_failed(1);
  return b;
}

TEST(FormatReport, TimeTokensCacheCostRepairsAndCriticalPath) {
  const std::string text = FormatReport(Sample(), SampleBatch());
  EXPECT_EQ(text,
            "batch b1 SUCCEEDED: 2/2 files in 1 job\n"
            "time      22.0s wall; critical path 21.0s; lower bound 20.0s (1.10x)\n"
            "tokens    300 full price, 900 cache read, 0 cache write, 150 output; 3 requests, "
            "0 rate-limited (429)\n"
            "cache     75.0% of prompt tokens read from cache\n"
            "cost      $0.0030 ($0.0060 without prompt caching: 50.0% saved)\n"
            "phases    llm 30.0s (summed over tasks)\n"
            "critical  web/input.js -> web/<renderer>.js\n"
            "repaired  web/input.js (a check failed, the repair passed)\n");
}

TEST(FormatReport, ListsAttemptsLostWithTheirWorkersAndTheirEstimatedPart) {
  kiln::v1::Report r = Sample();
  r.set_lost_attempts(2);
  r.set_lost_attempts_cost_usd(0.0012);
  r.set_estimated_cost_usd(0.0004);
  const std::string text = FormatReport(r, SampleBatch());
  EXPECT_NE(text.find("lost      2 attempts lost with their workers, $0.0012 (in the cost: "
                      "what their workers had reported, and $0.0004 estimated for requests "
                      "whose usage never came back)\n"),
            std::string::npos)
      << text;
}

TEST(FormatReport, ScalesTheBoundOfASimulatedRunAndListsFailures) {
  kiln::v1::Report r = Sample();
  r.set_state(kiln::v1::BATCH_STATE_FAILED);
  r.mutable_tasks(1)->set_state(kiln::v1::TASK_STATE_FAILED);
  r.mutable_tasks(1)->set_attempts(2);
  const std::string text = FormatReport(r, SampleBatch(), /*time_scale=*/10);
  EXPECT_NE(text.find("lower bound 2.0s (11.00x); simulated time runs 10x faster (lower "
                      "bound 20.0s unscaled)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("problems\n  web GENERATE web/input.js FAILED after 1 attempt\n"
                      "  web REPAIR web/input.js FAILED after 2 attempts\n"),
            std::string::npos)
      << text;
}

TEST(FormatReport, AFailedTaskGivesItsReasonAndFailedRequestsTheirBill) {
  kiln::v1::Report r = Sample();
  r.set_state(kiln::v1::BATCH_STATE_FAILED);
  kiln::v1::TaskReport* t = r.mutable_tasks(1);
  t->set_state(kiln::v1::TASK_STATE_FAILED);
  t->set_error("LLM request: HTTP 429: You exceeded your current quota (request id req_9)");
  kiln::v1::LlmRequest* q = r.mutable_tasks(0)->add_failed_requests();
  q->set_outcome("overloaded");
  q->set_http_status(529);
  q->set_request_id("req_1");
  q->set_retried(true);
  q->mutable_usage()->set_input_tokens(1200);
  q->set_cost_usd(0.0036);
  r.mutable_usage()->set_retried_requests(1);
  r.mutable_usage()->set_cut_off(2);
  r.mutable_usage()->set_reasoning_tokens(40);
  r.set_failed_requests_cost_usd(0.0036);
  const std::string text = FormatReport(r, SampleBatch());
  EXPECT_NE(text.find("150 output (40 reasoning); 3 requests, 0 rate-limited (429), 1 retried "
                      "($0.0036 billed for failed requests), 2 cut off at the output cap\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("FAILED after 1 attempt: LLM request: HTTP 429: You exceeded your current "
                      "quota (request id req_9)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("failed requests\n  web web/input.js: 529 overloaded, retried (req_1); "
                      "billed 1,200 tokens, $0.0036\n"),
            std::string::npos)
      << text;
}

TEST(FormatStatus, BatchThenAJobTable) {
  const std::string text = FormatStatus(SampleBatch(), kT0 + absl::Seconds(90));
  EXPECT_EQ(text.find("batch b1 (browser): SUCCEEDED\n"), 0u) << text;
  EXPECT_NE(text.find("(1m30s ago)"), std::string::npos) << text;
  EXPECT_NE(text.find("JOB  STATE      FILES  FAILED  TASKS DONE  COST"), std::string::npos)
      << text;
  EXPECT_NE(text.find("web  SUCCEEDED  2/2    0       2/3         $0.0000"), std::string::npos)
      << text;
}

TEST(FormatList, OneRowPerBatch) {
  kiln::v1::Batch b = SampleBatch();
  b.clear_jobs();
  EXPECT_EQ(FormatList({}, kT0), "no batches\n");
  const std::string text = FormatList({b}, kT0 + absl::Seconds(5));
  EXPECT_EQ(text.find("BATCH  NAME     STATE      JOBS  TASKS DONE  COST     CREATED\n"), 0u)
      << text;
  EXPECT_NE(text.find("b1     browser  SUCCEEDED  1/1   0/0         $0.0030  "), std::string::npos)
      << text;
}

TEST(HtmlReport, SelfContainedWithGraphTimelineAndEscapedTable) {
  const std::string html = HtmlReport(Sample(), SampleBatch());
  EXPECT_EQ(html.find("<!DOCTYPE html>"), 0u);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);  // nothing fetched
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<renderer>"), std::string::npos);  // escaped everywhere
  EXPECT_NE(html.find("web/&lt;renderer&gt;.js"), std::string::npos);
  // DAG: three nodes, one edge (t2 -> t3) on the critical path.
  EXPECT_NE(html.find("<svg class=\"dag\""), std::string::npos);
  EXPECT_NE(html.find("<path class=\"edge critical\""), std::string::npos);
  // Gantt: a bar per task, the first token marked.
  EXPECT_NE(html.find("<svg class=\"gantt\""), std::string::npos);
  size_t bars = 0;
  for (size_t at = 0; (at = html.find("<rect class=\"bar", at)) != std::string::npos; ++at) ++bars;
  EXPECT_EQ(bars, 3u);
  EXPECT_NE(html.find("<line class=\"ttft\""), std::string::npos);
  // Table: a row per task with its tokens and cache-hit rate.
  EXPECT_NE(html.find("<td class=\"l\">REPAIR</td><td class=\"l\">web/input.js</td>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>75.0%</td>"), std::string::npos);
}

TEST(HtmlEscape, EscapesMarkupAndQuotes) {
  EXPECT_EQ(HtmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

}  // namespace
}  // namespace cli
}  // namespace kiln
