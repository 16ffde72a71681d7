#include "common/entity_ids.h"

#include <algorithm>
#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(EntityIds, JobAndTaskPartsFromTheirStrings) {
  const JobId job("b_01ABC", "web");
  EXPECT_EQ(job.str(), "b_01ABC/web");
  EXPECT_EQ(job.batch_id(), "b_01ABC");
  EXPECT_EQ(job.name(), "web");
  const TaskId task(job, 12);
  EXPECT_EQ(task.str(), "b_01ABC/web/12");
  EXPECT_EQ(task.number(), 12);
  EXPECT_EQ(task.job_id(), job);
  EXPECT_EQ(task.batch_id(), "b_01ABC");
  const TaskId parsed = TaskId::Parse("b_01ABC/web/12");
  EXPECT_EQ(parsed, task);
  EXPECT_EQ(parsed.number(), 12);
  EXPECT_EQ(JobId::Parse("b_01ABC/web").name(), "web");
  EXPECT_EQ(BatchIdOf("b_01ABC/web/3"), "b_01ABC");
  EXPECT_EQ(BatchIdOf("b_01ABC"), "b_01ABC");
}

TEST(EntityIds, MalformedIdsAreCaughtWhereParsed) {
  EXPECT_EQ(TaskId::Parse("b/job/x").number(), -1);
  EXPECT_EQ(TaskId::Parse("b/job/-3").number(), -1);
  EXPECT_EQ(TaskId::Parse("nojob").job_id().str(), "nojob");
  EXPECT_EQ(JobId::Parse("lonely").name(), "lonely");
}

TEST(EntityIds, TasksOrderByJobThenCreation) {
  std::vector<TaskId> ids = {TaskId::Parse("b/a/10"), TaskId::Parse("b/a/9"),
                             TaskId::Parse("b/0/2")};
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids[0].str(), "b/0/2");
  EXPECT_EQ(ids[1].str(), "b/a/9");
  EXPECT_EQ(ids[2].str(), "b/a/10");
}

}  // namespace
}  // namespace kiln
