#include "bench/schedsim.h"

#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/fake_clock.h"
#include "coordinator/scheduler.h"
#include "llm/sim/provider_model.h"
#include "spec/dag.h"
#include "spec/spec_validator.h"

namespace kiln {
namespace {

// A pending simulation event.
struct Event {
  MonotonicTime at;
  int64_t seq;
  std::function<void()> run;
  bool operator>(const Event& o) const {
    return std::tie(at, seq) > std::tie(o.at, o.seq);
  }
};

class EventQueue {
 public:
  void At(MonotonicTime t, std::function<void()> f) {
    q_.push(Event{t, seq_++, std::move(f)});
  }
  bool empty() const { return q_.empty(); }
  MonotonicTime next() const { return q_.top().at; }
  Event Pop() {
    Event e = q_.top();
    q_.pop();
    return e;
  }

 private:
  std::priority_queue<Event, std::vector<Event>, std::greater<>> q_;
  int64_t seq_ = 0;
};

// Sends one request and books it in `r`. Returns the response; when it was
// rate limited the caller retries after resp.retry_after, as a worker does.
SimResponse SendAndBook(ProviderModel* provider, const SimRequest& req,
                        MonotonicTime now, SimResult* r) {
  const SimResponse resp = provider->Send(req, now);
  if (resp.rate_limited) {
    ++r->rate_limited;
    return resp;
  }
  ++r->requests;
  r->usage += resp.usage;
  r->cost_usd += resp.cost_usd;
  r->uncached_cost_usd += resp.uncached_cost_usd;
  return resp;
}

// The flattened DAGs of every job, for the non-Kiln strategies and bounds.
struct FlatTask {
  TaskNode node;
  std::vector<int> deps;
  std::vector<int> dependents;
};

// What a model's limits must let through, at least.
struct ModelDemand {
  int64_t requests = 0;
  int64_t input_tokens = 0;  // as counted toward input tokens per minute
  int64_t output_tokens = 0;
};

struct Flat {
  std::vector<FlatTask> tasks;
  std::map<std::string, ModelDemand> demand;
  absl::Duration cp_bound;
  absl::Duration shortest;
  int64_t min_full_price_input = 0;
};

Flat Flatten(const kiln::v1::BatchSpec& batch, const CostModel& cost,
             const ModelCatalog& models) {
  Flat f;
  f.shortest = absl::InfiniteDuration();
  std::set<std::string> prefixes;
  for (const auto& job : ExpandJobs(batch)) {
    // The strategies differ in how they schedule LLM requests; the checkout
    // that starts every job is the same for all of them and is left out.
    const JobDag dag = BuildJobDag(job, cost, /*with_select=*/false);
    f.cp_bound = std::max(f.cp_bound, CriticalPathLowerBound(dag, cost));
    const int base = static_cast<int>(f.tasks.size());
    for (const TaskNode& n : dag.tasks) {
      FlatTask t;
      t.node = n;
      for (int d : n.deps) t.deps.push_back(base + d);
      for (int d : n.dependents) t.dependents.push_back(base + d);
      if (n.kind != kiln::v1::TASK_KIND_BUILD) {
        f.shortest = std::min(f.shortest, cost.Estimate(n));
        const ModelProfile* p = models.Find(n.model);
        const bool cacheable = p && n.stable_prompt_tokens >= p->cache_min_tokens;
        f.min_full_price_input += n.variable_prompt_tokens;
        ModelDemand& md = f.demand[n.model];
        md.requests++;
        md.output_tokens += n.expected_output_tokens;
        md.input_tokens += n.variable_prompt_tokens;
        const bool first =
            cacheable && prefixes.insert(n.model + "/" + n.prefix_key).second;
        if (!cacheable || first) {
          f.min_full_price_input += n.stable_prompt_tokens;
        }
        if (!cacheable || first || !p || p->itpm_counts_cache_reads) {
          md.input_tokens += n.stable_prompt_tokens;
        }
      }
      f.tasks.push_back(std::move(t));
    }
  }
  if (f.shortest == absl::InfiniteDuration()) f.shortest = absl::ZeroDuration();
  return f;
}

// Time to push `amount` through a bucket of `per_minute` that starts full,
// plus the shortest task (the last one admitted still has to run).
absl::Duration BucketBound(int64_t amount, int64_t per_minute,
                           absl::Duration shortest) {
  if (per_minute <= 0 || amount <= per_minute) return absl::ZeroDuration();
  return absl::Minutes(static_cast<double>(amount - per_minute) /
                       static_cast<double>(per_minute)) +
         shortest;
}

// The makespan the provider's limits alone impose.
absl::Duration RateBound(const Flat& flat, const ModelCatalog& models,
                         int64_t rpm) {
  absl::Duration best = absl::ZeroDuration();
  for (const auto& [model, d] : flat.demand) {
    const ModelProfile* p = models.Find(model);
    const int64_t r = rpm > 0 ? rpm : (p ? p->requests_per_minute : 0);
    best = std::max(best, BucketBound(d.requests, r, flat.shortest));
    if (p != nullptr) {
      best = std::max(best, BucketBound(d.input_tokens, p->input_tokens_per_minute,
                                        flat.shortest));
      best = std::max(best, BucketBound(d.output_tokens,
                                        p->output_tokens_per_minute, flat.shortest));
    }
  }
  return best;
}

// Time a task spends after its LLM response (checks, or the whole build).
absl::Duration AfterLlm(const TaskNode& n, const CostModel& cost) {
  if (n.kind == kiln::v1::TASK_KIND_BUILD) return cost.options().build_time;
  return cost.options().check_time;
}

// Sequential, naive parallel and cached batch: a plain DAG runner.
SimResult RunSimple(Strategy strategy, const Flat& flat, const CostModel& cost,
                    ProviderModel* provider, const SchedSimOptions& options) {
  FakeClock clock;
  const MonotonicTime start = clock.MonotonicNow();
  EventQueue events;
  SimResult r;
  const int n = static_cast<int>(flat.tasks.size());
  std::vector<int> pending(n);
  std::vector<int> ready;
  for (int i = 0; i < n; ++i) {
    pending[i] = static_cast<int>(flat.tasks[i].deps.size());
    if (pending[i] == 0) ready.push_back(i);
  }
  int running = 0, done = 0;
  bool first_done = false;  // cached batch: the first task completed

  std::function<void(int)> send;
  auto finish = [&](int t) {
    --running;
    ++done;
    first_done = true;
    for (int d : flat.tasks[t].dependents) {
      if (--pending[d] == 0) ready.push_back(d);
    }
  };
  send = [&](int t) {
    const TaskNode& node = flat.tasks[t].node;
    const MonotonicTime now = clock.MonotonicNow();
    if (node.kind == kiln::v1::TASK_KIND_BUILD) {
      events.At(now + AfterLlm(node, cost), [&, t] { finish(t); });
      return;
    }
    const SimRequest req = SimRequest::OnePrefix(
        node.model, node.prefix_key, node.stable_prompt_tokens,
        node.variable_prompt_tokens, node.expected_output_tokens);
    const SimResponse resp = SendAndBook(provider, req, now, &r);
    if (resp.rate_limited) {
      events.At(now + resp.retry_after, [&, t] { send(t); });
      return;
    }
    events.At(resp.done_at + AfterLlm(node, cost), [&, t] { finish(t); });
  };
  auto launch = [&] {
    // Dependency order: lower index first (tasks are topological per job).
    std::sort(ready.begin(), ready.end());
    std::vector<int> keep;
    for (int t : ready) {
      bool go = running < options.slots;
      if (strategy == Strategy::kSequential) go = running == 0;
      if (strategy == Strategy::kCachedBatch && !first_done) go = running == 0;
      if (go) {
        ++running;
        send(t);
      } else {
        keep.push_back(t);
      }
    }
    ready.swap(keep);
  };
  launch();
  while (!events.empty()) {
    Event e = events.Pop();
    if (e.at > clock.MonotonicNow()) clock.Advance(e.at - clock.MonotonicNow());
    e.run();
    launch();
  }
  r.makespan = clock.MonotonicNow() - start;
  r.tasks = done;
  r.failed = n - done;
  return r;
}

SimResult RunKiln(const kiln::v1::BatchSpec& batch, const ModelCatalog& models,
                  const CostModel& cost, ProviderModel* provider,
                  const SchedSimOptions& options, int64_t rpm) {
  FakeClock clock;
  const MonotonicTime start = clock.MonotonicNow();
  SchedulerOptions so;
  so.cost = cost.options();
  so.requests_per_minute_cap = rpm;
  Scheduler sched(&clock, &models, so);
  SimResult r;
  // Pinned, as the other strategies' DAGs have no checkout (see Flatten).
  kiln::v1::BatchSpec pinned = batch;
  const std::string commit(40, '0');
  for (auto& j : *pinned.mutable_jobs()) j.mutable_repo()->set_commit(commit);
  if (pinned.has_matrix()) {
    for (auto& m : *pinned.mutable_matrix()->mutable_repos()) m.mutable_repo()->set_commit(commit);
  }
  if (!sched.AddBatch("sim", pinned).ok()) {
    r.failed = 1;
    return r;
  }
  EventQueue events;
  int running = 0;

  std::function<void(const Dispatched&)> send = [&](const Dispatched& d) {
    const MonotonicTime now = clock.MonotonicNow();
    if (d.kind == kiln::v1::TASK_KIND_BUILD) {
      events.At(now + cost.options().build_time, [&, d] {
        --running;
        (void)sched.OnResult(d.task_id, d.attempt, AttemptReport());
      });
      return;
    }
    const SimRequest req = SimRequest::OnePrefix(
        d.model, d.prefix_key, d.stable_prompt_tokens,
        d.variable_prompt_tokens, d.expected_output_tokens);
    const SimResponse resp = SendAndBook(provider, req, now, &r);
    if (resp.rate_limited) {
      events.At(now + resp.retry_after, [&, d] { send(d); });
      return;
    }
    events.At(resp.first_token_at, [&, d] {
      (void)sched.OnFirstToken(d.task_id, d.attempt);
    });
    AttemptReport report;
    report.usage = resp.usage;
    report.cost_usd = resp.cost_usd;
    report.uncached_cost_usd = resp.uncached_cost_usd;
    events.At(resp.done_at + cost.options().check_time, [&, d, report] {
      --running;
      (void)sched.OnResult(d.task_id, d.attempt, report);
    });
  };
  auto launch = [&] {
    for (const Dispatched& d : sched.Dispatch(options.slots - running)) {
      ++running;
      send(d);
    }
  };
  launch();
  while (!sched.Batch("sim")->done) {
    absl::optional<MonotonicTime> next;
    if (!events.empty()) next = events.next();
    if (auto w = sched.NextWakeup(); w && (!next || *w < *next)) next = w;
    if (!next) break;  // stuck: nothing left to happen
    if (*next > clock.MonotonicNow()) clock.Advance(*next - clock.MonotonicNow());
    while (!events.empty() && events.next() <= clock.MonotonicNow()) {
      events.Pop().run();
    }
    launch();
  }
  r.makespan = clock.MonotonicNow() - start;
  for (const std::string& j : sched.JobIds("sim")) {
    const JobStatus s = *sched.Job(j);
    r.tasks += s.files_done;
    r.failed += s.files_failed + (s.phase == JobPhase::kSucceeded ? 0 : 1);
  }
  return r;
}

}  // namespace

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kSequential:
      return "sequential";
    case Strategy::kNaiveParallel:
      return "naive parallel";
    case Strategy::kCachedBatch:
      return "cached batch";
    case Strategy::kKiln:
      return "kiln";
  }
  return "?";
}

absl::StatusOr<SimResult> Simulate(Strategy strategy,
                                   const kiln::v1::BatchSpec& batch,
                                   const ModelCatalog& models,
                                   const SchedSimOptions& options) {
  const absl::Status valid = ProblemsToStatus(ValidateBatch(batch, models, {}, {}));
  if (!valid.ok()) return valid;
  const CostModel cost(&models);
  const int64_t rpm = options.requests_per_minute > 0
                          ? options.requests_per_minute
                          : batch.policy().requests_per_minute();
  ProviderModel provider(&models, rpm);
  const Flat flat = Flatten(batch, cost, models);
  SimResult r = strategy == Strategy::kKiln
                    ? RunKiln(batch, models, cost, &provider, options, rpm)
                    : RunSimple(strategy, flat, cost, &provider, options);
  r.lower_bound = std::max(flat.cp_bound, RateBound(flat, models, rpm));
  r.min_full_price_input = flat.min_full_price_input;
  return r;
}

}  // namespace kiln
