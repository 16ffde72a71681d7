#include "coordinator/semaphore.h"

#include <string>
#include <vector>

#include "common/fake_clock.h"
#include "common/proto_time.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using kiln::v1::AcquireResponse;

class SemaphoreTest : public ::testing::Test {
 protected:
  SemaphoreTest() : table_(&clock_, Options()) {}
  static SemaphoreOptions Options() {
    SemaphoreOptions o;
    o.permits["compile"] = 2;
    o.expiry_grace = absl::ZeroDuration();
    return o;
  }

  // Acquires; the lease (or error) lands in results_[name] when granted.
  uint64_t Acquire(const std::string& name, int weight, int ttl_s = 30,
                   const std::string& request_id = "") {
    kiln::v1::AcquireRequest r;
    r.set_semaphore("compile");
    r.set_weight(weight);
    r.set_holder(name);
    r.mutable_ttl()->set_seconds(ttl_s);
    r.set_request_id(request_id);
    return table_.Acquire(r, [this, name](absl::StatusOr<AcquireResponse> a) {
      order_.push_back(name);
      results_[name] = std::move(a);
    });
  }
  kiln::v1::ReleaseResponse Release(const std::string& name) {
    kiln::v1::ReleaseRequest r;
    r.set_semaphore("compile");
    r.set_lease_id(results_[name]->lease().lease_id());
    r.set_fencing_token(results_[name]->lease().fencing_token());
    return table_.Release(r);
  }
  absl::StatusOr<kiln::v1::RenewResponse> Renew(const std::string& name) {
    kiln::v1::RenewRequest r;
    r.set_semaphore("compile");
    r.set_lease_id(results_[name]->lease().lease_id());
    r.set_fencing_token(results_[name]->lease().fencing_token());
    return table_.Renew(r);
  }

  FakeClock clock_;
  SemaphoreTable table_;
  std::vector<std::string> order_;
  std::map<std::string, absl::StatusOr<AcquireResponse>> results_;
};

TEST_F(SemaphoreTest, GrantsUpToThePermitsThenQueuesInOrder) {
  EXPECT_EQ(Acquire("a", 1), 0u);
  EXPECT_EQ(Acquire("b", 1), 0u);
  EXPECT_NE(Acquire("c", 1), 0u);
  EXPECT_NE(Acquire("d", 1), 0u);
  EXPECT_EQ(order_, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(table_.in_use("compile"), 2);
  EXPECT_TRUE(Release("a").released());
  EXPECT_EQ(order_.back(), "c");
  EXPECT_FALSE(Release("a").released());  // idempotent
  EXPECT_GT(results_["c"]->lease().fencing_token(),
            results_["b"]->lease().fencing_token());
}

TEST_F(SemaphoreTest, AHeavyWaiterAtTheHeadIsNotOvertaken) {
  Acquire("a", 1);
  Acquire("heavy", 2);
  Acquire("light", 1);  // would fit now, but the heavy one waits first
  EXPECT_EQ(order_, (std::vector<std::string>{"a"}));
  Release("a");
  EXPECT_EQ(order_, (std::vector<std::string>{"a", "heavy"}));
  Release("heavy");
  EXPECT_EQ(order_.back(), "light");
}

TEST_F(SemaphoreTest, AnExpiredLeaseReturnsItsPermitsAndIsFenced) {
  Acquire("a", 2, /*ttl_s=*/10);
  Acquire("b", 1);
  clock_.Advance(absl::Seconds(5));
  EXPECT_TRUE(Renew("a").ok());  // now expires at 15 s
  clock_.Advance(absl::Seconds(9));
  table_.Expire();
  EXPECT_EQ(order_.size(), 1u);
  clock_.Advance(absl::Seconds(2));
  table_.Expire();
  EXPECT_EQ(order_.back(), "b");
  auto late = Renew("a");
  EXPECT_EQ(late.status().code(), absl::StatusCode::kAborted);
  EXPECT_NE(late.status().message().find("stop the guarded work"), std::string::npos);
  auto changes = table_.TakeChanges();
  ASSERT_FALSE(changes.empty());
  bool saw_expiry = false;
  for (const auto& g : changes) saw_expiry |= g.end_reason() == "expired";
  EXPECT_TRUE(saw_expiry);
}

// Past its TTL a lease can no longer be renewed, but its permits return
// only after the grace: its holder gave it up (and killed its command) a
// margin before the TTL, so the two never run at once.
TEST_F(SemaphoreTest, AnExpiredLeasesPermitsReturnOnlyAfterTheGrace) {
  SemaphoreOptions o = Options();
  o.expiry_grace = absl::Seconds(3);
  SemaphoreTable table(&clock_, o);
  std::vector<std::string> granted;
  auto acquire = [&](const std::string& name, int weight) {
    kiln::v1::AcquireRequest r;
    r.set_semaphore("compile");
    r.set_weight(weight);
    r.set_holder(name);
    r.mutable_ttl()->set_seconds(10);
    table.Acquire(r, [&, name](absl::StatusOr<AcquireResponse> a) {
      ASSERT_TRUE(a.ok());
      granted.push_back(name);
      results_[name] = std::move(a);
    });
  };
  acquire("a", 2);
  acquire("b", 1);
  EXPECT_EQ(granted, (std::vector<std::string>{"a"}));
  clock_.Advance(absl::Seconds(10));
  kiln::v1::RenewRequest renew;
  renew.set_semaphore("compile");
  renew.set_lease_id(results_["a"]->lease().lease_id());
  renew.set_fencing_token(results_["a"]->lease().fencing_token());
  EXPECT_EQ(table.Renew(renew).status().code(), absl::StatusCode::kAborted);
  table.Expire();
  EXPECT_EQ(granted.size(), 1u);  // still counted
  EXPECT_EQ(table.in_use("compile"), 2);
  ASSERT_TRUE(table.NextExpiry().has_value());
  EXPECT_EQ(*table.NextExpiry(), clock_.MonotonicNow() + absl::Seconds(3));
  clock_.Advance(absl::Seconds(3));
  table.Expire();
  EXPECT_EQ(granted, (std::vector<std::string>{"a", "b"}));
}

TEST_F(SemaphoreTest, ACancelledWaiterLeavesTheQueue) {
  Acquire("a", 2);
  const uint64_t heavy = Acquire("heavy", 2);
  Acquire("light", 1);
  table_.Cancel(heavy);
  Release("a");
  EXPECT_EQ(order_, (std::vector<std::string>{"a", "light"}));
  EXPECT_FALSE(results_.count("heavy"));
}

TEST_F(SemaphoreTest, BadRequestsNameTheField) {
  Acquire("too-heavy", 3);
  EXPECT_EQ(results_["too-heavy"].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(results_["too-heavy"].status().message().find("weight"), std::string::npos);
  Acquire("no-ttl", 1, /*ttl_s=*/0);
  EXPECT_NE(results_["no-ttl"].status().message().find("ttl"), std::string::npos);
}

TEST_F(SemaphoreTest, ARetriedRequestIdGetsTheSameLease) {
  Acquire("a", 1, 30, "req-1");
  const std::string first = results_["a"]->lease().lease_id();
  Acquire("a", 1, 30, "req-1");
  EXPECT_EQ(results_["a"]->lease().lease_id(), first);
  EXPECT_EQ(table_.in_use("compile"), 1);
}

TEST_F(SemaphoreTest, RestoredLeasesStillCountAndTokensKeepGrowing) {
  Acquire("a", 2);
  auto grants = table_.TakeChanges();
  SemaphoreTable restarted(&clock_, Options(), table_.last_token());
  restarted.Restore(grants[0]);
  EXPECT_EQ(restarted.in_use("compile"), 2);
  kiln::v1::AcquireRequest r;
  r.set_semaphore("compile");
  int64_t token = 0;
  restarted.Acquire(r, [&](absl::StatusOr<AcquireResponse> a) {
    token = a->lease().fencing_token();
  });
  EXPECT_EQ(token, 0);
  auto status = restarted.Describe("compile");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->holders_size(), 1);
  EXPECT_EQ(status->waiters_size(), 1);
  kiln::v1::ReleaseRequest rel;
  rel.set_semaphore("compile");
  rel.set_lease_id(grants[0].lease().lease_id());
  rel.set_fencing_token(grants[0].lease().fencing_token());
  EXPECT_TRUE(restarted.Release(rel).released());
  EXPECT_GT(token, grants[0].lease().fencing_token());
}

}  // namespace
}  // namespace kiln
