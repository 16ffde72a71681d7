// Attempts lost with their workers are billed: what the worker reported
// spending while it ran, plus an estimate (marked as one) of a request
// whose usage never came back.
#include <string>

#include "coordinator/coordinator_fixture.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

class LostSpendTest : public CoordinatorTest {
 protected:
  // Submits the three-file batch to one worker: its first assignment.
  Assignment Start() {
    id_ = Submit(kThreeFiles);
    session_ = Register(&sink_, "w1", 1);
    auto first = PastCheckouts(sink_, session_);  // a.js
    EXPECT_EQ(first.size(), 1u);
    return first.empty() ? Assignment() : first[0];
  }
  // No heartbeat for a whole TTL: the lease is lost.
  void LoseIt() {
    clock_.Advance(absl::Seconds(31));
    Turn();
    ASSERT_EQ(coord_->stats().leases_expired, 1);
  }
  kiln::v1::Report Report() {
    auto r = coord_->GetReport(id_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : kiln::v1::Report();
  }

  FakeSink sink_;
  std::string id_, session_;
};

kiln::v1::WorkerMessage Spent(const Assignment& a, int64_t input, int64_t output,
                              double cost, bool request_open) {
  kiln::v1::WorkerMessage m;
  kiln::v1::Progress* p = m.mutable_progress();
  *p->mutable_lease() = a.lease();
  p->mutable_usage()->set_input_tokens(input);
  p->mutable_usage()->set_output_tokens(output);
  p->mutable_usage()->set_requests(1);
  p->set_cost_usd(cost);
  p->set_uncached_cost_usd(cost);
  p->set_request_open(request_open);
  return m;
}

TEST_F(LostSpendTest, ALostAttemptIsBilledWithWhatItsWorkerReportedAndAnEstimate) {
  const Assignment first = Start();
  // One request billed (and retried), the next one streaming when the
  // worker dies.
  coord_->OnWorkerMessage(session_, Spent(first, 1000, 20, 0.01, /*request_open=*/true));
  kiln::v1::WorkerMessage streaming;
  *streaming.mutable_progress()->mutable_lease() = first.lease();
  streaming.mutable_progress()->set_first_token(true);
  streaming.mutable_progress()->set_output_tokens_so_far(300);
  coord_->OnWorkerMessage(session_, streaming);
  Turn();
  LoseIt();

  auto check = [&] {
    const kiln::v1::Report r = Report();
    const kiln::v1::Report* report = &r;
    EXPECT_EQ(report->lost_attempts(), 1);
    EXPECT_GT(report->estimated_cost_usd(), 0);
    EXPECT_NEAR(report->lost_attempts_cost_usd(), 0.01 + report->estimated_cost_usd(), 1e-12);
    EXPECT_NEAR(report->cost_usd(), report->lost_attempts_cost_usd(), 1e-12);
    EXPECT_EQ(report->usage().requests(), 2);  // the billed one and the open one
    // 20 billed, and the open request's 300 streamed tokens as its estimate.
    EXPECT_EQ(report->usage().output_tokens(), 320);
    // The batch's own totals count it too.
    EXPECT_NEAR(Batch(id_).cost_usd(), report->cost_usd(), 1e-12);
  };
  check();
  Restart();  // replayed from the log
  check();
}

TEST_F(LostSpendTest, ALostAttemptWithNothingOpenIsBilledExactly) {
  const Assignment first = Start();
  coord_->OnWorkerMessage(session_, Spent(first, 1000, 200, 0.02, /*request_open=*/false));
  Turn();
  LoseIt();
  const kiln::v1::Report report = Report();
  EXPECT_EQ(report.lost_attempts(), 1);
  EXPECT_NEAR(report.lost_attempts_cost_usd(), 0.02, 1e-12);
  EXPECT_EQ(report.estimated_cost_usd(), 0);
  EXPECT_EQ(report.usage().requests(), 1);
}

// The coordinator restarts, and the worker never comes back: the spend it
// had reported is kept with the lease and still billed.
TEST_F(LostSpendTest, ASpendReportedBeforeACoordinatorRestartIsBilledAfterIt) {
  const Assignment first = Start();
  coord_->OnWorkerMessage(session_, Spent(first, 1000, 200, 0.02, /*request_open=*/false));
  Turn();
  Restart();
  clock_.Advance(absl::Seconds(31));
  Turn();
  const kiln::v1::Report report = Report();
  EXPECT_EQ(report.lost_attempts(), 1);
  EXPECT_NEAR(report.lost_attempts_cost_usd(), 0.02, 1e-12);
  EXPECT_EQ(report.usage().requests(), 1);
}

TEST_F(LostSpendTest, AnAttemptLostBeforeItsFirstRequestCostsNothing) {
  Start();
  LoseIt();
  const kiln::v1::Report report = Report();
  EXPECT_EQ(report.lost_attempts(), 1);
  EXPECT_EQ(report.lost_attempts_cost_usd(), 0);
  EXPECT_EQ(report.usage().requests(), 0);
}

}  // namespace
}  // namespace kiln
