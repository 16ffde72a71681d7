// The fixture of the coordinator core's tests: a core on a real store in a
// temporary directory, a fake clock, fake worker sessions and helpers to
// submit, register, finish tasks and restart.
#ifndef KILN_COORDINATOR_COORDINATOR_FIXTURE_H_
#define KILN_COORDINATOR_COORDINATOR_FIXTURE_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "coordinator/coordinator.h"
#include "gtest/gtest.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {

using kiln::v1::Assignment;
using kiln::v1::CoordinatorMessage;
using kiln::v1::TaskResult;

class FakeSink : public SessionSink {
 public:
  void Send(CoordinatorMessage m) override { messages.push_back(std::move(m)); }
  void Close(const absl::Status& why) override { closed = why; }

  // Assignments received and not yet taken.
  std::vector<Assignment> TakeAssignments() {
    std::vector<Assignment> out;
    for (size_t i = taken; i < messages.size(); ++i) {
      if (messages[i].has_assignment()) out.push_back(messages[i].assignment());
    }
    taken = messages.size();
    return out;
  }
  std::vector<kiln::v1::ResultAck> Acks() const {
    std::vector<kiln::v1::ResultAck> out;
    for (const auto& m : messages) {
      if (m.has_result_ack()) out.push_back(m.result_ack());
    }
    return out;
  }
  std::vector<kiln::v1::CancelLease> Cancels() const {
    std::vector<kiln::v1::CancelLease> out;
    for (const auto& m : messages) {
      if (m.has_cancel()) out.push_back(m.cancel());
    }
    return out;
  }

  std::vector<CoordinatorMessage> messages;
  size_t taken = 0;
  absl::Status closed;
};

class CollectingWatch : public WatchSink {
 public:
  void Notify(int64_t last) override { last_seen = last; }
  int64_t last_seen = 0;
};

const char kThreeFiles[] = R"(
name: demo
jobs:
  - name: app
    repo: ./app
    model: gpt-4o-mini
    files:
      - {path: a.js, instructions: write a}
      - {path: b.js, instructions: write b, deps: [a.js]}
      - {path: c.js, instructions: write c, deps: [b.js]}
)";

// What the fixture's SELECTs (the checkout every job starts with) report.
constexpr char kPinnedCommit[] = "c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe";

class CoordinatorTest : public ::testing::Test {
 protected:
  CoordinatorTest() : models_(ModelCatalog::Builtin()) {
    dir_ = absl::StrCat(::testing::TempDir(), "/coord-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    Open();
  }

  void Open() {
    StoreOptions so = store_options_;
    so.sync = false;
    auto store = Store::Open(dir_, so);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    CoordinatorOptions o = options_;
    o.lease_ttl = absl::Seconds(30);
    o.id_seed = 7;
    o.tracer = tracer_;
    auto c = Coordinator::Open(store_.get(), &clock_, &models_, o);
    ASSERT_TRUE(c.ok()) << c.status();
    coord_ = std::move(*c);
  }

  // A crash: the core and store go away without any further commit.
  void Restart() {
    coord_.reset();
    store_.reset();
    Open();
  }

  void Turn() {
    coord_->Pump();
    ASSERT_TRUE(coord_->Commit().ok());
  }

  std::string Submit(const std::string& yaml, const std::string& request_id = "",
                     const TraceContext& parent = {}) {
    auto parsed = ParseAndValidate(yaml, "t.yaml", models_);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    kiln::v1::SubmitBatchRequest req;
    *req.mutable_spec() = parsed->batch;
    req.set_request_id(request_id);
    std::string id;
    coord_->SubmitBatch(req, parent, [&id](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
      ASSERT_TRUE(r.ok()) << r.status();
      id = r->batch().id();
    });
    Turn();
    return id;
  }

  std::string Register(FakeSink* sink, const std::string& worker, int slots,
                       std::vector<kiln::v1::Lease> in_flight = {}) {
    kiln::v1::Register reg;
    reg.set_worker_id(worker);
    reg.mutable_capabilities()->set_llm_slots(slots);
    for (auto& l : in_flight) *reg.add_in_flight() = l;
    auto s = coord_->OpenSession(reg, sink);
    EXPECT_TRUE(s.ok()) << s.status();
    Turn();
    return *s;
  }

  // Reports `a` as done with `content` as its file; returns nothing, the
  // ack arrives on the sink.
  void Finish(const std::string& session, const Assignment& a,
              TaskResult::Outcome outcome = TaskResult::OUTCOME_SUCCEEDED,
              std::string content = "") {
    if (content.empty()) content = absl::StrCat("// ", a.task().path(), "\n");
    kiln::v1::WorkerMessage m;
    TaskResult* r = m.mutable_result();
    *r->mutable_lease() = a.lease();
    r->set_outcome(outcome);
    if (a.task().kind() == kiln::v1::TASK_KIND_SELECT) {
      // A checkout: no LLM call, the commit the job is pinned to.
      r->mutable_plan()->set_commit(kPinnedCommit);
      coord_->OnWorkerMessage(session, m);
      Turn();
      return;
    }
    if (!a.task().path().empty()) {
      auto d = coord_->blobs()->Put(content);
      ASSERT_TRUE(d.ok());
      kiln::v1::Artifact* art = r->add_artifacts();
      art->set_path(a.task().path());
      *art->mutable_digest() = *d;
      if (outcome == TaskResult::OUTCOME_CHECK_FAILED) {
        *r->mutable_diagnostics() = *coord_->blobs()->Put("a.js:1: error");
      }
    }
    r->mutable_record()->mutable_usage()->set_input_tokens(100);
    r->mutable_record()->mutable_usage()->set_cache_read_tokens(300);
    r->mutable_record()->mutable_usage()->set_output_tokens(50);
    r->mutable_record()->set_cost_usd(0.001);
    r->mutable_record()->set_uncached_cost_usd(0.002);
    coord_->OnWorkerMessage(session, m);
    Turn();
  }

  // Finishes the SELECTs (each job's checkout) among the sink's next
  // assignments and returns the first others it is given.
  std::vector<Assignment> PastCheckouts(FakeSink& sink, const std::string& session) {
    for (;;) {
      std::vector<Assignment> rest;
      bool checkout = false;
      for (auto& a : sink.TakeAssignments()) {
        if (a.task().kind() == kiln::v1::TASK_KIND_SELECT) {
          Finish(session, a);
          checkout = true;
        } else {
          rest.push_back(std::move(a));
        }
      }
      if (!rest.empty() || !checkout) return rest;
    }
  }

  // Runs every assignment the sink gets until nothing is left.
  int Drain(FakeSink& sink, const std::string& session) {
    int n = 0;
    for (auto as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
      for (const auto& a : as) {
        Finish(session, a);
        ++n;
      }
    }
    return n;
  }

  kiln::v1::Batch Batch(const std::string& id) {
    auto b = coord_->GetBatch(id, kiln::v1::BATCH_VIEW_FULL);
    EXPECT_TRUE(b.ok()) << b.status();
    return b.ok() ? *b : kiln::v1::Batch();
  }

  std::vector<kiln::v1::Event> Events(const std::string& id, int64_t after = 0) {
    std::vector<kiln::v1::Event> out;
    EXPECT_TRUE(Coordinator::ReadEvents(*store_, id, after, 100000, &out).ok());
    return out;
  }

  FakeClock clock_;
  ModelCatalog models_;
  Tracer* tracer_ = nullptr;  // set, then Restart(), to trace
  // Set, then Restart(), to open the store or the core differently.
  StoreOptions store_options_;
  CoordinatorOptions options_;
  std::string dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Coordinator> coord_;
};

}  // namespace kiln

#endif  // KILN_COORDINATOR_COORDINATOR_FIXTURE_H_
