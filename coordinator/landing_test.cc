// Landing through the coordinator core: a LAND assignment carries its
// rendered templates, the batch's creation time and what Kiln last pushed to
// the same remote and branch; the landing survives restarts, and the next
// batch's LAND leases against it.
#include <string>

#include "coordinator/coordinator_fixture.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

constexpr char kLand[] = R"(name: migrate
matrix:
  repos: [{repo: ./svc, name: svc-a}]
  job:
    name: tmpl
    model: gpt-4o-mini
    files: [{path: a.js, instructions: "edit a"}]
    land:
      branch: "kiln/{batch}/{name}"
      message: "{job}: {summary}"
      push: true
      remote: "https://git.example/svc.git"
)";

class CoordinatorLandingTest : public CoordinatorTest {
 protected:
  // Reports a LAND that pushed `commit`.
  void FinishLand(const std::string& session, const Assignment& a, const std::string& commit) {
    kiln::v1::WorkerMessage m;
    TaskResult* r = m.mutable_result();
    *r->mutable_lease() = a.lease();
    r->set_outcome(TaskResult::OUTCOME_SUCCEEDED);
    kiln::v1::Landing* l = r->mutable_land();
    l->set_state(kiln::v1::LANDING_STATE_PUSHED);
    l->set_branch(a.job().land().branch());
    l->set_commit(commit);
    l->set_pushed_commit(commit);
    l->set_remote("https://git.example/svc.git");
    *l->mutable_patch() = *coord_->blobs()->Put("From " + commit + "\n");
    coord_->OnWorkerMessage(session, m);
    Turn();
  }

  // Runs the batch's file tasks and returns its LAND assignment.
  Assignment UpToLand(FakeSink& sink, const std::string& session) {
    for (auto as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
      for (const auto& a : as) {
        if (a.task().kind() == kiln::v1::TASK_KIND_LAND) return a;
        Finish(session, a);
      }
    }
    ADD_FAILURE() << "no LAND assignment";
    return Assignment();
  }
};

TEST_F(CoordinatorLandingTest, LandingIsRecordedAcrossRestartsAndLeasesTheNextPush) {
  const std::string first = Submit(kLand);
  FakeSink sink;
  std::string s = Register(&sink, "w1", 4);
  const Assignment land = UpToLand(sink, s);
  ASSERT_EQ(land.task().kind(), kiln::v1::TASK_KIND_LAND);
  EXPECT_EQ(land.job().land().branch(), "kiln/migrate/tmpl");
  EXPECT_EQ(land.job().land().message(), "svc-a: {summary}");  // {summary}: the worker's
  EXPECT_TRUE(land.task().has_create_time());
  EXPECT_TRUE(land.previous_landing().pushed_commit().empty());
  ASSERT_EQ(land.job_artifacts_size(), 1);  // the file it commits
  EXPECT_EQ(land.job_artifacts(0).path(), "a.js");

  // The coordinator restarts while LAND runs; its result is still taken.
  Restart();
  FakeSink again;
  s = Register(&again, "w1", 4, {land.lease()});
  FinishLand(s, land, "c0ffee1");
  kiln::v1::Batch b = Batch(first);
  ASSERT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  ASSERT_EQ(b.jobs_size(), 1);
  EXPECT_EQ(b.jobs(0).landing().state(), kiln::v1::LANDING_STATE_PUSHED);
  EXPECT_EQ(b.jobs(0).landing().commit(), "c0ffee1");

  // After another restart: the record is still there, and a rerun's LAND
  // leases against the commit Kiln pushed.
  Restart();
  EXPECT_EQ(Batch(first).jobs(0).landing().commit(), "c0ffee1");
  Submit(kLand);
  FakeSink third;
  s = Register(&third, "w2", 4);
  const Assignment rerun = UpToLand(third, s);
  EXPECT_EQ(rerun.previous_landing().pushed_commit(), "c0ffee1");
  EXPECT_EQ(rerun.previous_landing().branch(), "kiln/migrate/tmpl");
}

}  // namespace
}  // namespace kiln
