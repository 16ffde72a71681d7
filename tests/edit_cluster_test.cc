// examples/migration on a real cluster: kiln_llmsim speaking the OpenAI and
// the Anthropic protocol (every first attempt defective: a block that
// matches nothing, or an edit that breaks the syntax), a kiln_coordinator
// and a kiln_worker checking files in bubblewrap. In each repo exactly the
// files using the legacy client are edited, they compile, large files are
// edited by SEARCH/REPLACE blocks and small ones whole, the repairs fixed
// every defect, and a repo already migrated ends "no matching files".
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/entity_ids.h"
#include "common/subprocess.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "kiln/v1/job_service.grpc.pb.h"
#include "spec/spec_parser.h"
#include "tests/cluster_client.h"
#include "tests/migration_check.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
constexpr char kToken[] = "edit-token";

struct Protocol {
  const char* provider;
  const char* model;
};

class EditClusterTest : public ::testing::TestWithParam<Protocol> {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(::testing::TempDir(), "/edit-", GetParam().provider);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto sim = Subprocess::Start({"llm/sim/kiln_llmsim", "--port=0",
                                  "--port_file=" + dir_ + "/llmsim.port", "--time_scale=50",
                                  "--defect_rate=1", "--seed=3"},
                                 {}, dir_ + "/llmsim.log");
    ASSERT_TRUE(sim.ok()) << sim.status();
    llmsim_ = std::make_unique<Subprocess>(std::move(*sim));
    auto sp = WaitForFileLine(dir_ + "/llmsim.port", absl::Seconds(30));
    ASSERT_TRUE(sp.ok()) << sp.status();
    auto c = Subprocess::Start(
        {"coordinator/kiln_coordinator", "--listen=127.0.0.1:0",
         "--port_file=" + dir_ + "/coordinator.port", "--state_dir=" + dir_ + "/state"},
        {{"KILN_TOKEN", kToken}}, dir_ + "/coordinator.log");
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = std::make_unique<Subprocess>(std::move(*c));
    auto cp = WaitForFileLine(dir_ + "/coordinator.port", absl::Seconds(30));
    ASSERT_TRUE(cp.ok()) << cp.status();
    const std::string base = absl::StrCat("http://127.0.0.1:", *sp,
                                          std::string(GetParam().provider) == "openai" ? "/v1" : "");
    auto w = Subprocess::Start(
        {"worker/kiln_worker", absl::StrCat("--coordinator=127.0.0.1:", *cp), "--worker_id=w1",
         absl::StrCat("--provider=", GetParam().provider), "--base_url=" + base,
         "--work_dir=" + dir_ + "/w1", "--llm_slots=16", "--build_slots=2", "--sandbox=bwrap"},
        {{"KILN_TOKEN", kToken}}, dir_ + "/w1.log");
    ASSERT_TRUE(w.ok()) << w.status();
    worker_ = std::make_unique<Subprocess>(std::move(*w));
    client_ = std::make_unique<ClusterClient>(*cp, kToken);
  }

  void TearDown() override {
    worker_.reset();
    coordinator_.reset();
    llmsim_.reset();
  }

  std::string dir_;
  std::unique_ptr<Subprocess> llmsim_, coordinator_, worker_;
  std::unique_ptr<ClusterClient> client_;
};

TEST_P(EditClusterTest, MigrationEditsExactlyTheFilesUsingTheClient) {
  const std::string out = dir_ + "/migration";
  ASSERT_EQ(std::system(absl::StrCat("python3 examples/migration/generate.py --repos 3 "
                                     "--migrated 1 --model ",
                                     GetParam().model, " --out ", out, " >/dev/null")
                            .c_str()),
            0);
  auto parsed = ReadSpecFile(out + "/batch.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  kiln::v1::BatchSpec spec = parsed->batch;
  for (auto& r : *spec.mutable_matrix()->mutable_repos()) {
    r.mutable_repo()->set_path(fs::absolute(fs::path(out) / r.repo().path()).lexically_normal());
  }

  absl::StatusOr<std::string> submitted = client_->Submit(spec);
  ASSERT_TRUE(submitted.ok()) << submitted.status();
  const std::string batch = *submitted;
  client_->WaitForEnd(batch);
  absl::StatusOr<kiln::v1::Batch> got = client_->Batch(batch);
  ASSERT_TRUE(got.ok()) << got.status();
  const kiln::v1::Batch& b = *got;
  ASSERT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  std::map<std::string, std::string> notes;
  for (const auto& j : b.jobs()) notes[std::string(JobId::Parse(j.id()).name())] = j.note();
  EXPECT_EQ(notes["svc-002"], "no matching files");
  EXPECT_EQ(notes["svc-000"], "");

  // The files, per job.
  std::map<std::string, std::map<std::string, std::string>> files;
  {
    kiln::v1::FetchArtifactsRequest fetch;
    fetch.set_batch_id(batch);
    auto ctx = client_->Ctx();
    auto reader = client_->stub()->FetchArtifacts(ctx.get(), fetch);
    kiln::v1::FetchArtifactsResponse r;
    std::string* current = nullptr;
    while (reader->Read(&r)) {
      if (r.has_artifact()) {
        current = &files[std::string(JobId::Parse(r.artifact().job_id()).name())]
                        [r.artifact().path()];
      } else if (current != nullptr) {
        *current += r.chunk().data();
      }
    }
    ASSERT_TRUE(reader->Finish().ok());
  }
  EXPECT_EQ(files.count("svc-002"), 0u);
  for (const char* svc : {"svc-000", "svc-001"}) {
    const auto problems = MigrationProblems(absl::StrCat(out, "/repos/", svc), files[svc],
                                            absl::StrCat(dir_, "/scratch-", svc));
    EXPECT_TRUE(problems.empty()) << svc << ": " << problems.front();
  }

  // Large files by blocks, small ones whole; every defect was repaired.
  absl::StatusOr<std::vector<kiln::v1::Task>> tasks = client_->Tasks(batch);
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  int repaired = 0, block_failures = 0;
  for (const auto& t : *tasks) {
    if (t.attempts_size() == 0 || !t.attempts(0).has_edit()) continue;
    const kiln::v1::FileEdit& e = t.attempts(t.attempts_size() - 1).edit();
    EXPECT_EQ(e.mode(), "edit") << t.id();
    EXPECT_EQ(e.format(), e.base_bytes() > 4096 ? "search_replace" : "whole") << t.path();
    if (t.kind() == kiln::v1::TASK_KIND_REPAIR && t.state() == kiln::v1::TASK_STATE_SUCCEEDED) {
      ++repaired;
    }
    if (e.blocks_failed() > 0) ++block_failures;
    if (t.state() == kiln::v1::TASK_STATE_SUCCEEDED && e.format() == "search_replace") {
      // Most of a large file's lines are untouched.
      EXPECT_LT(e.lines_removed() * 10, e.base_bytes() / 30) << t.path();
    }
  }
  EXPECT_EQ(repaired, 8);  // every first attempt was defective
  EXPECT_GT(block_failures, 0);
}

INSTANTIATE_TEST_SUITE_P(Protocols, EditClusterTest,
                         ::testing::Values(Protocol{"openai", "gpt-4o-mini"},
                                           Protocol{"anthropic", "claude-haiku-4.5"}),
                         [](const ::testing::TestParamInfo<Protocol>& p) {
                           return std::string(p.param.provider);
                         });

}  // namespace
}  // namespace kiln
