#include "coordinator/scheduler.h"

#include <map>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "gtest/gtest.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

using kiln::v1::TaskState;

ModelCatalog Models() {
  ModelCatalog c = ModelCatalog::Builtin();
  ModelProfile m;
  m.name = "m";
  m.cache_min_tokens = 1024;
  m.cache_ttl = absl::Minutes(5);
  c.Put(m);
  ModelProfile backup = m;
  backup.name = "backup";
  c.Put(backup);
  ModelProfile limited = m;
  limited.name = "limited";
  limited.requests_per_minute = 60;
  c.Put(limited);
  return c;
}

// A system prompt long enough (>= 1024 tokens) to be cached.
const std::string& BigSystem() {
  static const std::string* s = new std::string(6000, 'x');
  return *s;
}

kiln::v1::BatchSpec ParseUnpinned(const std::string& yaml) {
  static const ModelCatalog* models = new ModelCatalog(Models());
  auto p = ParseAndValidate(yaml, "t.yaml", *models);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? p->batch : kiln::v1::BatchSpec();
}

constexpr char kCommit[] = "0123456789abcdef0123456789abcdef01234567";

// Most tests' jobs come with their commit pinned (RepoSpec.commit, as an API
// client may send them), so they start without the SELECT checkout and the
// tests see their files at once; the checkout's own tests use ParseUnpinned.
kiln::v1::BatchSpec Parse(const std::string& yaml) {
  kiln::v1::BatchSpec b = ParseUnpinned(yaml);
  for (auto& j : *b.mutable_jobs()) j.mutable_repo()->set_commit(kCommit);
  if (b.has_matrix()) {
    for (auto& r : *b.mutable_matrix()->mutable_repos()) r.mutable_repo()->set_commit(kCommit);
  }
  return b;
}

// A job of `n` independent files sharing one big prefix.
std::string FlatJob(const std::string& name, int n, const std::string& model = "m",
                    const std::string& extra = "") {
  std::string y = absl::StrCat("  - name: ", name, "\n    repo: ./", name,
                               "\n    model: ", model,
                               "\n    context: {system: ", BigSystem(), "}\n",
                               extra, "    files:\n");
  for (int i = 0; i < n; ++i) {
    absl::StrAppend(&y, "      - {path: f", i, ".js, instructions: x, expected_tokens: ",
                    100 + i, "}\n");
  }
  return y;
}

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : models_(Models()) {}

  Scheduler& Make(SchedulerOptions o = {}) {
    sched_ = std::make_unique<Scheduler>(&clock_, &models_, o);
    return *sched_;
  }

  static AttemptReport Ok() { return AttemptReport(); }
  static AttemptReport With(AttemptOutcome o, std::string error = "") {
    AttemptReport r;
    r.outcome = o;
    r.error = std::move(error);
    return r;
  }

  TaskState StateOf(const std::string& id) { return *sched_->StateOf(id); }

  FakeClock clock_;
  ModelCatalog models_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerTest, ColdGroupSendsOneSeedAndHoldsTheRestUntilFirstToken) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 5))).ok());
  auto first = s.Dispatch(10);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(first[0].seed);
  // The seed is the task with the longest remaining path (most tokens).
  EXPECT_EQ(first[0].path, "f4.js");
  EXPECT_EQ(s.ready_count(), 0);
  for (const auto& id : s.TaskIds("b/j")) {
    if (id != first[0].task_id) {
      EXPECT_EQ(StateOf(id), kiln::v1::TASK_STATE_HELD);
    }
  }
  EXPECT_TRUE(s.Dispatch(10).empty());
  // First token: the group is warm, the held tasks go out at once.
  ASSERT_TRUE(s.OnFirstToken(first[0].task_id, 1).ok());
  auto rest = s.Dispatch(10);
  ASSERT_EQ(rest.size(), 4u);
  for (const auto& d : rest) EXPECT_FALSE(d.seed);
}

TEST_F(SchedulerTest, ReleaseOnCompletionWaitsForTheSeedToFinish) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {release: completion}\njobs:\n" +
                                    FlatJob("j", 3)))
                  .ok());
  auto seed = s.Dispatch(10);
  ASSERT_EQ(seed.size(), 1u);
  ASSERT_TRUE(s.OnFirstToken(seed[0].task_id, 1).ok());
  EXPECT_TRUE(s.Dispatch(10).empty());
  ASSERT_TRUE(s.OnResult(seed[0].task_id, 1, Ok()).ok());
  EXPECT_EQ(s.Dispatch(10).size(), 2u);
}

TEST_F(SchedulerTest, NeverSeedOrSmallPrefixesOrGroupsOfOneAreNotHeld) {
  Scheduler& s = Make();
  ASSERT_TRUE(
      s.AddBatch("never", Parse("policy: {seed: never}\njobs:\n" + FlatJob("j", 4)))
          .ok());
  EXPECT_EQ(s.Dispatch(10).size(), 4u);
  // A prefix under the cache minimum.
  ASSERT_TRUE(s.AddBatch("small", Parse(R"(jobs:
  - {name: s, repo: ./s, model: gpt-4o, context: {system: short},
     files: [{path: a, instructions: x}, {path: b, instructions: x}]}
)"))
                  .ok());
  EXPECT_EQ(s.Dispatch(10).size(), 2u);
  // A group of one (another model: another cache).
  ASSERT_TRUE(
      s.AddBatch("one", Parse("jobs:\n" + FlatJob("o", 1, "backup"))).ok());
  auto d = s.Dispatch(10);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_FALSE(d[0].seed);
}

TEST_F(SchedulerTest, FailedSeedHandsTheRoleToTheNextTask) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 3))).ok());
  auto seed = s.Dispatch(10);
  ASSERT_EQ(seed.size(), 1u);
  ASSERT_TRUE(
      s.OnResult(seed[0].task_id, 1, With(AttemptOutcome::kRetryable, "503")).ok());
  // No deadlock: the held tasks are released and one becomes the new seed
  // while the failed one backs off.
  auto next = s.Dispatch(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(next[0].seed);
  EXPECT_NE(next[0].task_id, seed[0].task_id);
  EXPECT_EQ(StateOf(seed[0].task_id), kiln::v1::TASK_STATE_READY);
  // The same holds when the seed's lease is lost.
  ASSERT_TRUE(s.OnLeaseLost(next[0].task_id, 1).ok());
  auto third = s.Dispatch(10);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_TRUE(third[0].seed);
}

TEST_F(SchedulerTest, TtlLapseMakesTheGroupColdAgain) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(jobs:
  - name: j
    repo: ./j
    model: m
    context: {system: )" + BigSystem() + R"(}
    files:
      - {path: a, instructions: x}
      - {path: b, instructions: x, deps: [a]}
      - {path: c, instructions: x, deps: [a]}
)"))
                  .ok());
  auto a = s.Dispatch(10);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].seed);  // group of three: seeded although alone ready
  ASSERT_TRUE(s.OnFirstToken(a[0].task_id, 1).ok());
  // Longer than the 5 minute TTL passes before the dependents are ready.
  clock_.Advance(absl::Minutes(6));
  ASSERT_TRUE(s.OnResult(a[0].task_id, 1, Ok()).ok());
  auto bc = s.Dispatch(10);
  ASSERT_EQ(bc.size(), 1u);
  EXPECT_TRUE(bc[0].seed);  // re-seeded
  ASSERT_TRUE(s.OnFirstToken(bc[0].task_id, 1).ok());
  EXPECT_EQ(s.Dispatch(10).size(), 1u);
}

TEST_F(SchedulerTest, UseRefreshesTheTtl) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(jobs:
  - name: j
    repo: ./j
    model: m
    context: {system: )" + BigSystem() + R"(}
    files:
      - {path: a, instructions: x}
      - {path: b, instructions: x}
      - {path: c, instructions: x, deps: [a, b]}
)"))
                  .ok());
  auto seed = s.Dispatch(10);
  ASSERT_TRUE(s.OnFirstToken(seed[0].task_id, 1).ok());
  auto other = s.Dispatch(10);
  ASSERT_EQ(other.size(), 1u);
  clock_.Advance(absl::Minutes(4));
  ASSERT_TRUE(s.OnResult(seed[0].task_id, 1, Ok()).ok());
  ASSERT_TRUE(s.OnFirstToken(other[0].task_id, 1).ok());  // refresh at 4 min
  clock_.Advance(absl::Minutes(4));                        // 8 min since seed
  ASSERT_TRUE(s.OnResult(other[0].task_id, 1, Ok()).ok());
  auto c = s.Dispatch(10);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].seed);  // still warm
}

TEST_F(SchedulerTest, FairnessStartsATaskOfEveryJobBeforeAnyGetsASecond) {
  Scheduler& s = Make();
  std::string y = "policy: {seed: never}\njobs:\n";
  for (int j = 0; j < 200; ++j) absl::StrAppend(&y, FlatJob(absl::StrCat("j", j), 3));
  ASSERT_TRUE(s.AddBatch("b", Parse(y)).ok());
  std::map<std::string, int> started;
  int max_seen_before_all = 0;
  // Ten slots, every task finishing as soon as it is dispatched.
  for (int round = 0; round < 20; ++round) {
    for (const auto& d : s.Dispatch(10)) {
      const int n = ++started[d.job_id];
      if (started.size() < 200) {
        max_seen_before_all = std::max(max_seen_before_all, n);
      }
      ASSERT_TRUE(s.OnResult(d.task_id, d.attempt, Ok()).ok());
    }
  }
  EXPECT_EQ(started.size(), 200u);
  EXPECT_EQ(max_seen_before_all, 1);
}

TEST_F(SchedulerTest, PriorityWithinAJobFollowsTheCriticalPath) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(policy: {seed: never}
jobs:
  - name: j
    repo: ./j
    model: m
    files:
      - {path: leaf, instructions: x, expected_tokens: 3000}
      - {path: root, instructions: x, expected_tokens: 200}
      - {path: mid, instructions: x, expected_tokens: 2000, deps: [root]}
      - {path: top, instructions: x, expected_tokens: 2000, deps: [mid]}
)"))
                  .ok());
  auto d = s.Dispatch(1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, "root");  // 200 + 2000 + 2000 tokens ahead of it
}

TEST_F(SchedulerTest, RatePacingHoldsDispatchToTheModelLimit) {
  SchedulerOptions o;
  o.pacing_headroom = 1;  // exactly the limit
  Scheduler& s = Make(o);
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never}\njobs:\n" +
                                    FlatJob("j", 200, "limited")))
                  .ok());
  // 60 requests per minute: a full bucket, then one per second.
  int dispatched = static_cast<int>(s.Dispatch(1000).size());
  EXPECT_EQ(dispatched, 60);
  ASSERT_TRUE(s.NextWakeup().has_value());
  EXPECT_EQ(*s.NextWakeup() - clock_.MonotonicNow(), absl::Seconds(1));
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Seconds(1));
    dispatched += static_cast<int>(s.Dispatch(1000).size());
  }
  EXPECT_EQ(dispatched, 90);
}

TEST_F(SchedulerTest, ATaskTheWorkerCannotRunSpendsNothing) {
  SchedulerOptions o;
  o.pacing_headroom = 1;
  Scheduler& s = Make(o);
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never}\njobs:\n" +
                                    FlatJob("j", 200, "limited")))
                  .ok());
  DispatchFilter other_model;
  other_model.runs_model = [](const std::string& model) { return model != "limited"; };
  // Asked many times by a worker of another model: no lease, no attempt,
  // no start, no rate-limit token.
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(s.Dispatch(1000, other_model).empty());
  EXPECT_EQ(s.ready_count(), 200);
  EXPECT_EQ(s.Job("b/j")->tasks_started, 0);
  for (const auto& id : s.TaskIds("b/j")) EXPECT_EQ(s.Task(id)->attempt, 0);
  // The whole bucket is still there for a worker that runs the model.
  const auto out = s.Dispatch(1000);
  EXPECT_EQ(out.size(), 60u);
  EXPECT_EQ(out[0].attempt, 1);
}

TEST_F(SchedulerTest, TasksAnsweredWithoutAnLlmAreNotPacedHeldOrCounted) {
  SchedulerOptions o;
  o.pacing_headroom = 1;
  Scheduler& s = Make(o);
  // A cold cache group of 200 on a model limited to 60 requests a minute.
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 200, "limited"))).ok());
  DispatchFilter cached;
  cached.answered_without_llm = [](const std::string&) { return true; };
  // Every one goes out at once, none seeds, none is held, and none takes
  // one of the worker's 4 slots.
  const auto out = s.Dispatch(4, cached);
  ASSERT_EQ(out.size(), 200u);
  for (const auto& d : out) {
    EXPECT_TRUE(d.without_llm);
    EXPECT_FALSE(d.seed);
  }
  // No rate-limit token was spent on them: the next batch of the same model
  // gets the whole bucket (its seed first, then its group once warm).
  ASSERT_TRUE(s.AddBatch("c", Parse("policy: {seed: never}\njobs:\n" +
                                    FlatJob("k", 100, "limited")))
                  .ok());
  EXPECT_EQ(s.Dispatch(1000).size(), 60u);
}

TEST_F(SchedulerTest, TheBatchsRequestsPerMinuteIsKept) {
  SchedulerOptions o;
  o.pacing_headroom = 1;
  Scheduler& s = Make(o);
  // Model "m" has no limit of its own; the batch says 120 a minute.
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never, requests_per_minute: 120}\njobs:\n" +
                                    FlatJob("j", 300)))
                  .ok());
  int dispatched = static_cast<int>(s.Dispatch(1000).size());
  EXPECT_EQ(dispatched, 120);  // a full bucket
  ASSERT_TRUE(s.NextWakeup().has_value());
  EXPECT_EQ(*s.NextWakeup() - clock_.MonotonicNow(), absl::Milliseconds(500));
  for (int i = 0; i < 30; ++i) {
    clock_.Advance(absl::Seconds(1));
    dispatched += static_cast<int>(s.Dispatch(1000).size());
  }
  EXPECT_EQ(dispatched, 180);  // then two a second
}

TEST_F(SchedulerTest, PacingKeepsHeadroomAndFollowsTheTimeScale) {
  SchedulerOptions o;
  o.time_scale = 10;  // a provider simulated 10x faster
  Scheduler& s = Make(o);  // default headroom: 97%
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never}\njobs:\n" +
                                    FlatJob("j", 200, "limited")))
                  .ok());
  // 60 a minute of simulated time: a full bucket (60), then 10 x 0.97
  // a second of this clock.
  int dispatched = static_cast<int>(s.Dispatch(1000).size());
  EXPECT_EQ(dispatched, 60);
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(absl::Seconds(1));
    dispatched += static_cast<int>(s.Dispatch(1000).size());
  }
  EXPECT_EQ(dispatched, 60 + 97);
}

TEST_F(SchedulerTest, AnUnpacedBatchIgnoresEveryLimit) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never, unpaced: true, "
                                    "requests_per_minute: 10}\njobs:\n" +
                                    FlatJob("j", 200, "limited")))
                  .ok());
  EXPECT_EQ(s.Dispatch(1000).size(), 200u);
}

TEST_F(SchedulerTest, RetriesBackOffExponentiallyThenGiveUp) {
  SchedulerOptions o;
  o.max_attempts = 3;
  o.backoff_base = absl::Seconds(10);
  o.backoff_max = absl::Seconds(100);
  Scheduler& s = Make(o);
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 1))).ok());
  auto d = s.Dispatch(1);
  ASSERT_TRUE(s.OnResult(d[0].task_id, 1, With(AttemptOutcome::kRetryable, "503")).ok());
  EXPECT_TRUE(s.Dispatch(1).empty());
  // First backoff: 10 s x jitter in [0.5, 1.5).
  const absl::Duration wait = *s.NextWakeup() - clock_.MonotonicNow();
  EXPECT_GE(wait, absl::Seconds(5));
  EXPECT_LT(wait, absl::Seconds(15));
  clock_.Advance(wait);
  d = s.Dispatch(1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].attempt, 2);
  ASSERT_TRUE(s.OnResult(d[0].task_id, 2, With(AttemptOutcome::kRetryable, "503")).ok());
  const absl::Duration wait2 = *s.NextWakeup() - clock_.MonotonicNow();
  EXPECT_GE(wait2, absl::Seconds(10));
  EXPECT_LT(wait2, absl::Seconds(30));
  clock_.Advance(wait2);
  d = s.Dispatch(1);
  ASSERT_TRUE(s.OnResult(d[0].task_id, 3, With(AttemptOutcome::kRetryable, "503")).ok());
  EXPECT_EQ(StateOf(d[0].task_id), kiln::v1::TASK_STATE_FAILED);
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kFailed);
  EXPECT_TRUE(s.Batch("b")->done);
}

TEST_F(SchedulerTest, StaleAttemptsAreFenced) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 1))).ok());
  auto d = s.Dispatch(1);
  ASSERT_TRUE(s.OnLeaseLost(d[0].task_id, 1).ok());
  clock_.Advance(absl::Minutes(2));
  auto again = s.Dispatch(1);
  ASSERT_EQ(again[0].attempt, 2);
  const absl::Status stale = s.OnResult(d[0].task_id, 1, Ok());
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(stale.message(), "stale attempt 1 of task b/j/0 (current attempt 2, "
                             "TASK_STATE_LEASED)");
  EXPECT_EQ(s.OnResult("b/j/99", 1, Ok()).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(s.OnResult(again[0].task_id, 2, Ok()).ok());
  // A duplicate of a committed result is stale too.
  EXPECT_EQ(s.OnResult(again[0].task_id, 2, Ok()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kSucceeded);
}

TEST_F(SchedulerTest, FallbackAfterSustainedCapacityErrors) {
  SchedulerOptions o;
  o.capacity_errors_before_fallback = 2;
  Scheduler& s = Make(o);
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" +
                                    FlatJob("j", 1, "m", "    fallback: [backup]\n")))
                  .ok());
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto d = s.Dispatch(1);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].model, "m");
    ASSERT_TRUE(
        s.OnResult(d[0].task_id, attempt, With(AttemptOutcome::kCapacity, "429")).ok());
    clock_.Advance(absl::Minutes(2));
  }
  auto d = s.Dispatch(1);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].model, "backup");
  EXPECT_EQ(s.Batch("b")->capacity_errors, 2);
}

TEST_F(SchedulerTest, CancellationMidFlightStopsLeasesAndEverythingElse) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 4))).ok());
  auto seed = s.Dispatch(10);
  ASSERT_EQ(seed.size(), 1u);
  ASSERT_TRUE(s.CancelBatch("b", "user asked").ok());
  auto stop = s.TakeCancelledLeases();
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].task_id, seed[0].task_id);
  for (const auto& id : s.TaskIds("b/j")) {
    EXPECT_EQ(StateOf(id), kiln::v1::TASK_STATE_CANCELLED) << id;
  }
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kCancelled);
  EXPECT_EQ(s.Job("b/j")->reason, "user asked");
  EXPECT_TRUE(s.Batch("b")->done);
  EXPECT_EQ(s.leased_count(), 0);
  // The worker's late result is rejected.
  EXPECT_EQ(s.OnResult(seed[0].task_id, 1, Ok()).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(s.Dispatch(10).empty());
  EXPECT_EQ(s.CancelBatch("nope", "").code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, CancellingOneBatchReleasesAnotherBatchsHeldTasks) {
  Scheduler& s = Make();
  // Two batches whose jobs share a prefix (same model and system prompt).
  ASSERT_TRUE(s.AddBatch("a", Parse("jobs:\n" + FlatJob("x", 1))).ok());
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("y", 2))).ok());
  auto seed = s.Dispatch(10);
  ASSERT_EQ(seed.size(), 1u);
  ASSERT_EQ(seed[0].batch_id, "a");
  ASSERT_TRUE(s.CancelBatch("a", "stop").ok());
  auto next = s.Dispatch(10);
  ASSERT_EQ(next.size(), 1u);  // a new seed from batch b
  EXPECT_TRUE(next[0].seed);
  EXPECT_EQ(next[0].batch_id, "b");
}

TEST_F(SchedulerTest, BudgetStopCancelsTheRestWithTheReason) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never}\njobs:\n" +
                                    FlatJob("j", 5, "m", "    limits: {budget_usd: 0.10}\n")))
                  .ok());
  auto d = s.Dispatch(2);
  ASSERT_EQ(d.size(), 2u);
  AttemptReport r = Ok();
  r.cost_usd = 0.06;
  ASSERT_TRUE(s.OnResult(d[0].task_id, 1, r).ok());
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kRunning);
  ASSERT_TRUE(s.OnResult(d[1].task_id, 1, r).ok());
  const JobStatus j = *s.Job("b/j");
  EXPECT_EQ(j.phase, JobPhase::kFailed);
  EXPECT_EQ(j.reason, "budget_usd reached: spent $0.1200 of $0.1000");
  EXPECT_EQ(j.files_done, 2);
  EXPECT_TRUE(s.Dispatch(10).empty());
  EXPECT_DOUBLE_EQ(s.Batch("b")->cost_usd, 0.12);
}

TEST_F(SchedulerTest, DeadlineFailsTheJob) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" +
                                    FlatJob("j", 2, "m", "    limits: {deadline: 10m}\n")))
                  .ok());
  auto d = s.Dispatch(10);
  ASSERT_EQ(*s.NextWakeup() - clock_.MonotonicNow(), absl::Minutes(10));
  clock_.Advance(absl::Minutes(10));
  s.Tick();
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kFailed);
  EXPECT_EQ(s.Job("b/j")->reason, "deadline exceeded");
  EXPECT_EQ(s.TakeCancelledLeases().size(), 1u);
}

TEST_F(SchedulerTest, FailedCheckSchedulesARepairThatDependentsWaitFor) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(policy: {seed: never}
jobs:
  - name: j
    repo: ./j
    model: m
    limits: {max_repairs: 1}
    files:
      - {path: a.py, instructions: x}
      - {path: b.py, instructions: x, deps: [a.py]}
)"))
                  .ok());
  auto a = s.Dispatch(10);
  ASSERT_EQ(a.size(), 1u);
  ASSERT_TRUE(s.OnResult(a[0].task_id, 1, With(AttemptOutcome::kCheckFailed)).ok());
  auto repair = s.Dispatch(10);
  ASSERT_EQ(repair.size(), 1u);
  EXPECT_EQ(repair[0].kind, kiln::v1::TASK_KIND_REPAIR);
  EXPECT_EQ(repair[0].path, "a.py");
  EXPECT_EQ(repair[0].repair_round, 1);
  EXPECT_EQ(repair[0].max_output_tokens, 1500);
  ASSERT_TRUE(s.OnResult(repair[0].task_id, 1, Ok()).ok());
  auto b = s.Dispatch(10);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].path, "b.py");
  // b fails its checks twice: one repair allowed, then the file fails.
  ASSERT_TRUE(s.OnResult(b[0].task_id, 1, With(AttemptOutcome::kCheckFailed)).ok());
  auto rb = s.Dispatch(10);
  ASSERT_TRUE(s.OnResult(rb[0].task_id, 1, With(AttemptOutcome::kCheckFailed)).ok());
  const JobStatus j = *s.Job("b/j");
  EXPECT_EQ(j.phase, JobPhase::kFailed);
  EXPECT_EQ(j.files_done, 1);
  EXPECT_EQ(j.files_failed, 1);
}

TEST_F(SchedulerTest, PlanExpandsIntoFilesThenTheBuildRuns) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(policy: {seed: never}
jobs:
  - {name: j, repo: ./j, model: m, task: write a CLI, build: make}
)"))
                  .ok());
  auto plan = s.Dispatch(10);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].kind, kiln::v1::TASK_KIND_PLAN);
  EXPECT_EQ(plan[0].max_output_tokens, 1200);
  AttemptReport r = Ok();
  r.plan_files.resize(2);
  r.plan_files[0].set_path("main.py");
  r.plan_files[0].set_instructions("entry point");
  r.plan_files[0].add_deps("cli.py");
  r.plan_files[1].set_path("cli.py");
  r.plan_files[1].set_instructions("argument parsing");
  ASSERT_TRUE(s.OnResult(plan[0].task_id, 1, r).ok());
  EXPECT_EQ(s.Job("b/j")->files_total, 2);
  auto cli = s.Dispatch(10);
  ASSERT_EQ(cli.size(), 1u);
  EXPECT_EQ(cli[0].path, "cli.py");
  ASSERT_TRUE(s.OnResult(cli[0].task_id, 1, Ok()).ok());
  auto main = s.Dispatch(10);
  ASSERT_EQ(main[0].path, "main.py");
  ASSERT_TRUE(s.OnResult(main[0].task_id, 1, Ok()).ok());
  auto build = s.Dispatch(10);
  ASSERT_EQ(build.size(), 1u);
  EXPECT_EQ(build[0].kind, kiln::v1::TASK_KIND_BUILD);
  ASSERT_TRUE(s.OnResult(build[0].task_id, 1, Ok()).ok());
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kSucceeded);
}

TEST_F(SchedulerTest, AnInvalidPlanFailsTheJob) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(jobs:
  - {name: j, repo: ./j, model: m, task: write a CLI}
)"))
                  .ok());
  auto plan = s.Dispatch(10);
  AttemptReport r = Ok();
  r.plan_files.resize(1);
  r.plan_files[0].set_path("../escape.py");
  r.plan_files[0].set_instructions("x");
  ASSERT_TRUE(s.OnResult(plan[0].task_id, 1, r).ok());
  EXPECT_EQ(StateOf(plan[0].task_id), kiln::v1::TASK_STATE_FAILED);
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kFailed);
}

TEST_F(SchedulerTest, TheCheckoutPinsTheCommitAndSelectExpandsBesideTheListedFiles) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", ParseUnpinned(R"(policy: {seed: never}
jobs:
  - name: j
    repo: ./j
    model: m
    instructions: migrate
    select: {glob: "*.py"}
    files: [{path: listed.py}]
    build: make
)"))
                  .ok());
  // Only the checkout: every other task reads the repo at its commit.
  auto first = s.Dispatch(10);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(first[0].kind, kiln::v1::TASK_KIND_SELECT);
  EXPECT_EQ(s.Job("b/j")->files_total, 1);
  EXPECT_EQ(s.JobSpecOf("b/j")->repo().commit(), "");
  AttemptReport r = Ok();
  r.commit = kCommit;
  r.plan_files.resize(2);
  for (int i = 0; i < 2; ++i) {
    r.plan_files[i].set_path(i == 0 ? "a.py" : "b.py");
    r.plan_files[i].set_mode(kiln::v1::FILE_MODE_EDIT);
    r.plan_files[i].set_base_bytes(8000);
  }
  ASSERT_TRUE(s.OnResult(first[0].task_id, 1, r).ok());
  EXPECT_EQ(s.JobSpecOf("b/j")->repo().commit(), kCommit);
  EXPECT_EQ(s.Job("b/j")->files_total, 3);
  std::vector<Dispatched> files = s.Dispatch(10);
  ASSERT_EQ(files.size(), 3u);  // the listed file and the 2 selected
  for (const auto& d : files) {
    EXPECT_EQ(d.kind, kiln::v1::TASK_KIND_GENERATE);
    // A selected file's content is part of the prompt's estimate.
    if (d.path != "listed.py") {
      EXPECT_GE(d.variable_prompt_tokens, 2000);
    }
  }
  for (const auto& d : files) ASSERT_TRUE(s.OnResult(d.task_id, 1, Ok()).ok());
  auto build = s.Dispatch(10);
  ASSERT_EQ(build.size(), 1u);
  EXPECT_EQ(build[0].kind, kiln::v1::TASK_KIND_BUILD);
  ASSERT_TRUE(s.OnResult(build[0].task_id, 1, Ok()).ok());
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kSucceeded);
  EXPECT_EQ(s.Job("b/j")->files_done, 3);
}

TEST_F(SchedulerTest, APlannedJobIsPlannedAfterItsCheckoutAndGetsNoSecondOne) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", ParseUnpinned(R"(jobs:
  - {name: j, repo: ./j, model: m, task: write a CLI}
)"))
                  .ok());
  auto checkout = s.Dispatch(10);
  ASSERT_EQ(checkout.size(), 1u);
  ASSERT_EQ(checkout[0].kind, kiln::v1::TASK_KIND_SELECT);
  AttemptReport pinned = Ok();
  pinned.commit = kCommit;
  ASSERT_TRUE(s.OnResult(checkout[0].task_id, 1, pinned).ok());
  auto plan = s.Dispatch(10);
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_EQ(plan[0].kind, kiln::v1::TASK_KIND_PLAN);
  AttemptReport planned = Ok();
  planned.plan_files.resize(1);
  planned.plan_files[0].set_path("cli.py");
  planned.plan_files[0].set_instructions("the CLI");
  ASSERT_TRUE(s.OnResult(plan[0].task_id, 1, planned).ok());
  auto files = s.Dispatch(10);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].kind, kiln::v1::TASK_KIND_GENERATE);
  ASSERT_TRUE(s.OnResult(files[0].task_id, 1, Ok()).ok());
  EXPECT_EQ(s.Job("b/j")->phase, JobPhase::kSucceeded);
  EXPECT_EQ(s.JobSpecOf("b/j")->repo().commit(), kCommit);
}

TEST_F(SchedulerTest, ASelectionWithNoMatchSucceedsChangingNothing) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse(R"(jobs:
  - {name: j, repo: ./j, model: m, instructions: migrate, select: {glob: "*.py"}, build: make}
)"))
                  .ok());
  auto select = s.Dispatch(10);
  ASSERT_EQ(select.size(), 1u);
  ASSERT_TRUE(s.OnResult(select[0].task_id, 1, Ok()).ok());
  const auto job = s.Job("b/j");
  EXPECT_EQ(job->phase, JobPhase::kSucceeded);
  EXPECT_EQ(job->note, "no matching files");
  EXPECT_EQ(job->files_total, 0);
  EXPECT_TRUE(s.Dispatch(10).empty());  // no build of an unchanged repo
}

TEST_F(SchedulerTest, ConcurrencyCapPerBatch) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("policy: {seed: never, concurrency: 3}\njobs:\n" +
                                    FlatJob("j", 10)))
                  .ok());
  auto d = s.Dispatch(10);
  EXPECT_EQ(d.size(), 3u);
  ASSERT_TRUE(s.OnResult(d[0].task_id, 1, Ok()).ok());
  EXPECT_EQ(s.Dispatch(10).size(), 1u);
}

TEST_F(SchedulerTest, InvalidOrDuplicateBatchesAreRejected) {
  Scheduler& s = Make();
  kiln::v1::BatchSpec bad;
  bad.add_jobs()->set_name("x");
  const absl::Status st = s.AddBatch("b", bad);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("jobs[0].repo: required"), absl::string_view::npos)
      << st.message();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 1))).ok());
  EXPECT_EQ(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 1))).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(SchedulerTest, EventsRecordEveryTransition) {
  Scheduler& s = Make();
  ASSERT_TRUE(s.AddBatch("b", Parse("jobs:\n" + FlatJob("j", 1))).ok());
  auto d = s.Dispatch(1);
  ASSERT_TRUE(s.OnResult(d[0].task_id, 1, Ok()).ok());
  std::vector<TaskState> states;
  for (const auto& e : s.TakeEvents()) states.push_back(e.state);
  EXPECT_EQ(states, (std::vector<TaskState>{
                        kiln::v1::TASK_STATE_PENDING, kiln::v1::TASK_STATE_READY,
                        kiln::v1::TASK_STATE_LEASED, kiln::v1::TASK_STATE_SUCCEEDED}));
  EXPECT_TRUE(s.TakeEvents().empty());
}

}  // namespace
}  // namespace kiln
