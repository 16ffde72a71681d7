// Admission of a huge matrix on the coordinator's core, as its event loop
// runs it: the turn that acknowledges the submission, then the turns that
// expand its jobs a slice at a time, against expanding them all in the
// acknowledging turn (admission_slice_tasks unbounded). RocksDB with a synced
// WAL in a temporary directory; real clock.
//
//   bazel run -c opt //bench:admission_bench -- --jobs=50000
//
// Validation runs before, as the server runs it on its gRPC thread. Prints
// the time to the acknowledgement, the longest turn (how long the
// loop answers nothing else: dispatch, heartbeats, `kiln list`) and the
// total, for both, and their ratios.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/store.h"
#include "llm/model_profile.h"

ABSL_FLAG(int, jobs, 50000, "jobs of the matrix (one file each)");
ABSL_FLAG(int, slice_tasks, 1000, "admission_slice_tasks of the sliced run");

namespace kiln {
namespace {

kiln::v1::BatchSpec Matrix(int jobs) {
  kiln::v1::BatchSpec spec;
  spec.set_name("huge");
  auto* m = spec.mutable_matrix();
  kiln::v1::JobSpec* job = m->mutable_job();
  job->set_name("svc");
  job->mutable_model()->set_model("gpt-4o-mini");
  job->mutable_context()->set_system(std::string(2000, 's'));
  kiln::v1::FileSpec* f = job->add_files();
  f->set_path("service/transport_setup.py");
  f->set_instructions("The transport_setup module, migrated.");
  for (int i = 0; i < jobs; ++i) {
    auto* r = m->add_repos();
    r->mutable_repo()->set_path(absl::StrCat("./repos/svc-", i % 200));
    r->set_name(absl::StrCat("r", i));
  }
  return spec;
}

struct Figures {
  absl::Duration ack;
  absl::Duration longest_turn;
  absl::Duration total;
  int turns = 0;
};

Figures Admit(const kiln::v1::BatchSpec& spec, int slice_tasks) {
  const std::string dir =
      absl::StrCat(std::filesystem::temp_directory_path().string(),
                   "/kiln-admission-bench-", ::getpid(), "-", slice_tasks);
  std::filesystem::remove_all(dir);
  ModelCatalog models = ModelCatalog::Builtin();
  Figures f;
  {
    auto store = Store::Open(dir);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().ToString().c_str());
      std::exit(1);
    }
    CoordinatorOptions o;
    o.admission_slice_tasks = slice_tasks;
    auto core = Coordinator::Open(store->get(), RealClock(), &models, o);
    if (!core.ok()) std::exit(1);
    kiln::v1::SubmitBatchRequest req;
    *req.mutable_spec() = spec;
    req.set_request_id("bench");
    bool acked = false;
    // The server validates on the gRPC thread, then posts to the loop.
    if (absl::Status bad = (*core)->ValidateSubmission(req); !bad.ok()) std::exit(1);
    const absl::Time start = absl::Now();
    (*core)->SubmitBatch(
        req, TraceContext(),
        [&](absl::StatusOr<kiln::v1::SubmitBatchResponse> r) {
          acked = r.ok();
          if (!r.ok()) std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
        },
        /*validated=*/true);
    // One loop turn: the closures, Pump, Commit (server_internal.h).
    auto turn = [&] {
      const absl::Time t0 = absl::Now();
      (*core)->Pump();
      (void)(*core)->Commit();
      const absl::Duration took = absl::Now() - t0;
      f.longest_turn = std::max(f.longest_turn, took);
      ++f.turns;
    };
    turn();
    f.ack = absl::Now() - start;
    if (!acked) std::exit(1);
    // The loop turns again at once while the core has expansion to do.
    for (;;) {
      const auto next = (*core)->NextWakeup();
      if (!next || *next > RealClock()->MonotonicNow() + absl::Milliseconds(1)) break;
      turn();
    }
    f.total = absl::Now() - start;
  }
  std::filesystem::remove_all(dir);
  return f;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace
}  // namespace kiln

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  using namespace kiln;
  const int jobs = absl::GetFlag(FLAGS_jobs);
  const kiln::v1::BatchSpec spec = Matrix(jobs);
  const Figures whole = Admit(spec, std::numeric_limits<int>::max());
  const Figures sliced = Admit(spec, absl::GetFlag(FLAGS_slice_tasks));
  std::printf("admission of a %d-job matrix (one file each):\n", jobs);
  std::printf("  %-28s %10s %14s %10s %7s\n", "", "ack", "longest turn",
              "total", "turns");
  std::printf("  %-28s %8.1fms %12.1fms %8.1fms %7d\n", "expanded in one turn",
              Ms(whole.ack), Ms(whole.longest_turn), Ms(whole.total), whole.turns);
  std::printf("  %-28s %8.1fms %12.1fms %8.1fms %7d\n",
              absl::StrCat("sliced (", absl::GetFlag(FLAGS_slice_tasks), " tasks/turn)").c_str(),
              Ms(sliced.ack), Ms(sliced.longest_turn), Ms(sliced.total), sliced.turns);
  std::printf("  ratios sliced/one turn: ack %.3f, longest turn %.3f, total %.2f\n",
              Ms(sliced.ack) / Ms(whole.ack),
              Ms(sliced.longest_turn) / Ms(whole.longest_turn),
              Ms(sliced.total) / Ms(whole.total));
  return 0;
}
