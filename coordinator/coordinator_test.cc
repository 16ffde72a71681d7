#include "coordinator/coordinator.h"

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/digest.h"
#include "common/fake_clock.h"
#include "common/fake_span_sink.h"
#include "coordinator/coordinator_fixture.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "spec/spec_parser.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

TEST_F(CoordinatorTest, RunsABatchToTheEndInDependencyOrder) {
  const std::string id = Submit(kThreeFiles);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_QUEUED);
  FakeSink sink;
  const std::string s = Register(&sink, "w1", 4);
  ASSERT_TRUE(sink.messages.front().has_registered());
  EXPECT_EQ(sink.messages.front().registered().epoch(), coord_->epoch());

  // First the checkout, which pins the commit every later task checks out.
  auto as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].task().kind(), kiln::v1::TASK_KIND_SELECT);
  EXPECT_EQ(as[0].job().repo().commit(), "");
  Finish(s, as[0]);
  std::vector<std::string> order;
  for (as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
    ASSERT_EQ(as.size(), 1u);  // a chain: one ready at a time
    EXPECT_EQ(as[0].job().repo().commit(), kPinnedCommit);
    order.push_back(as[0].task().path());
    if (as[0].task().path() == "b.js") {
      ASSERT_EQ(as[0].dep_artifacts_size(), 1);
      EXPECT_EQ(as[0].dep_artifacts(0).path(), "a.js");
    }
    Finish(s, as[0]);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a.js", "b.js", "c.js"}));
  const kiln::v1::Batch b = Batch(id);
  EXPECT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(b.tasks().succeeded(), 4);  // the checkout and 3 files
  EXPECT_EQ(b.jobs(0).state(), kiln::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(b.usage().output_tokens(), 150);
  for (const auto& ack : sink.Acks()) EXPECT_TRUE(ack.accepted());

  // Events are numbered 1..n without gaps and end with the batch's end.
  const auto events = Events(id);
  ASSERT_FALSE(events.empty());
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i].sequence(), int64_t(i + 1));
  EXPECT_TRUE(Coordinator::IsFinal(events.back()));
  EXPECT_EQ(b.last_event_sequence(), int64_t(events.size()));

  kiln::v1::FetchArtifactsRequest fetch;
  fetch.set_batch_id(id);
  auto arts = coord_->Artifacts(fetch);
  ASSERT_TRUE(arts.ok());
  ASSERT_EQ(arts->size(), 3u);
  EXPECT_EQ(*coord_->blobs()->Get((*arts)[1].digest()), "// b.js\n");

  auto report = coord_->GetReport(id);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->usage().cache_read_tokens(), 900);
  EXPECT_DOUBLE_EQ(report->cache_hit_rate(), 0.75);
  EXPECT_NEAR(report->cost_usd(), 0.003, 1e-9);
  EXPECT_NEAR(report->uncached_cost_usd(), 0.006, 1e-9);
  EXPECT_EQ(report->tasks_size(), 4);
}

TEST_F(CoordinatorTest, AStaleResultIsRejectedAfterTheLeaseExpired) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "slow", 1);
  auto first = sink.TakeAssignments();
  ASSERT_EQ(first.size(), 1u);
  // No heartbeat for a whole TTL: the lease is lost and the task retried
  // after its backoff (at most 60 s).
  clock_.Advance(absl::Seconds(31));
  Turn();
  EXPECT_EQ(coord_->stats().leases_expired, 1);
  clock_.Advance(absl::Seconds(61));
  Turn();
  auto again = sink.TakeAssignments();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].task().id(), first[0].task().id());
  EXPECT_GT(again[0].lease().attempt(), first[0].lease().attempt());

  Finish(s, first[0]);  // too late
  ASSERT_EQ(sink.Acks().size(), 1u);
  EXPECT_FALSE(sink.Acks()[0].accepted());
  EXPECT_NE(sink.Acks()[0].reason().find("not a current lease"), std::string::npos);
  Finish(s, again[0]);
  ASSERT_EQ(sink.Acks().size(), 2u);
  EXPECT_TRUE(sink.Acks()[1].accepted());
  Finish(s, again[0]);  // a duplicate is not committed twice
  EXPECT_FALSE(sink.Acks()[2].accepted());
  Drain(sink, s);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(CoordinatorTest, HeartbeatsKeepALeaseAlive) {
  Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 1);
  auto as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(absl::Seconds(20));
    kiln::v1::WorkerMessage hb;
    *hb.mutable_heartbeat()->add_active() = as[0].lease();
    coord_->OnWorkerMessage(s, hb);
    Turn();
  }
  EXPECT_EQ(coord_->stats().leases_expired, 0);
  Finish(s, as[0]);
  EXPECT_TRUE(sink.Acks()[0].accepted());
}

TEST_F(CoordinatorTest, ARestartKeepsReportedWorkAndLosesNothing) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  std::string s = Register(&sink, "w1", 1);
  auto as = PastCheckouts(sink, s);
  Finish(s, as[0]);  // a.js committed
  as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  const Assignment in_flight = as[0];  // b.js running when the crash comes
  const int64_t old_epoch = coord_->epoch();
  CollectingWatch watch;
  ASSERT_TRUE(coord_->Watch(id, &watch).ok());
  const int64_t seen = int64_t(Events(id).size());

  Restart();
  EXPECT_EQ(coord_->epoch(), old_epoch + 1);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_RUNNING);
  FakeSink again;
  s = Register(&again, "w1", 1, {in_flight.lease()});
  EXPECT_TRUE(again.Cancels().empty());
  EXPECT_TRUE(again.TakeAssignments().empty());  // its one slot is busy
  Finish(s, in_flight);                          // the old lease still counts
  ASSERT_EQ(again.Acks().size(), 1u);
  EXPECT_TRUE(again.Acks()[0].accepted());
  Drain(again, s);
  const kiln::v1::Batch b = Batch(id);
  EXPECT_EQ(b.state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(b.tasks().succeeded(), 4);

  // Every file once, each task with exactly one accepted attempt.
  kiln::v1::ListTasksRequest lt;
  lt.set_batch_id(id);
  auto tasks = coord_->ListTasks(lt);
  ASSERT_TRUE(tasks.ok());
  std::set<std::string> paths;
  for (const auto& t : tasks->tasks()) {
    EXPECT_EQ(t.state(), kiln::v1::TASK_STATE_SUCCEEDED) << t.id();
    EXPECT_EQ(t.attempts_size(), 1) << t.id();
    EXPECT_TRUE(paths.insert(t.path()).second) << t.path();
  }
  // Watching resumes after the last event seen, without gaps or repeats.
  auto rest = Events(id, seen);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest.front().sequence(), seen + 1);
  EXPECT_TRUE(Coordinator::IsFinal(rest.back()));
}

TEST_F(CoordinatorTest, ARestartRequeuesWorkNobodyReports) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  Register(&sink, "gone", 1);
  auto as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  Restart();
  FakeSink other;
  const std::string s = Register(&other, "other", 1);
  EXPECT_TRUE(other.TakeAssignments().empty());  // held for its worker first
  clock_.Advance(absl::Seconds(31));
  Turn();
  clock_.Advance(absl::Seconds(61));  // the retry's backoff
  Turn();
  EXPECT_EQ(Drain(other, s), 4);  // the checkout and 3 files
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(CoordinatorTest, AReconnectingWorkerIsToldToDropFinishedWork) {
  Submit(kThreeFiles);
  FakeSink sink;
  std::string s = Register(&sink, "w1", 1);
  auto as = sink.TakeAssignments();
  Finish(s, as[0]);
  FakeSink again;
  Register(&again, "w1", 1, {as[0].lease()});
  ASSERT_EQ(again.Cancels().size(), 1u);
  EXPECT_EQ(again.Cancels()[0].lease().task_id(), as[0].task().id());
  EXPECT_FALSE(sink.closed.ok());  // the older session was fenced
}

TEST_F(CoordinatorTest, AnUnchangedBatchIsServedFromTheResultCache) {
  const std::string first = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 4);
  EXPECT_EQ(Drain(sink, s), 4);
  const int64_t assigned = coord_->stats().assignments;

  const std::string second = Submit(kThreeFiles);
  Turn();
  // The checkout runs again (never cached: the branch may have moved); at
  // the same commit, every file comes from the cache.
  EXPECT_EQ(Drain(sink, s), 1);
  EXPECT_EQ(coord_->stats().assignments, assigned + 1);  // no LLM call at all
  EXPECT_EQ(coord_->stats().cache_hits, 3);
  EXPECT_EQ(Batch(second).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  auto report = coord_->GetReport(second);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->result_cache_hits(), 3);
  EXPECT_DOUBLE_EQ(report->cost_usd(), 0);

  // Editing b's instructions regenerates b and its dependent c, not a.
  std::string edited = kThreeFiles;
  edited.replace(edited.find("write b"), 7, "write B");
  Submit(edited);
  std::vector<std::string> regenerated;
  for (auto as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
    for (const auto& a : as) {
      if (a.task().kind() != kiln::v1::TASK_KIND_SELECT) regenerated.push_back(a.task().path());
      Finish(s, a, TaskResult::OUTCOME_SUCCEEDED, "// B\n");
    }
  }
  EXPECT_EQ(regenerated, (std::vector<std::string>{"b.js", "c.js"}));
}

TEST_F(CoordinatorTest, IdenticalRequestsInFlightShareOneCall) {
  const std::string b1 = Submit(kThreeFiles);
  const std::string b2 = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 8);
  EXPECT_EQ(Drain(sink, s), 5);  // 2 checkouts and 3 files, not 6
  EXPECT_EQ(coord_->stats().dedup_followers, 3);
  EXPECT_EQ(Batch(b1).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
  EXPECT_EQ(Batch(b2).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
}

TEST_F(CoordinatorTest, AFailedCheckIsRepairedWithItsDiagnostics) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 1);
  auto as = PastCheckouts(sink, s);
  Finish(s, as[0], TaskResult::OUTCOME_CHECK_FAILED, "broken a");
  as = sink.TakeAssignments();
  ASSERT_EQ(as.size(), 1u);
  EXPECT_EQ(as[0].task().kind(), kiln::v1::TASK_KIND_REPAIR);
  EXPECT_EQ(as[0].task().path(), "a.js");
  EXPECT_EQ(*coord_->blobs()->Get(as[0].diagnostics()), "a.js:1: error");
  ASSERT_EQ(as[0].dep_artifacts_size(), 1);
  EXPECT_EQ(*coord_->blobs()->Get(as[0].dep_artifacts(0).digest()), "broken a");
  Finish(s, as[0]);
  Drain(sink, s);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);

  // Replayed after a restart, the repair keeps its task id.
  Restart();
  kiln::v1::ListTasksRequest lt;
  lt.set_batch_id(id);
  auto tasks = coord_->ListTasks(lt);
  ASSERT_TRUE(tasks.ok());
  EXPECT_EQ(tasks->tasks_size(), 5);  // the checkout, 3 files, 1 repair
}

TEST_F(CoordinatorTest, TaskEventsCarryTheEndedAttemptsUsageCostAndRepair) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 1);
  auto as = PastCheckouts(sink, s);
  Finish(s, as[0], TaskResult::OUTCOME_CHECK_FAILED, "broken a");
  const std::string repair_id = sink.TakeAssignments()[0].task().id();
  const std::string failed_id = as[0].task().id();
  int ended = 0;
  double cost = 0;
  int64_t input = 0;
  for (const kiln::v1::Event& e : Events(id)) {
    if (!e.has_task()) continue;
    const auto& t = e.task();
    if (t.state() == kiln::v1::TASK_STATE_LEASED) {
      EXPECT_FALSE(t.has_usage()) << t.task_id();
      continue;
    }
    if (t.task_id() == failed_id && t.state() == kiln::v1::TASK_STATE_FAILED) {
      ++ended;
      EXPECT_EQ(t.repaired_by(), repair_id);
      EXPECT_EQ(t.worker_id(), "w");
      cost += t.cost_usd();
      input += t.usage().input_tokens();
      EXPECT_EQ(t.usage().cache_read_tokens(), 300);
    }
  }
  EXPECT_EQ(ended, 1);
  EXPECT_DOUBLE_EQ(cost, 0.001);
  EXPECT_EQ(input, 100);
  // Summing every task event gives the batch's usage, attempt by attempt.
  Drain(sink, s);
  double total_cost = 0;
  int64_t total_output = 0;
  for (const kiln::v1::Event& e : Events(id)) {
    if (!e.has_task()) continue;
    EXPECT_TRUE(e.task().repaired_by().empty() || e.task().task_id() == failed_id);
    total_cost += e.task().cost_usd();
    total_output += e.task().usage().output_tokens();
  }
  const kiln::v1::Batch b = Batch(id);
  EXPECT_NEAR(total_cost, b.cost_usd(), 1e-12);
  EXPECT_EQ(total_output, b.usage().output_tokens());
}

TEST_F(CoordinatorTest, CancellingStopsLeasedWork) {
  const std::string id = Submit(kThreeFiles);
  FakeSink sink;
  const std::string s = Register(&sink, "w", 1);
  auto as = sink.TakeAssignments();
  kiln::v1::CancelBatchRequest req;
  req.set_batch_id(id);
  bool answered = false;
  coord_->CancelBatch(req, [&](absl::StatusOr<kiln::v1::Batch> b) {
    answered = b.ok();
  });
  Turn();
  EXPECT_TRUE(answered);
  ASSERT_EQ(sink.Cancels().size(), 1u);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_CANCELLED);
  Finish(s, as[0]);
  EXPECT_FALSE(sink.Acks().back().accepted());
  Restart();
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_CANCELLED);
}

TEST_F(CoordinatorTest, ARepeatedRequestIdReturnsTheSameBatch) {
  const std::string a = Submit(kThreeFiles, "req-1");
  const std::string b = Submit(kThreeFiles, "req-1");
  EXPECT_EQ(a, b);
  Restart();
  EXPECT_EQ(Submit(kThreeFiles, "req-1"), a);
  kiln::v1::ListBatchesRequest list;
  EXPECT_EQ(coord_->ListBatches(list)->batches_size(), 1);
}

TEST_F(CoordinatorTest, AnInvalidSpecNamesTheField) {
  kiln::v1::SubmitBatchRequest req;
  req.mutable_spec()->add_jobs()->set_name("x");
  absl::Status got;
  coord_->SubmitBatch(req, [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
    got = r.status();
  });
  EXPECT_EQ(got.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.message().find("jobs[0]"), std::string::npos) << got;
}

TEST_F(CoordinatorTest, AnInvalidSpecNamesTheLineTheClientSent) {
  // What a gRPC client (the CLI) sends: the spec and where each field came
  // from.
  absl::StatusOr<ParsedSpec> parsed = ParseSpecYaml(
      "jobs:\n  - name: x\n    repo: ./r\n    model: gpt-4o\n"
      "    files: [{path: ../up.js, instructions: x}]\n",
      "batch.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  kiln::v1::SubmitBatchRequest req;
  *req.mutable_spec() = parsed->batch;
  for (const auto& [field, loc] : parsed->locations) (*req.mutable_locations())[field] = loc;
  absl::Status got;
  coord_->SubmitBatch(req, [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
    got = r.status();
  });
  EXPECT_EQ(got.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.message().find("batch.yaml:5:"), std::string::npos) << got;
  EXPECT_NE(got.message().find("files[0].path"), std::string::npos) << got;
  // A field without a location of its own names the client's file too.
  req.mutable_spec()->clear_jobs();
  req.mutable_locations()->erase("jobs");
  coord_->SubmitBatch(req, [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
    got = r.status();
  });
  EXPECT_TRUE(absl::StartsWith(got.message(), "batch.yaml")) << got;
}

TEST_F(CoordinatorTest, SemaphoreLeasesSurviveARestart) {
  kiln::v1::AcquireRequest req;
  req.set_semaphore("compile");
  req.set_weight(2);
  kiln::v1::SemaphoreLease lease;
  coord_->Acquire(req, [&](absl::StatusOr<kiln::v1::AcquireResponse> r) {
    ASSERT_TRUE(r.ok());
    lease = r->lease();
  });
  EXPECT_TRUE(lease.lease_id().empty());  // not answered before the commit
  Turn();
  ASSERT_FALSE(lease.lease_id().empty());
  Restart();
  // Still held: a new waiter must wait, and the old holder may renew.
  bool granted = false;
  coord_->Acquire(req, [&](absl::StatusOr<kiln::v1::AcquireResponse> r) {
    granted = r.ok();
  });
  Turn();
  EXPECT_FALSE(granted);
  kiln::v1::RenewRequest renew;
  renew.set_semaphore("compile");
  renew.set_lease_id(lease.lease_id());
  renew.set_fencing_token(lease.fencing_token());
  absl::Status renewed;
  coord_->Renew(renew, [&](absl::StatusOr<kiln::v1::RenewResponse> r) {
    renewed = r.status();
  });
  Turn();
  EXPECT_TRUE(renewed.ok()) << renewed;
  kiln::v1::ReleaseRequest rel;
  rel.set_semaphore("compile");
  rel.set_lease_id(lease.lease_id());
  rel.set_fencing_token(lease.fencing_token());
  coord_->Release(rel, [](absl::StatusOr<kiln::v1::ReleaseResponse>) {});
  Turn();
  EXPECT_TRUE(granted);
}

TEST_F(CoordinatorTest, TasksGoOnlyToWorkersThatServeTheirModel) {
  Submit(kThreeFiles);
  FakeSink wrong;
  kiln::v1::Register reg;
  reg.set_worker_id("claude-only");
  reg.mutable_capabilities()->set_llm_slots(4);
  auto* p = reg.mutable_capabilities()->add_providers();
  p->set_provider("anthropic");
  p->add_models("claude-3.5-sonnet");
  auto wrong_session = coord_->OpenSession(reg, &wrong);
  ASSERT_TRUE(wrong_session.ok());
  Turn();
  // The checkout needs no model; no file goes to this worker.
  EXPECT_TRUE(PastCheckouts(wrong, *wrong_session).empty());
  FakeSink right;
  const std::string s = Register(&right, "any", 4);
  EXPECT_EQ(Drain(right, s), 3);
}

// ---------------------------------------------------------------- tracing

TEST_F(CoordinatorTest, TracesBatchJobAndTasksUnderTheSubmittersSpan) {
  FakeSpanSink spans;
  Tracer tracer("kiln-coordinator", &spans, 1.0);
  tracer_ = &tracer;
  Restart();
  const TraceContext cli = *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  const std::string id = Submit(kThreeFiles, "", cli);
  EXPECT_EQ(Batch(id).trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");

  FakeSink sink;
  const std::string s = Register(&sink, "w1", 1);
  // a.js: the first lease expires (a failed attempt), the second succeeds.
  auto first = PastCheckouts(sink, s);
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(absl::Seconds(31));
  Turn();
  clock_.Advance(absl::Seconds(61));
  Turn();
  std::map<std::string, std::string> traceparents;  // path -> traceparent
  for (auto as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
    for (const auto& a : as) {
      traceparents[a.task().path()] = a.traceparent();
      Finish(s, a);
    }
  }
  ASSERT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);

  ASSERT_EQ(spans.Named("batch").size(), 1u);
  ASSERT_EQ(spans.Named("job").size(), 1u);
  ASSERT_EQ(spans.Named("task").size(), 4u);  // the checkout and 3 files
  const otlp::Span batch = spans.Named("batch")[0];
  const otlp::Span job = spans.Named("job")[0];
  for (const otlp::Span& span : spans.spans()) {
    EXPECT_EQ(absl::BytesToHexString(span.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
  }
  EXPECT_EQ(absl::BytesToHexString(batch.parent_span_id()), "00f067aa0ba902b7");
  EXPECT_EQ(job.parent_span_id(), batch.span_id());
  EXPECT_EQ(AttrText(job, "kiln.job.name"), "app");
  EXPECT_EQ(AttrText(job, "kiln.repo"), "./app");
  EXPECT_EQ(AttrInt(job, "kiln.files.done"), 3);
  for (const otlp::Span& task : spans.Named("task")) {
    EXPECT_EQ(task.parent_span_id(), job.span_id());
    if (AttrText(task, "kiln.task.kind") == "SELECT") {
      EXPECT_EQ(AttrText(task, "kiln.task.state"), "SUCCEEDED");
      continue;  // the checkout: no model, no tokens
    }
    EXPECT_EQ(AttrText(task, "kiln.task.kind"), "GENERATE");
    EXPECT_EQ(AttrText(task, "kiln.task.state"), "SUCCEEDED");
    EXPECT_EQ(AttrText(task, "gen_ai.request.model"), "gpt-4o-mini");
    // The worker's attempt span hangs under the traceparent it was given.
    const std::string path = AttrText(task, "kiln.file.path");
    auto tp = ParseTraceparent(traceparents[path]);
    ASSERT_TRUE(tp.ok()) << path << ": " << traceparents[path];
    EXPECT_EQ(Bytes(tp->span_id), task.span_id());
    EXPECT_TRUE(tp->sampled);
    EXPECT_LE(task.start_time_unix_nano(), task.end_time_unix_nano());
    if (path == "a.js") {
      EXPECT_EQ(AttrInt(task, "kiln.attempts"), 2);
      ASSERT_EQ(task.events_size(), 1);
      EXPECT_EQ(task.events(0).name(), "attempt.failed");
    } else {
      EXPECT_EQ(task.events_size(), 0);
    }
    EXPECT_EQ(AttrInt(task, "gen_ai.usage.output_tokens"), 50);
  }
  EXPECT_EQ(AttrText(batch, "kiln.batch.state"), "SUCCEEDED");
  EXPECT_EQ(AttrInt(batch, "gen_ai.usage.output_tokens"), 150);
  EXPECT_EQ(AttrInt(batch, "gen_ai.usage.input_tokens"), 1200);  // 3 x (100 + 300)
  EXPECT_EQ(AttrInt(batch, "gen_ai.usage.cache_read.input_tokens"), 900);
  EXPECT_EQ(batch.status().code(), 0);  // unset: no error
}

TEST_F(CoordinatorTest, AnUnsampledSubmitterMeansNoTrace) {
  FakeSpanSink spans;
  Tracer tracer("kiln-coordinator", &spans, 1.0);
  tracer_ = &tracer;
  Restart();
  const std::string id = Submit(kThreeFiles, "", *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  FakeSink sink;
  const std::string s = Register(&sink, "w1", 4);
  auto as = sink.TakeAssignments();
  ASSERT_FALSE(as.empty());
  EXPECT_TRUE(as[0].traceparent().empty());
  Drain(sink, s);
  EXPECT_TRUE(Batch(id).trace_id().empty());
  EXPECT_TRUE(spans.spans().empty());
}

TEST_F(CoordinatorTest, WithoutASubmitterSpanTheBatchSpanIsTheRoot) {
  FakeSpanSink spans;
  Tracer tracer("kiln-coordinator", &spans, 1.0);
  tracer_ = &tracer;
  Restart();
  const std::string id = Submit(kThreeFiles);
  EXPECT_EQ(Batch(id).trace_id().size(), 32u);
  FakeSink sink;
  Drain(sink, Register(&sink, "w1", 4));
  ASSERT_EQ(spans.Named("batch").size(), 1u);
  EXPECT_TRUE(spans.Named("batch")[0].parent_span_id().empty());
  EXPECT_EQ(spans.spans().size(), 6u);  // batch, job, the checkout, 3 files
}

TEST_F(CoordinatorTest, NoTracerNoTraceUnlessTheSubmitterHasOne) {
  const std::string id = Submit(kThreeFiles);
  EXPECT_TRUE(Batch(id).trace_id().empty());
  // A traced submitter's trace still reaches the workers.
  // (Other instructions: the same file would follow the first batch's.)
  const std::string other = absl::StrReplaceAll(kThreeFiles, {{"write a", "write A"}});
  const std::string traced = Submit(other, "", *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_EQ(Batch(traced).trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
  FakeSink sink;
  Register(&sink, "w1", 8);
  int with = 0;
  for (const auto& a : sink.TakeAssignments()) {
    if (a.task().batch_id() == traced) {
      EXPECT_FALSE(a.traceparent().empty());
      ++with;
    } else {
      EXPECT_TRUE(a.traceparent().empty());
    }
  }
  EXPECT_EQ(with, 1);
}

TEST_F(CoordinatorTest, ARestartedCoordinatorClosesItsPredecessorsSpans) {
  FakeSpanSink spans;
  Tracer tracer("kiln-coordinator", &spans, 1.0);
  tracer_ = &tracer;
  Restart();
  const std::string id = Submit(kThreeFiles, "", *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  FakeSink sink;
  std::string s = Register(&sink, "w1", 1);
  Finish(s, PastCheckouts(sink, s)[0]);  // a.js, before the crash
  const Assignment in_flight = sink.TakeAssignments()[0];  // b.js
  ASSERT_EQ(spans.Named("task").size(), 2u);

  Restart();  // the log is replayed: a.js must not get a second span
  FakeSink again;
  s = Register(&again, "w1", 1, {in_flight.lease()});
  Finish(s, in_flight);
  Drain(again, s);
  ASSERT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);

  ASSERT_EQ(spans.Named("task").size(), 4u);
  ASSERT_EQ(spans.Named("job").size(), 1u);
  ASSERT_EQ(spans.Named("batch").size(), 1u);
  const otlp::Span job = spans.Named("job")[0];
  EXPECT_EQ(job.parent_span_id(), spans.Named("batch")[0].span_id());
  EXPECT_EQ(absl::BytesToHexString(spans.Named("batch")[0].parent_span_id()),
            "00f067aa0ba902b7");
  std::set<std::string> paths;
  for (const otlp::Span& task : spans.Named("task")) {
    EXPECT_EQ(task.parent_span_id(), job.span_id());  // the same id both times
    paths.insert(AttrText(task, "kiln.file.path"));
    if (AttrText(task, "kiln.file.path") == "b.js") {
      // The worker was told this span's id before the crash.
      EXPECT_EQ(Bytes(ParseTraceparent(in_flight.traceparent())->span_id), task.span_id());
    }
  }
  EXPECT_EQ(paths, (std::set<std::string>{"", "a.js", "b.js", "c.js"}));  // "": the checkout
}

TEST_F(CoordinatorTest, AWorkerThatListsItsModelsStillTakesTheBuild) {
  // The BUILD task has no model; a worker serving named models (as every
  // `sim` worker does) must not be passed over for it.
  const std::string id = Submit(absl::StrCat(kThreeFiles, "    build: {command: make}\n"));
  FakeSink sink;
  kiln::v1::Register reg;
  reg.set_worker_id("w1");
  reg.mutable_capabilities()->set_llm_slots(4);
  kiln::v1::ProviderModels* p = reg.mutable_capabilities()->add_providers();
  p->set_provider("sim");
  p->add_models("gpt-4o-mini");
  auto s = coord_->OpenSession(reg, &sink);
  ASSERT_TRUE(s.ok()) << s.status();
  Turn();
  bool built = false;
  for (auto as = sink.TakeAssignments(); !as.empty(); as = sink.TakeAssignments()) {
    for (const auto& a : as) {
      built = built || a.task().kind() == kiln::v1::TASK_KIND_BUILD;
      Finish(*s, a);
    }
  }
  EXPECT_TRUE(built);
  EXPECT_EQ(Batch(id).state(), kiln::v1::BATCH_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace kiln
