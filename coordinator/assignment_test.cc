#include "coordinator/assignment.h"

#include <map>

#include "gtest/gtest.h"

namespace kiln {
namespace {

class AssignmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_.set_name("web");
    spec_.mutable_repo()->set_path("/repo");
    for (const char* p : {"a.js", "b.js", "c.js", "d.js"}) {
      kiln::v1::FileSpec* f = spec_.add_files();
      f->set_path(p);
      f->set_instructions(std::string("write ") + p);
    }
    outputs_["b/web/0"].artifact.set_path("a.js");
    outputs_["b/web/0"].artifact.mutable_digest()->set_hash("ha");
    outputs_["b/web/1"].artifact.set_path("b.js");
    outputs_["b/web/1"].artifact.mutable_digest()->set_hash("hb");
    outputs_["b/web/1"].diagnostics.set_hash("diag");
  }

  AssignmentInputs Inputs(const TaskInfo& info) {
    AssignmentInputs in;
    in.lease.set_task_id(info.id);
    in.lease.set_attempt(2);
    in.task.set_id(info.id);
    in.info = &info;
    in.spec = &spec_;
    in.output_of = [this](const std::string& id) -> const TaskOutput* {
      auto it = outputs_.find(id);
      return it == outputs_.end() ? nullptr : &it->second;
    };
    in.file_of = [this](const std::string& path) -> const kiln::v1::FileSpec* {
      for (const auto& f : spec_.files()) {
        if (f.path() == path) return &f;
      }
      return nullptr;
    };
    return in;
  }

  kiln::v1::JobSpec spec_;
  std::map<std::string, TaskOutput> outputs_;
};

TEST_F(AssignmentTest, AGenerateGetsItsFileAndItsDepsOnly) {
  TaskInfo info;
  info.id = "b/web/2";
  info.kind = kiln::v1::TASK_KIND_GENERATE;
  info.path = "c.js";
  info.deps = {"b/web/0"};
  AssignmentInputs in = Inputs(info);
  in.traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
  const kiln::v1::Assignment a = BuildAssignment(in);
  EXPECT_EQ(a.lease().attempt(), 2);
  EXPECT_EQ(a.task().state(), kiln::v1::TASK_STATE_LEASED);
  EXPECT_EQ(a.task().lease().task_id(), "b/web/2");
  ASSERT_EQ(a.job().files_size(), 2);
  EXPECT_EQ(a.job().files(0).path(), "a.js");
  EXPECT_EQ(a.job().files(1).path(), "c.js");
  ASSERT_EQ(a.dep_artifacts_size(), 1);
  EXPECT_EQ(a.dep_artifacts(0).digest().hash(), "ha");
  EXPECT_EQ(a.job_artifacts_size(), 0);
  EXPECT_FALSE(a.job().has_build());  // the job has none: it gets none
  EXPECT_EQ(a.traceparent(), in.traceparent);
}

TEST_F(AssignmentTest, ABuildGetsTheWholeJobAndEveryArtifact) {
  spec_.mutable_build()->set_command("make");
  TaskInfo info;
  info.id = "b/web/9";
  info.kind = kiln::v1::TASK_KIND_BUILD;
  info.deps = {"b/web/0", "b/web/1", "b/web/5"};  // 5 produced nothing
  const kiln::v1::Assignment a = BuildAssignment(Inputs(info));
  EXPECT_EQ(a.job().files_size(), 4);
  EXPECT_EQ(a.job().build().command(), "make");
  EXPECT_EQ(a.job_artifacts_size(), 2);
  EXPECT_EQ(a.dep_artifacts_size(), 0);
  EXPECT_TRUE(a.traceparent().empty());
}

TEST_F(AssignmentTest, ARepairGetsTheDiagnosticsTheFileAndWhatItsFirstVersionSaw) {
  TaskInfo info;
  info.id = "b/web/7";
  info.kind = kiln::v1::TASK_KIND_REPAIR;
  info.path = "b.js";
  info.repairs = "b/web/1";
  AssignmentInputs in = Inputs(info);
  in.origin_deps = {"b/web/0"};
  const kiln::v1::Assignment a = BuildAssignment(in);
  EXPECT_EQ(a.diagnostics().hash(), "diag");
  ASSERT_EQ(a.dep_artifacts_size(), 2);
  EXPECT_EQ(a.dep_artifacts(0).digest().hash(), "hb");  // the file to repair
  EXPECT_EQ(a.dep_artifacts(1).digest().hash(), "ha");  // its first version's dep
  ASSERT_EQ(a.job().files_size(), 2);
  EXPECT_EQ(a.job().files(0).path(), "b.js");
  EXPECT_EQ(a.job().files(1).path(), "a.js");
}

}  // namespace
}  // namespace kiln
