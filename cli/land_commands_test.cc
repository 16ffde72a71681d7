#include "cli/land_commands.h"

#include "gtest/gtest.h"

namespace kiln {
namespace cli {
namespace {

// A finished batch as the coordinator reports it: one plain job that had a
// `select` (its spec now pinned to a commit and listing what it selected)
// and failed, and one matrix job that succeeded.
kiln::v1::Batch Finished() {
  kiln::v1::Batch b;
  b.mutable_spec()->set_name("migration");
  kiln::v1::JobSpec* plain = b.mutable_spec()->add_jobs();
  plain->set_name("svc-a");
  plain->mutable_repo()->set_path("/repos/a");
  plain->mutable_select()->add_glob("**/*.py");
  plain->add_files()->set_path("listed.py");
  kiln::v1::MatrixSpec* m = b.mutable_spec()->mutable_matrix();
  m->mutable_job()->set_name("migrate");
  m->add_repos()->mutable_repo()->set_path("/repos/b");
  m->mutable_repos(0)->set_name("svc-b");

  kiln::v1::Job* a = b.add_jobs();
  a->set_state(kiln::v1::JOB_STATE_FAILED);
  *a->mutable_spec() = *plain;
  a->mutable_spec()->mutable_repo()->set_commit(std::string(40, 'a'));
  kiln::v1::FileSpec* selected = a->mutable_spec()->add_files();
  selected->set_path("service/x.py");
  selected->set_base_digest(std::string(64, 'd'));
  kiln::v1::Job* mb = b.add_jobs();
  mb->set_state(kiln::v1::JOB_STATE_SUCCEEDED);
  mb->mutable_spec()->set_name("svc-b");
  mb->mutable_spec()->mutable_repo()->set_path("/repos/b");
  mb->mutable_spec()->mutable_repo()->set_commit(std::string(40, 'b'));
  return b;
}

TEST(RetrySpec, ChecksOutAndSelectsAgainAndKeepsMatrixJobsInTheMatrix) {
  const kiln::v1::BatchSpec all = RetrySpec(Finished(), /*failed_only=*/false);
  EXPECT_EQ(all.name(), "migration");
  ASSERT_EQ(all.jobs_size(), 1);
  const kiln::v1::JobSpec& a = all.jobs(0);
  // Not pinned: the new batch checks the branch out as it is now.
  EXPECT_EQ(a.repo().commit(), "");
  EXPECT_EQ(a.repo().path(), "/repos/a");
  // The listed file stays; the selected one is the new SELECT's to choose.
  ASSERT_EQ(a.files_size(), 1);
  EXPECT_EQ(a.files(0).path(), "listed.py");
  EXPECT_TRUE(a.has_select());
  ASSERT_EQ(all.matrix().repos_size(), 1);
  EXPECT_EQ(all.matrix().repos(0).name(), "svc-b");
  EXPECT_EQ(all.matrix().repos(0).repo().commit(), "");
  EXPECT_EQ(all.matrix().job().name(), "migrate");

  const kiln::v1::BatchSpec failed = RetrySpec(Finished(), /*failed_only=*/true);
  EXPECT_EQ(failed.jobs_size(), 1);
  EXPECT_FALSE(failed.has_matrix());
}

}  // namespace
}  // namespace cli
}  // namespace kiln
