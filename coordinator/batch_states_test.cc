#include "coordinator/batch_states.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

using kiln::v1::BatchState;
using kiln::v1::JobState;

TEST(BatchStates, AJobFollowsWhatItRunsThenItsPhase) {
  EXPECT_EQ(JobStateWhileRunning(kiln::v1::TASK_KIND_PLAN), kiln::v1::JOB_STATE_PLANNING);
  EXPECT_EQ(JobStateWhileRunning(kiln::v1::TASK_KIND_GENERATE), kiln::v1::JOB_STATE_GENERATING);
  EXPECT_EQ(JobStateWhileRunning(kiln::v1::TASK_KIND_REPAIR), kiln::v1::JOB_STATE_GENERATING);
  EXPECT_EQ(JobStateWhileRunning(kiln::v1::TASK_KIND_BUILD), kiln::v1::JOB_STATE_BUILDING);
  EXPECT_EQ(JobStateOf(JobPhase::kRunning), kiln::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(JobStateOf(JobPhase::kSucceeded), kiln::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(JobStateOf(JobPhase::kFailed), kiln::v1::JOB_STATE_FAILED);
  EXPECT_EQ(JobStateOf(JobPhase::kCancelled), kiln::v1::JOB_STATE_CANCELLED);
}

TEST(BatchStates, JobProtoAndItsEvent) {
  JobStatus js;
  js.name = "web";
  js.files_total = 5;
  js.files_done = 4;
  js.files_failed = 1;
  js.cost_usd = 0.25;
  js.reason = "web/x.js failed its check";
  const kiln::v1::Job j = JobProto("b/web", "b", kiln::v1::JOB_STATE_FAILED, js);
  EXPECT_EQ(j.id(), "b/web");
  EXPECT_EQ(j.batch_id(), "b");
  EXPECT_EQ(j.files_failed(), 1);
  EXPECT_DOUBLE_EQ(j.cost_usd(), 0.25);
  EXPECT_EQ(j.error().message(), js.reason);
  const kiln::v1::Event e = JobChangedEvent(j, js.name);
  EXPECT_EQ(e.job().job_name(), "web");
  EXPECT_EQ(e.job().state(), kiln::v1::JOB_STATE_FAILED);
  EXPECT_EQ(e.job().files_done(), 4);
  EXPECT_EQ(e.job().error().message(), js.reason);
  // A running job's event carries no error.
  const kiln::v1::Event running =
      JobChangedEvent(JobProto("b/web", "b", kiln::v1::JOB_STATE_GENERATING, js), "web");
  EXPECT_FALSE(running.job().has_error());
}

TEST(BatchStates, TheBatchStartsWithItsFirstJobAndEndsWithItsLastTask) {
  JobsSummary none;
  none.Add(kiln::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_QUEUED, none, false, false),
            kiln::v1::BATCH_STATE_QUEUED);
  JobsSummary started;
  started.Add(kiln::v1::JOB_STATE_GENERATING);
  started.Add(kiln::v1::JOB_STATE_QUEUED);
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_QUEUED, started, false, false),
            kiln::v1::BATCH_STATE_RUNNING);
  JobsSummary ok;
  ok.Add(kiln::v1::JOB_STATE_SUCCEEDED);
  ok.Add(kiln::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(ok.done, 2);
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_RUNNING, ok, true, false),
            kiln::v1::BATCH_STATE_SUCCEEDED);
  JobsSummary failed = ok;
  failed.Add(kiln::v1::JOB_STATE_FAILED);
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_RUNNING, failed, true, false),
            kiln::v1::BATCH_STATE_FAILED);
  // Cancelled wins over failed, asked for or not.
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_RUNNING, failed, true, true),
            kiln::v1::BATCH_STATE_CANCELLED);
  JobsSummary cancelled = failed;
  cancelled.Add(kiln::v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_RUNNING, cancelled, true, false),
            kiln::v1::BATCH_STATE_CANCELLED);
  // A terminal batch stays.
  EXPECT_EQ(NextBatchState(kiln::v1::BATCH_STATE_SUCCEEDED, failed, true, true),
            kiln::v1::BATCH_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace kiln
