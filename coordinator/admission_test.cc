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
  EXPECT_EQ(Drain(again, s2), 3);  // the 3 files (the checkout was acknowledged)
  EXPECT_EQ(Batch(first).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  clock_.Advance(absl::Seconds(1));
  auto last = TrySubmit(kThreeFiles);
  EXPECT_TRUE(last.ok()) << last.status();
}

// A matrix of `repos` jobs of one file each.
std::string Matrix(int repos) {
  std::string y = "name: huge\nmatrix:\n  repos:\n";
  for (int i = 0; i < repos; ++i) {
    absl::StrAppend(&y, "    - {path: ./r, name: r", i, "}\n");
  }
  absl::StrAppend(&y,
                  "  job:\n    name: huge\n    model: gpt-4o-mini\n    files:\n"
                  "      - {path: a.py, instructions: write a}\n");
  return y;
}

TEST_F(AdmissionTest, AHugeMatrixIsAcknowledgedAtOnceAndExpandedASliceAtATurn) {
  options_.admission_slice_tasks = 500;
  Restart();
  auto id = TrySubmit(Matrix(2000));
  ASSERT_TRUE(id.ok()) << id.status();
  // Acknowledged with the batch durable and its count known; a slice of it
  // expanded in the turn that committed it.
  kiln::v1::Batch b = Batch(*id);
  EXPECT_EQ(b.jobs_total(), 2000);
  auto expanded = [&] {
    kiln::v1::ListTasksRequest req;
    req.set_batch_id(*id);
    req.set_page_size(10000);
    auto r = coord_->ListTasks(req);
    return r.ok() ? r->tasks_size() : -1;
  };
  EXPECT_EQ(expanded(), 500);
  EXPECT_TRUE(coord_->NextWakeup().has_value());  // more to do: a turn now
  for (int turn = 2; turn <= 4; ++turn) {
    Turn();
    EXPECT_EQ(expanded(), 500 * turn);
  }
  EXPECT_EQ(Batch(*id).state(), kiln::v1::BATCH_STATE_QUEUED);
  // The same request again is the same batch, not a second one.
  auto again = TrySubmit(Matrix(2000), "");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*again, *id);  // no request id: a new batch
  kiln::v1::SubmitBatchRequest req;
  auto parsed = ParseAndValidate(Matrix(3), "t.yaml", models_);
  ASSERT_TRUE(parsed.ok());
  *req.mutable_spec() = parsed->batch;
  req.set_request_id("req-1");
  std::string first, second;
  coord_->SubmitBatch(req, [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
    first = r->batch().id();
  });
  Turn();
  coord_->SubmitBatch(req, [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
    second = r->batch().id();
  });
  Turn();
  EXPECT_EQ(first, second);
}

TEST_F(AdmissionTest, ACrashWhileExpandingLosesNoJobAndACancelCoversTheUnexpanded) {
  options_.admission_slice_tasks = 100;
  Restart();
  auto id = TrySubmit(Matrix(1000));
  ASSERT_TRUE(id.ok()) << id.status();
  Restart();  // after one slice: the replay expands the rest
  kiln::v1::ListTasksRequest req;
  req.set_batch_id(*id);
  req.set_page_size(10000);
  EXPECT_EQ(coord_->ListTasks(req)->tasks_size(), 2000);  // a checkout and a file per job

  clock_.Advance(absl::Seconds(1));  // ids are seeded alike across restarts
  auto other = TrySubmit(Matrix(1000));
  ASSERT_TRUE(other.ok());
  kiln::v1::CancelBatchRequest cancel;
  cancel.set_batch_id(*other);
  coord_->CancelBatch(cancel, [](absl::StatusOr<kiln::v1::Batch>) {});
  for (int i = 0; i < 20; ++i) Turn();
  kiln::v1::Batch b = Batch(*other);
  EXPECT_EQ(b.state(), kiln::v1::BATCH_STATE_CANCELLED);
  EXPECT_EQ(b.jobs_done(), 1000);
  EXPECT_EQ(b.tasks().cancelled(), 2000);
}

TEST_F(AdmissionTest, ABatchOverTheSizeLimitIsRefusedWithItsCount) {
  options_.max_batch_tasks = 1500;
  Restart();
  auto refused = TrySubmit(Matrix(2000));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find(
                "the batch has 2000 tasks (2000 jobs), more than the coordinator's "
                "limit of 1500"),
            std::string::npos)
      << refused.status();
  EXPECT_EQ(Listed(), 0);
  EXPECT_TRUE(TrySubmit(Matrix(1500)).ok());
}

}  // namespace
}  // namespace kiln
