// Admission under pressure: a state disk that fills up.
#include <memory>
#include <string>

#include "coordinator/coordinator_fixture.h"
#include "coordinator/limited_fs.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

class AdmissionTest : public CoordinatorTest {
 protected:
  // The store goes before the environment it writes through.
  ~AdmissionTest() override {
    coord_.reset();
    store_.reset();
  }

  // Submits `yaml`; the status the caller got.
  absl::StatusOr<std::string> TrySubmit(const std::string& yaml,
                                        const std::string& request_id = "") {
    auto parsed = ParseAndValidate(yaml, "t.yaml", models_);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    kiln::v1::SubmitBatchRequest req;
    *req.mutable_spec() = parsed->batch;
    req.set_request_id(request_id);
    absl::StatusOr<std::string> id = absl::UnknownError("no reply");
    coord_->SubmitBatch(req, [&id](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
      if (r.ok()) {
        id = r->batch().id();
      } else {
        id = r.status();
      }
    });
    coord_->Pump();
    (void)coord_->Commit();
    return id;
  }

  int Listed() {
    kiln::v1::ListBatchesRequest req;
    auto r = coord_->ListBatches(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->batches_size() : -1;
  }

  std::unique_ptr<rocksdb::Env> env_;
};

TEST_F(AdmissionTest, BelowTheFreeSpaceFloorASubmissionIsRefusedAndNothingIsKept) {
  auto free = std::make_shared<uint64_t>(50ull << 20);
  store_options_.free_bytes = [free](const std::string&) -> absl::StatusOr<uint64_t> {
    return *free;
  };
  options_.min_free_bytes = 100ull << 20;
  Restart();
  absl::StatusOr<std::string> refused = TrySubmit(kThreeFiles);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.status().message().find(dir_), std::string::npos);
  EXPECT_NE(refused.status().message().find("50.0 MiB free, less than the 100.0 MiB floor"),
            std::string::npos)
      << refused.status();
  EXPECT_EQ(Listed(), 0);
  // The floor is not sticky: with room, the same submission goes in.
  *free = 1ull << 30;
  EXPECT_TRUE(TrySubmit(kThreeFiles).ok());
  EXPECT_EQ(Listed(), 1);
}

TEST_F(AdmissionTest, AFullDiskIsStickyEndsSessionsServesReadsAndLosesNothingAcknowledged) {
  auto fs = std::make_shared<LimitedFileSystem>(64 << 20);
  env_ = NewLimitedEnv(fs);
  store_options_.env = env_.get();
  store_options_.reserve_bytes = 1 << 20;
  store_options_.free_bytes = [fs](const std::string&) -> absl::StatusOr<uint64_t> {
    return fs->free_bytes();
  };
  Restart();
  const std::string first = Submit(kThreeFiles);
  FakeSink sink;
  const std::string session = Register(&sink, "w1", 4);
  std::vector<Assignment> as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  Finish(session, as[0]);  // a.js is done and acknowledged
  ASSERT_EQ(sink.Acks().size(), 1u);
  as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);

  // The disk fills up (another process): the next write is refused.
  fs->set_capacity((64 << 20) - fs->free_bytes() + (512 << 10));
  kiln::v1::WorkerMessage m;
  m.mutable_result()->mutable_lease()->CopyFrom(as[0].lease());
  m.mutable_result()->set_outcome(TaskResult::OUTCOME_SUCCEEDED);
  coord_->OnWorkerMessage(session, m);
  coord_->Pump();
  const absl::Status failed = coord_->Commit();
  EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(failed.message().find(dir_ + " is full"), std::string::npos) << failed;
  // The result was not acknowledged, and the worker's session is ended
  // with the reason, so it keeps its result for a later coordinator.
  EXPECT_EQ(sink.Acks().size(), 1u);
  EXPECT_EQ(sink.closed.code(), absl::StatusCode::kResourceExhausted);
  // Writes refused, reads served.
  EXPECT_EQ(TrySubmit(kThreeFiles).status().code(), absl::StatusCode::kResourceExhausted);
  FakeSink other;
  kiln::v1::Register reg;
  reg.set_worker_id("w2");
  EXPECT_EQ(coord_->OpenSession(reg, &other).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Listed(), 1);
  EXPECT_EQ(fs->refused_appends(), 0);  // RocksDB never met the full disk

  // A restart on the still-full disk comes up read-only and serves reads.
  Restart();
  EXPECT_TRUE(store_->read_only());
  EXPECT_EQ(Listed(), 1);
  EXPECT_EQ(Batch(first).tasks().succeeded(), 1);
  EXPECT_EQ(TrySubmit(kThreeFiles).status().code(), absl::StatusCode::kResourceExhausted);

  // Room again: everything acknowledged is there and work goes on.
  fs->set_capacity(1ull << 30);
  Restart();
  EXPECT_FALSE(store_->read_only());
  EXPECT_EQ(Batch(first).tasks().succeeded(), 1);
  FakeSink again;
  const std::string s2 = Register(&again, "w1", 4);
  clock_.Advance(absl::Minutes(1));  // past the lost attempt's retry backoff
  Turn();
  EXPECT_EQ(Drain(again, s2), 2);
  EXPECT_EQ(Batch(first).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  clock_.Advance(absl::Seconds(1));
  auto last = TrySubmit(kThreeFiles);
  EXPECT_TRUE(last.ok()) << last.status();
}

}  // namespace
}  // namespace kiln
