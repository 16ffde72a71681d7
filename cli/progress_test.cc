#include "cli/progress.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

kiln::v1::Batch TwoJobs() {
  kiln::v1::Batch b;
  b.set_id("b1");
  TimeToProto(kT0, b.mutable_create_time());
  for (const char* name : {"web", "api"}) {
    kiln::v1::Job* j = b.add_jobs();
    j->set_id(absl::StrCat("j-", name));
    j->mutable_spec()->set_name(name);
    j->set_files_total(2);
    j->set_files_done(2);  // current counts are ignored: events replay them
  }
  return b;
}

class Events {
 public:
  kiln::v1::Event Next(double at_seconds) {
    kiln::v1::Event e;
    e.set_sequence(++seq_);
    e.set_batch_id("b1");
    TimeToProto(kT0 + absl::Seconds(at_seconds), e.mutable_time());
    return e;
  }
  kiln::v1::Event Task(double at, const std::string& job, const std::string& path,
                       kiln::v1::TaskKind kind, kiln::v1::TaskState state, double cost,
                       int64_t input, int64_t cached) {
    kiln::v1::Event e = Next(at);
    auto* t = e.mutable_task();
    t->set_task_id(path + std::to_string(seq_));
    t->set_job_id(job);
    t->set_path(path);
    t->set_kind(kind);
    t->set_state(state);
    t->set_attempt(1);
    t->set_cost_usd(cost);
    t->mutable_usage()->set_input_tokens(input);
    t->mutable_usage()->set_cache_read_tokens(cached);
    t->mutable_usage()->set_output_tokens(100);
    return e;
  }
  kiln::v1::Event Job(double at, const std::string& job, kiln::v1::JobState s) {
    kiln::v1::Event e = Next(at);
    e.mutable_job()->set_job_id(job);
    e.mutable_job()->set_state(s);
    e.mutable_job()->set_files_total(2);
    return e;
  }

 private:
  int64_t seq_ = 0;
};

TEST(BatchProgress, TotalsFilesTokensCacheAndCostFromEvents) {
  BatchProgress p;
  p.Reset(TwoJobs());
  Events ev;
  using K = kiln::v1::TaskKind;
  using S = kiln::v1::TaskState;
  p.Apply(ev.Job(0, "j-web", kiln::v1::JOB_STATE_GENERATING));
  p.Apply(ev.Task(1, "j-web", "a.js", K::TASK_KIND_GENERATE, S::TASK_STATE_SUCCEEDED, 0.01, 900,
                  0));
  // A check failed: the GENERATE ends FAILED, handed to a REPAIR. Not a
  // failed file.
  kiln::v1::Event handed = ev.Task(2, "j-web", "b.js", K::TASK_KIND_GENERATE,
                                   S::TASK_STATE_FAILED, 0.01, 100, 800);
  handed.mutable_task()->set_repaired_by("r1");
  p.Apply(handed);
  p.Apply(ev.Task(3, "j-web", "b.js", K::TASK_KIND_REPAIR, S::TASK_STATE_SUCCEEDED, 0.02, 100,
                  800));
  p.Apply(ev.Job(3, "j-web", kiln::v1::JOB_STATE_SUCCEEDED));
  p.Apply(ev.Task(4, "j-api", "x.py", K::TASK_KIND_GENERATE, S::TASK_STATE_FAILED, 0.0, 0, 0));

  const JobProgress* web = p.job("j-web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->files_done, 2);
  EXPECT_EQ(web->files_failed, 0);
  EXPECT_EQ(web->repairs, 1);
  EXPECT_EQ(web->state, kiln::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(p.job("j-api")->files_failed, 1);
  EXPECT_EQ(p.files_done(), 2);
  EXPECT_EQ(p.files_total(), 4);
  EXPECT_EQ(p.jobs_done(), 1);
  EXPECT_NEAR(p.cost_usd(), 0.04, 1e-9);
  EXPECT_EQ(p.usage().input_tokens(), 1100);
  EXPECT_EQ(p.usage().cache_read_tokens(), 1600);
  EXPECT_EQ(p.last_sequence(), 6);
  // 1600 of 2700 prompt tokens came from the cache; 2700 + 400 output.
  EXPECT_EQ(TotalsLine(p), "2/4 files, 1/2 jobs, 3.1k tokens, cache 59.3%, $0.0400");
}

TEST(PlainPrinter, OneTimestampedLinePerNotableEvent) {
  BatchProgress p;
  p.Reset(TwoJobs());
  std::ostringstream out;
  auto printer = MakePlainPrinter(out);
  Events ev;
  using K = kiln::v1::TaskKind;
  using S = kiln::v1::TaskState;
  std::vector<kiln::v1::Event> events = {
      ev.Job(0.5, "j-web", kiln::v1::JOB_STATE_GENERATING),
      ev.Task(1.0, "j-web", "a.js", K::TASK_KIND_GENERATE, S::TASK_STATE_LEASED, 0, 0, 0),
      ev.Task(2.0, "j-web", "a.js", K::TASK_KIND_GENERATE, S::TASK_STATE_SUCCEEDED, 0.5, 10, 0),
  };
  kiln::v1::Event retry = ev.Task(3.0, "j-web", "b.js", K::TASK_KIND_GENERATE,
                                  S::TASK_STATE_READY, 0, 0, 0);
  retry.mutable_task()->mutable_error()->set_message("HTTP 503");
  events.push_back(retry);
  kiln::v1::Event handed = ev.Task(64.0, "j-web", "b.js", K::TASK_KIND_GENERATE,
                                   S::TASK_STATE_FAILED, 0, 0, 0);
  handed.mutable_task()->set_repaired_by("r1");
  events.push_back(handed);
  for (const auto& e : events) {
    p.Apply(e);
    printer->OnEvent(e, p);
  }
  printer->Finish(p);
  EXPECT_EQ(out.str(),
            "[   0.5s] web GENERATING 2 files\n"
            "[   2.0s] web: a.js written (1/2)\n"
            "[   3.0s] web: b.js attempt 1 will be retried: HTTP 503\n"
            "[  1m04s] web: b.js failed its check; repairing\n"
            "[  1m04s] 1/4 files, 0/2 jobs, 410 tokens, cache 0.0%, $0.5000\n");
}

TEST(TerminalPrinter, RedrawsBarsInPlaceWithMessagesAbove) {
  BatchProgress p;
  p.Reset(TwoJobs());
  std::ostringstream out;
  auto printer = MakeTerminalPrinter(out, 100, 20);
  Events ev;
  kiln::v1::Event e = ev.Job(0, "j-web", kiln::v1::JOB_STATE_FAILED);
  e.mutable_job()->mutable_error()->set_message("budget_usd reached");
  p.Apply(e);
  printer->OnEvent(e, p);
  printer->Tick(p, kT0 + absl::Seconds(5));
  const std::string first = out.str();
  EXPECT_EQ(first.find("web FAILED: 0/2 files"), 3u) << first;  // after "\x1b[J"
  EXPECT_NE(first.find("budget_usd reached\n"), std::string::npos);
  EXPECT_NE(first.find("total "), std::string::npos);
  EXPECT_NE(first.find("1/2 jobs"), std::string::npos);
  EXPECT_NE(first.find("5.0s"), std::string::npos);
  // The next frame moves up over the previous one (one row per job and the
  // total: 3 lines) and clears it first.
  printer->Tick(p, kT0 + absl::Seconds(7));
  EXPECT_EQ(out.str().substr(first.size(), 7), "\x1b[3F\x1b[J");
  // Every line fits the width (bars count one column per glyph).
  std::string frame = out.str().substr(first.size() + 7);
  EXPECT_NE(frame.find("\u2591"), std::string::npos);
}

TEST(TerminalPrinter, ManyJobsShowRunningFirstThenASummaryLine) {
  kiln::v1::Batch b;
  b.set_id("b1");
  for (int i = 0; i < 30; ++i) {
    kiln::v1::Job* j = b.add_jobs();
    j->set_id(absl::StrCat("j", i));
    j->mutable_spec()->set_name(absl::StrCat("svc-", i));
  }
  BatchProgress p;
  p.Reset(b);
  Events ev;
  p.Apply(ev.Job(0, "j29", kiln::v1::JOB_STATE_GENERATING));
  std::ostringstream out;
  auto printer = MakeTerminalPrinter(out, 120, 6);
  printer->Finish(p);
  const std::string s = out.str();
  EXPECT_EQ(s.find("svc-29 "), 3u) << s;
  EXPECT_NE(s.find("... and 29 more jobs (29 queued)"), std::string::npos) << s;
}

}  // namespace
}  // namespace cli
}  // namespace kiln
