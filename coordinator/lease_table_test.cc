#include "coordinator/lease_table.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

MonotonicTime At(int seconds) { return MonotonicTime() + absl::Seconds(seconds); }

LeaseRec Lease(const std::string& session, int expires, int64_t attempt = 1) {
  LeaseRec l;
  l.attempt = attempt;
  l.epoch = 3;
  l.worker_id = "w-" + session;
  l.session_id = session;
  l.expires = At(expires);
  return l;
}

TEST(LeaseTable, LeasesCountInTheirSessionsSlotsUntilEndedOrFreed) {
  LeaseTable t;
  t.AddSession("s1", 2);
  EXPECT_TRUE(t.Slots("s1")->has_free_slot());
  t.Grant("b/j/1", Lease("s1", 30));
  t.Grant("b/j/2", Lease("s1", 30));
  EXPECT_EQ(t.Slots("s1")->assigned, 2);
  EXPECT_EQ(t.Slots("s1")->leases, 2);
  EXPECT_FALSE(t.Slots("s1")->has_free_slot());
  // Running checks: the LLM slot is free, the lease still counts.
  t.FreeLlmSlot("b/j/1");
  t.FreeLlmSlot("b/j/1");  // once only
  EXPECT_EQ(t.Slots("s1")->assigned, 1);
  EXPECT_EQ(t.Slots("s1")->leases, 2);
  ASSERT_TRUE(t.End("b/j/1").has_value());
  EXPECT_EQ(t.Slots("s1")->assigned, 1);
  EXPECT_EQ(t.Slots("s1")->leases, 1);
  EXPECT_FALSE(t.End("b/j/1").has_value());
  EXPECT_EQ(t.Slots("nobody"), nullptr);
  t.AddSession("s0", 0);
  EXPECT_EQ(t.Slots("s0")->slots, 1);  // at least one
}

TEST(LeaseTable, CurrentMeansTheSameAttemptEpochAndWorker) {
  LeaseTable t;
  t.AddSession("s1", 4);
  t.Grant("b/j/1", Lease("s1", 30, 2));
  EXPECT_TRUE(t.IsCurrent("b/j/1", 2, 3, "w-s1"));
  EXPECT_TRUE(t.IsCurrent("b/j/1", 2, -1, "w-s1"));
  EXPECT_FALSE(t.IsCurrent("b/j/1", 1, 3, "w-s1"));
  EXPECT_FALSE(t.IsCurrent("b/j/1", 2, 4, "w-s1"));
  EXPECT_FALSE(t.IsCurrent("b/j/1", 2, 3, "w-other"));
  EXPECT_FALSE(t.IsCurrent("b/j/9", 2, 3, "w-s1"));
}

TEST(LeaseTable, ExpiryFollowsTheLatestRenewal) {
  LeaseTable t;
  t.AddSession("s1", 4);
  t.Grant("a", Lease("s1", 10));
  t.Grant("b", Lease("s1", 20));
  t.Renew("a", At(30));  // the old heap entry at 10 is stale now
  EXPECT_EQ(*t.NextExpiry(), At(10));
  EXPECT_TRUE(t.TakeExpired(At(15)).empty());
  EXPECT_EQ(t.TakeExpired(At(25)), std::vector<std::string>{"b"});
  // Expired leases stay until ended.
  EXPECT_NE(t.Find("b"), nullptr);
  t.End("b");
  EXPECT_EQ(t.TakeExpired(At(30)), std::vector<std::string>{"a"});
}

TEST(LeaseTable, ARestartedWorkersLeaseMovesToItsNewSession) {
  LeaseTable t;
  LeaseRec adopted = Lease("", 30);  // kept after a restart: no session yet
  adopted.worker_id = "w1";
  t.Grant("b/j/1", adopted);
  t.AddSession("s2", 2);
  EXPECT_EQ(t.Slots("s2")->leases, 0);
  EXPECT_EQ(t.TasksOf("w1"), std::vector<std::string>{"b/j/1"});
  t.Rebind("b/j/1", "s2", At(60));
  EXPECT_EQ(t.Slots("s2")->assigned, 1);
  EXPECT_EQ(t.Slots("s2")->leases, 1);
  EXPECT_EQ(t.Find("b/j/1")->expires, At(60));
  t.RemoveSession("s2");
  EXPECT_NE(t.Find("b/j/1"), nullptr);  // the lease outlives its session
}

TEST(LeaseTable, ProtoCarriesTheExpiryInWallTime) {
  LeaseRec l = Lease("s1", 40, 7);
  const absl::Time now = absl::FromUnixSeconds(1000);
  const kiln::v1::Lease p = LeaseToProto("b/j/1", l, now, At(10));
  EXPECT_EQ(p.task_id(), "b/j/1");
  EXPECT_EQ(p.attempt(), 7);
  EXPECT_EQ(p.epoch(), 3);
  EXPECT_EQ(p.expire_time().seconds(), 1030);
}

}  // namespace
}  // namespace kiln
