// Edits through the coordinator core: a SELECT's files are recorded with its
// result, so a restart resumes the same set; a selection is never served
// from the result cache, while the edits it yields are, keyed on each
// file's content, with what they did to the file.
#include <set>
#include <string>

#include "coordinator/coordinator_fixture.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {


constexpr char kSelect[] = R"(name: migrate
jobs:
  - name: svc
    repo: ./svc
    model: gpt-4o-mini
    instructions: "Replace `a` with `b`."
    select: {glob: "*.py"}
)";

class CoordinatorEditTest : public CoordinatorTest {
 protected:
// Reports a SELECT that found `paths`.
void FinishSelect(const std::string& session, const Assignment& a,
                  const std::vector<std::string>& paths) {
  kiln::v1::WorkerMessage m;
  TaskResult* r = m.mutable_result();
  *r->mutable_lease() = a.lease();
  r->set_outcome(TaskResult::OUTCOME_SUCCEEDED);
  for (const auto& p : paths) {
    kiln::v1::FileSpec* f = r->mutable_plan()->add_files();
    f->set_path(p);
    f->set_mode(kiln::v1::FILE_MODE_EDIT);
    f->set_base_digest(std::string(64, p[0]));
    f->set_base_bytes(100);
  }
  coord_->OnWorkerMessage(session, m);
  Turn();
}

// Reports an edit that changed its file (+1 -1).
void FinishEdit(const std::string& session, const Assignment& a) {
  kiln::v1::WorkerMessage m;
  TaskResult* r = m.mutable_result();
  *r->mutable_lease() = a.lease();
  r->set_outcome(TaskResult::OUTCOME_SUCCEEDED);
  kiln::v1::Artifact* art = r->add_artifacts();
  art->set_path(a.task().path());
  *art->mutable_digest() = *coord_->blobs()->Put("b = 1\n");
  kiln::v1::FileEdit* e = r->mutable_record()->mutable_edit();
  e->set_mode("edit");
  e->set_format("whole");
  e->set_result("changed");
  e->set_lines_added(1);
  e->set_lines_removed(1);
  coord_->OnWorkerMessage(session, m);
  Turn();
}
};

TEST_F(CoordinatorEditTest, ASelectionIsRecordedAndARestartResumesTheSameFiles) {
  const std::string id = Submit(kSelect);
  FakeSink sink;
  std::string s = Register(&sink, "w1", 4);
  auto as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].task().kind(), kiln::v1::TASK_KIND_SELECT);
  EXPECT_EQ(as[0].job().select().glob(0), "*.py");  // the selection goes along
  FinishSelect(s, as[0], {"a.py", "b.py"});
  const auto edits = sink.TakeAssignments();
  std::set<std::string> edited;
  for (const auto& a : edits) {
    EXPECT_EQ(a.task().kind(), kiln::v1::TASK_KIND_GENERATE);
    EXPECT_EQ(a.job().instructions(), "Replace `a` with `b`.");
    ASSERT_EQ(a.job().files_size(), 1);
    EXPECT_EQ(a.job().files(0).mode(), kiln::v1::FILE_MODE_EDIT);
    edited.insert(a.task().path());
  }
  EXPECT_EQ(edited, (std::set<std::string>{"a.py", "b.py"}));

  // The edits are running when the coordinator restarts: the log gives back
  // the same tasks (nothing is selected again) and their leases still count.
  Restart();
  FakeSink again;
  s = Register(&again, "w1", 4, {edits[0].lease(), edits[1].lease()});
  EXPECT_TRUE(again.TakeAssignments().empty());
  EXPECT_TRUE(again.Cancels().empty());
  for (const auto& a : edits) FinishEdit(s, a);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  auto report = coord_->GetReport(id);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->files_changed(), 2);
  EXPECT_EQ(report->lines_added(), 2);
  EXPECT_EQ(report->lines_removed(), 2);
}

TEST_F(CoordinatorEditTest, SelectionsRunAgainWhileTheirEditsComeFromTheCache) {
  Submit(kSelect);
  FakeSink sink;
  const std::string s = Register(&sink, "w1", 4);
  auto as = sink.TakeAssignments();
  FinishSelect(s, as[0], {"a.py"});
  for (const auto& a : sink.TakeAssignments()) FinishEdit(s, a);

  const std::string second = Submit(kSelect);
  as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].task().kind(), kiln::v1::TASK_KIND_SELECT);  // the repo may have moved
  FinishSelect(s, as[0], {"a.py"});
  EXPECT_TRUE(sink.TakeAssignments().empty());  // the same content: the cached edit
  EXPECT_EQ(Batch(second).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  auto report = coord_->GetReport(second);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->result_cache_hits(), 1);
  EXPECT_EQ(report->files_changed(), 1);  // the cached result keeps its edit

  // Another content of the same path is another edit.
  const std::string third = Submit(kSelect);
  as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  FinishSelect(s, as[0], {"z.py"});
  EXPECT_EQ(sink.TakeAssignments().size(), 1u);
}

}  // namespace
}  // namespace kiln
