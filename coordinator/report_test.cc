#include "coordinator/report.h"

#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

kiln::v1::Task MakeTask(const std::string& id, int start_s, int end_s,
                        std::vector<std::string> deps, int cache_read,
                        int input, bool cache_hit = false) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  kiln::v1::Task t;
  t.set_id(id);
  t.set_job_id("b/job");
  t.set_kind(kiln::v1::TASK_KIND_GENERATE);
  t.set_path(id + ".js");
  t.set_state(kiln::v1::TASK_STATE_SUCCEEDED);
  t.set_model("m");
  for (auto& d : deps) t.add_deps(d);
  TimeToProto(t0 + absl::Seconds(start_s), t.mutable_ready_time());
  TimeToProto(t0 + absl::Seconds(end_s), t.mutable_end_time());
  kiln::v1::AttemptRecord* a = t.add_attempts();
  TimeToProto(t0 + absl::Seconds(start_s), a->mutable_start_time());
  TimeToProto(t0 + absl::Seconds(end_s), a->mutable_end_time());
  a->mutable_usage()->set_cache_read_tokens(cache_read);
  a->mutable_usage()->set_input_tokens(input);
  a->mutable_usage()->set_output_tokens(10);
  a->set_cost_usd(cache_hit ? 0 : 0.01);
  a->set_uncached_cost_usd(cache_hit ? 0 : 0.02);
  a->set_cache_hit(cache_hit);
  DurationToProto(absl::Seconds(end_s - start_s), a->mutable_timings()->mutable_llm());
  return t;
}

TEST(ReportTest, SumsUsageAndFindsTheRunsCriticalPath) {
  // a (0-10) -> b (10-30); c (0-25) alone; d served from the cache.
  std::vector<kiln::v1::Task> tasks = {
      MakeTask("a", 0, 10, {}, 0, 1000),
      MakeTask("b", 10, 30, {"a"}, 900, 100),
      MakeTask("c", 0, 25, {}, 900, 100),
      MakeTask("d", 30, 30, {"b"}, 0, 0, /*cache_hit=*/true),
  };
  const kiln::v1::Report r =
      BuildReport("b", kiln::v1::BATCH_STATE_SUCCEEDED, tasks, absl::Seconds(28));
  EXPECT_EQ(r.usage().cache_read_tokens(), 1800);
  EXPECT_EQ(r.usage().input_tokens(), 1200);
  EXPECT_DOUBLE_EQ(r.cache_hit_rate(), 0.6);
  EXPECT_NEAR(r.cost_usd(), 0.03, 1e-12);
  EXPECT_NEAR(r.uncached_cost_usd(), 0.06, 1e-12);
  EXPECT_EQ(DurationFromProto(r.wall_time()), absl::Seconds(30));
  EXPECT_EQ(DurationFromProto(r.critical_path()), absl::Seconds(30));
  EXPECT_EQ(DurationFromProto(r.lower_bound()), absl::Seconds(28));
  EXPECT_EQ(r.result_cache_hits(), 1);
  std::map<std::string, bool> on_path;
  for (const auto& t : r.tasks()) on_path[t.task_id()] = t.on_critical_path();
  EXPECT_TRUE(on_path["a"]);
  EXPECT_TRUE(on_path["b"]);
  EXPECT_FALSE(on_path["c"]);
  ASSERT_EQ(r.models_size(), 1);
  EXPECT_EQ(r.models(0).usage().output_tokens(), 40);
  bool llm_phase = false;
  for (const auto& p : r.phases()) {
    if (p.phase() == "llm") {
      llm_phase = true;
      EXPECT_EQ(DurationFromProto(p.total()), absl::Seconds(55));
    }
  }
  EXPECT_TRUE(llm_phase);
}

}  // namespace
}  // namespace kiln
