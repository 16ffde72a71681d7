// The parts of `kiln run` that decide what a second run of the same file
// does (resume, supersede, resend an in-doubt submit, or start afresh), and
// how a spec file's relative repo paths are resolved.
#include "cli/run.h"

#include <filesystem>
#include <fstream>

#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

namespace fs = std::filesystem;

kiln::v1::Batch BatchIn(kiln::v1::BatchState state) {
  kiln::v1::Batch b;
  b.set_id("b_1");
  b.set_state(state);
  return b;
}

TEST(DecideResume, AnUnfinishedBatchOfTheSameSpecIsResumed) {
  const RunRecord r{"d1", "req_1", "b_1"};
  const kiln::v1::Batch running = BatchIn(kiln::v1::BATCH_STATE_RUNNING);
  EXPECT_EQ(DecideResume(r, "d1", &running), ResumeAction::kResume);
  // The file was edited since: the old batch is superseded.
  EXPECT_EQ(DecideResume(r, "d2", &running), ResumeAction::kSupersede);
}

TEST(DecideResume, AFinishedOrLostBatchStartsAfresh) {
  const RunRecord r{"d1", "req_1", "b_1"};
  const kiln::v1::Batch done = BatchIn(kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(DecideResume(r, "d1", &done), ResumeAction::kSubmitFresh);
  EXPECT_EQ(DecideResume(r, "d1", nullptr), ResumeAction::kSubmitFresh);
  EXPECT_EQ(DecideResume(RunRecord{}, "d1", nullptr), ResumeAction::kSubmitFresh);
}

TEST(DecideResume, ASubmitThatMayHaveLandedIsResentWithItsRequestId) {
  // Saved before the submit, never completed: the same request id finds the
  // batch if it was created, and creates it once if not.
  const RunRecord in_doubt{"d1", "req_1", ""};
  EXPECT_EQ(DecideResume(in_doubt, "d1", nullptr), ResumeAction::kSubmitInDoubt);
  EXPECT_EQ(DecideResume(in_doubt, "d2", nullptr), ResumeAction::kSubmitFresh);
}

TEST(RunRecord, SavedAndLoadedPerSpecFile) {
  const std::string dir = FreshTestDir("runs");
  const std::string path = RunRecord::PathFor(dir, "jobs/a.yaml");
  EXPECT_NE(path, RunRecord::PathFor(dir, "jobs/b.yaml"));
  EXPECT_EQ(path, RunRecord::PathFor(dir, "jobs/../jobs/a.yaml"));
  EXPECT_TRUE(RunRecord::Load(path).digest.empty());  // none yet
  ASSERT_TRUE((RunRecord{"d1", "req_1", "b_1"}).Save(path).ok());
  const RunRecord back = RunRecord::Load(path);
  EXPECT_EQ(back.digest, "d1");
  EXPECT_EQ(back.request_id, "req_1");
  EXPECT_EQ(back.batch_id, "b_1");
}

TEST(LoadSpec, RelativeRepoPathsAreResolvedAgainstTheFile) {
  const std::string dir = FreshTestDir("spec");
  fs::create_directories(fs::path(dir) / "jobs");
  std::ofstream(fs::path(dir) / "jobs/web.yaml")
      << "name: web\nrepo: ./repo\nmodel: gpt-4o\nfiles: [{path: a.js, instructions: x}]\n";
  absl::StatusOr<ParsedSpec> spec = LoadSpec((fs::path(dir) / "jobs/web.yaml").string());
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->batch.name(), "web");  // a job file's batch is named after it
  EXPECT_EQ(spec->batch.jobs(0).repo().path(), (fs::path(dir) / "jobs/repo").string());
  EXPECT_EQ(LoadSpec(dir + "/missing.yaml").status().message(), dir + "/missing.yaml: no such file");
}

TEST(SubmitRequest, CarriesTheSpecTheKeyAndTheFieldLocations) {
  ParsedSpec spec;
  spec.batch.set_name("x");
  spec.locations["jobs[0].name"] = kiln::v1::SourceLocation();
  const kiln::v1::SubmitBatchRequest r = SubmitRequest(spec, "req_9");
  EXPECT_EQ(r.spec().name(), "x");
  EXPECT_EQ(r.request_id(), "req_9");
  EXPECT_EQ(r.locations().count("jobs[0].name"), 1u);
}

}  // namespace
}  // namespace cli
}  // namespace kiln
