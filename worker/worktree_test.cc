#include "worker/worktree.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/test_dir.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

void Sh(const std::string& cmd) {
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RepoCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_ = FreshTestDir("origin");
    Sh(absl::StrCat("cd ", origin_,
                    " && git init -q -b main . && git config user.email t@t && "
                    "git config user.name t && echo v1 > README && git add . && "
                    "git commit -qm one && git tag v1 && echo v2 > README && "
                    "git commit -qam two"));
  }
  std::string origin_;
};

TEST_F(RepoCacheTest, WorktreePerJobAtItsRefFromOneMirror) {
  RepoCache cache(FreshTestDir("cache"));
  kiln::v1::RepoSpec head;
  head.set_path(origin_);
  kiln::v1::RepoSpec tag;
  tag.set_url(origin_);
  tag.set_ref("v1");
  auto a = cache.Acquire("b/job-a", head);
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = cache.Acquire("b/job-b", tag);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(Slurp(fs::path(*a) / "README"), "v2\n");
  EXPECT_EQ(Slurp(fs::path(*b) / "README"), "v1\n");
  const int64_t commands = cache.git_commands();
  // The same job again: the same directory, no git at all.
  auto again = cache.Acquire("b/job-a", head);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  EXPECT_EQ(cache.git_commands(), commands);
  cache.Release("b/job-a");
  cache.Release("b/job-a");
  cache.Release("b/job-b");
}

TEST_F(RepoCacheTest, ACheckoutSeesTheBranchAsItIsNowAndAPinnedOneItsCommit) {
  RepoCache cache(FreshTestDir("cache-pin"));
  kiln::v1::RepoSpec main;
  main.set_url(origin_);
  main.set_ref("main");
  auto first = cache.Acquire("b1/job", main);  // the first batch's SELECT
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string two = cache.CommitOf("b1/job");
  ASSERT_EQ(two.size(), 40u);
  // The branch moves while this worker runs.
  Sh(absl::StrCat("cd ", origin_, " && echo v3 > README && git commit -qam three"));
  auto later = cache.Acquire("b2/job", main);  // the next batch's SELECT fetches
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(Slurp(fs::path(*later) / "README"), "v3\n");
  const std::string three = cache.CommitOf("b2/job");
  EXPECT_NE(three, two);
  // A pinned checkout is of exactly its commit, whatever the branch says.
  kiln::v1::RepoSpec pinned = main;
  pinned.set_commit(two);
  auto old = cache.Acquire("b1/job-on-another-worker", pinned);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(Slurp(fs::path(*old) / "README"), "v2\n");
  EXPECT_EQ(cache.CommitOf("b1/job-on-another-worker"), two);
  // A commit the mirror lacks is fetched; one the source lost is an error
  // that names it.
  pinned.set_commit(std::string(40, 'e'));
  auto gone = cache.Acquire("b3/job", pinned);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(gone.status().message(), std::string(40, 'e')))
      << gone.status();
  // A plain folder has no commit.
  const std::string plain = FreshTestDir("plain");
  Sh(absl::StrCat("echo x > ", plain, "/f"));
  kiln::v1::RepoSpec folder;
  folder.set_path(plain);
  ASSERT_TRUE(cache.Acquire("b4/job", folder).ok());
  EXPECT_EQ(cache.CommitOf("b4/job"), "");
  for (const char* j : {"b1/job", "b2/job", "b1/job-on-another-worker", "b4/job"}) {
    cache.Release(j);
  }
}

TEST_F(RepoCacheTest, TheFileAtTheRefOutlivesWhatKilnWritesOverIt) {
  RepoCache cache(FreshTestDir("cache-base"));
  kiln::v1::RepoSpec head;
  head.set_path(origin_);
  auto wt = cache.Acquire("b/job", head);
  ASSERT_TRUE(wt.ok()) << wt.status();
  ASSERT_TRUE(cache.WriteFile("b/job", "README", "edited\n").ok());
  ASSERT_TRUE(cache.WriteFile("b/job", "README", "edited again\n").ok());
  ASSERT_TRUE(cache.WriteFile("b/job", "new.txt", "new\n").ok());
  EXPECT_EQ(Slurp(fs::path(*wt) / "README"), "edited again\n");
  auto base = cache.ReadBase("b/job", "README");
  ASSERT_TRUE(base.ok()) << base.status();
  ASSERT_TRUE(base->has_value());
  EXPECT_EQ(**base, "v2\n");
  auto fresh = cache.ReadBase("b/job", "new.txt");
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->has_value());  // not at the ref
  EXPECT_FALSE(cache.ReadBase("b/job", "missing.txt")->has_value());
  EXPECT_FALSE(cache.ReadBase("b/other", "README").ok());  // no such worktree
  cache.Release("b/job");
}

TEST_F(RepoCacheTest, ErrorsNameTheField) {
  RepoCache cache(FreshTestDir("cache-errors"));
  kiln::v1::RepoSpec missing;
  missing.set_path(origin_ + "-nope");
  auto m = cache.Acquire("b/j1", missing);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(m.status().message(), "repo.path")) << m.status();
  kiln::v1::RepoSpec bad_ref;
  bad_ref.set_path(origin_);
  bad_ref.set_ref("no-such-branch");
  auto r = cache.Acquire("b/j2", bad_ref);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "repo.ref")) << r.status();
}

TEST_F(RepoCacheTest, PlainFolderIsCopied) {
  const std::string folder = FreshTestDir("plain");
  std::ofstream(fs::path(folder) / "schema.sql") << "create table t();\n";
  RepoCache cache(FreshTestDir("cache-plain"));
  kiln::v1::RepoSpec spec;
  spec.set_path(folder);
  auto wt = cache.Acquire("b/plain", spec);
  ASSERT_TRUE(wt.ok()) << wt.status();
  EXPECT_EQ(Slurp(fs::path(*wt) / "schema.sql"), "create table t();\n");
  ASSERT_TRUE(WriteRepoFile(*wt, "gen.py", "x = 1\n").ok());
  EXPECT_FALSE(fs::exists(fs::path(folder) / "gen.py"));  // the source is untouched
}

TEST_F(RepoCacheTest, UnusedWorktreesAreEvicted) {
  RepoCache cache(FreshTestDir("cache-evict"), /*max_worktrees=*/1);
  kiln::v1::RepoSpec spec;
  spec.set_path(origin_);
  auto a = cache.Acquire("b/one", spec);
  ASSERT_TRUE(a.ok());
  cache.Release("b/one");
  auto b = cache.Acquire("b/two", spec);
  ASSERT_TRUE(b.ok());
  cache.Release("b/two");
  EXPECT_FALSE(fs::exists(*a));
  EXPECT_TRUE(fs::exists(*b));
}

}  // namespace
}  // namespace kiln
