// Cost of the scheduler core per task: admitting a batch, and dispatching
// plus completing a task while ~1,000,000 tasks are queued. Google Benchmark
// reports the time per task; the target is under 5 us for admit + dispatch +
// complete.
//
//   bazel run -c opt //bench:scheduler_bench

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/fake_clock.h"
#include "coordinator/scheduler.h"

namespace kiln {
namespace {

// `jobs` jobs of `files` independent files each; seeding off, so every task
// is READY at once.
kiln::v1::BatchSpec FlatBatch(int jobs, int files) {
  kiln::v1::BatchSpec b;
  b.mutable_policy()->set_seed(kiln::v1::SEED_MODE_NEVER);
  for (int j = 0; j < jobs; ++j) {
    kiln::v1::JobSpec* job = b.add_jobs();
    job->set_name(absl::StrCat("job", j));
    job->mutable_repo()->set_path(absl::StrCat("./r", j));
    job->mutable_model()->set_model("gpt-4o-mini");
    for (int f = 0; f < files; ++f) {
      kiln::v1::FileSpec* file = job->add_files();
      file->set_path(absl::StrCat("src/f", f, ".py"));
      file->set_instructions("x");
      file->set_expected_tokens(100 + f % 500);
    }
  }
  return b;
}

ModelCatalog Unlimited() {
  ModelCatalog c = ModelCatalog::Builtin();
  ModelProfile p = *c.Find("gpt-4o-mini");
  p.requests_per_minute = 0;
  p.input_tokens_per_minute = 0;
  p.output_tokens_per_minute = 0;
  c.Put(p);
  return c;
}

void BM_Admit(benchmark::State& state) {
  const ModelCatalog models = Unlimited();
  const kiln::v1::BatchSpec batch = FlatBatch(100, 1000);
  int n = 0;
  FakeClock clock;
  for (auto _ : state) {
    auto s = std::make_unique<Scheduler>(&clock, &models);
    benchmark::DoNotOptimize(s->AddBatch(absl::StrCat("b", n++), batch));
    benchmark::DoNotOptimize(s->TakeEvents().size());  // part of admission
    state.PauseTiming();  // tearing down is not admission
    s.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * 100 * 1000);
}
BENCHMARK(BM_Admit)->Unit(benchmark::kMillisecond);

void BM_DispatchAndComplete(benchmark::State& state) {
  const ModelCatalog models = Unlimited();
  FakeClock clock;
  Scheduler s(&clock, &models);
  // 1,000 jobs x 1,000 files: a million queued tasks.
  if (!s.AddBatch("big", FlatBatch(1000, 1000)).ok()) {
    state.SkipWithError("AddBatch failed");
    return;
  }
  s.TakeEvents();  // admission's events are admission's cost
  const AttemptReport ok;
  int64_t done = 0;
  for (auto _ : state) {
    auto d = s.Dispatch(1);
    if (d.empty()) {
      state.SkipWithError("queue ran dry");
      break;
    }
    benchmark::DoNotOptimize(s.OnResult(d[0].task_id, d[0].attempt, ok));
    ++done;
    if (done % 4096 == 0) benchmark::DoNotOptimize(s.TakeEvents().size());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["queued"] = static_cast<double>(s.ready_count());
}
BENCHMARK(BM_DispatchAndComplete)->Iterations(200000);

}  // namespace
}  // namespace kiln

BENCHMARK_MAIN();
