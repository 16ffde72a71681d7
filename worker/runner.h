// The worker's task runner (DESIGN.md, "Worker"): runs PLAN, SELECT,
// GENERATE, REPAIR, BUILD and LAND attempts. A GENERATE or REPAIR creates its
// file or edits the one at the job's ref (worker/file_task.h).
//
// An attempt moves through stages, each on the resource it needs and no
// other:
//   prepare   (I/O pool): the job's worktree, the deps' generated files from
//             the blob store, the context files; the prompt.
//   llm       (the provider's own threads; the coordinator bounds these by
//             the worker's LLM slots): streamed; the first token is reported
//             at once so the held tasks of the cache group are released.
//   write     (I/O pool): the code into the worktree (never outside it),
//             uploaded as a blob. Then LlmDone frees the LLM slot.
//   commands  (one of M build slots): each matching check, or the job's
//             build, under the cluster semaphore's permits, in the sandbox.
// Waiting on an LLM holds no build slot; waiting for a permit holds no LLM
// slot. Every attempt reports usage, cost and timings; a failed check or
// build reports its diagnostics cut to the target file, heads and tails.
#ifndef KILN_WORKER_RUNNER_H_
#define KILN_WORKER_RUNNER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_pool.h"
#include "common/tracer.h"
#include "llm/model_profile.h"
#include "llm/prompt.h"
#include "llm/provider.h"
#include "worker/land.h"
#include "worker/permits.h"
#include "worker/sandbox.h"
#include "worker/session.h"
#include "worker/transfer_retry.h"
#include "worker/worktree.h"

namespace kiln {

struct RunnerOptions {
  // Mirrors, worktrees and scratch directories live here.
  std::string work_dir = ".kiln/worker";
  // Concurrent checks and builds.
  int build_slots = 2;
  // Threads for checkouts and blob transfers.
  int io_threads = 8;
  // Limits of every check and build process.
  int64_t memory_bytes = int64_t{2} << 30;
  size_t output_cap = 1 << 20;
  // Diagnostics kept for a repair prompt.
  size_t diagnostics_bytes = 8192;
  // When the spec gives none.
  absl::Duration check_timeout = absl::Seconds(60);
  absl::Duration build_timeout = absl::Minutes(10);
  std::string semaphore = "compile";
  PromptBudget budget;
  int max_worktrees = 64;
  // Blob uploads and downloads retried while the coordinator cannot be
  // reached (worker/transfer_retry.h).
  TransferRetry transfers;
  // An environment variable holding a token git may use to push (through
  // GIT_ASKPASS). Empty: git's own credentials only.
  std::string git_token_env;
  // Where attempt spans go (not owned): attempt → llm.request,
  // semaphore.wait, check, build, under the Assignment's traceparent.
  // Null: none are recorded.
  Tracer* tracer = nullptr;
};

class Runner : public TaskRunner {
 public:
  // None of the pointers is owned; all must outlive the runner. `clock`
  // stamps the attempts' records and spans.
  Runner(RunnerOptions options, Provider* provider, const ModelCatalog* models,
         Sandbox* sandbox, PermitSource* permits, const Clock* clock = RealClock());
  ~Runner() override;
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void Run(const kiln::v1::Assignment& assignment, WorkerPort* port) override;
  void Cancel(const kiln::v1::Lease& lease) override;

  // Cancels every attempt (no results are reported) and joins the threads.
  void Stop();

  // Attempts running now; finished (reported) so far.
  int running() const;
  int64_t finished() const { return finished_.load(); }

 private:
  struct Attempt;
  using AttemptPtr = std::shared_ptr<Attempt>;
  struct Command {
    std::string command;
    absl::Duration timeout;
    std::string semaphore;  // empty: no permits
    int permits = 0;
  };

  void Prepare(const AttemptPtr& at);
  // SELECT: the job's matching files, as a plan (no LLM call).
  void Select(const AttemptPtr& at);
  // LAND: the job's files that differ from the ref (of `files`, its
  // artifacts) committed, their patch stored, pushed and proposed.
  void Land(const AttemptPtr& at, std::vector<QuotedFile> files);
  // Decides whether the attempt creates or edits its file, and how
  // (at->file, at->inputs); the file at the ref comes from the worktree.
  absl::Status PlanFile(const AttemptPtr& at, const kiln::v1::FileSpec& file,
                        const std::string* repaired);
  // Ends an attempt whose edit blocks did not all apply: CHECK_FAILED with
  // the partly edited file and `failures` as its diagnostics.
  void EditFailed(const AttemptPtr& at, const std::string& failures);
  void StartLlm(const AttemptPtr& at);
  void AfterLlm(const AttemptPtr& at, absl::StatusOr<LlmResult> result);
  void RunCommands(const AttemptPtr& at, std::vector<Command> commands);
  // Runs one command; false when the attempt ended (reported or dropped).
  bool RunCommand(const AttemptPtr& at, const Command& c, int index,
                  kiln::v1::CheckRun* run, std::string* output);
  void Fail(const AttemptPtr& at, kiln::v1::TaskResult::Outcome outcome,
            const absl::Status& error);
  void Finish(const AttemptPtr& at, kiln::v1::TaskResult result);
  // Bills one HTTP request (as it ends) to the attempt's record.
  void AddRequest(const AttemptPtr& at, const LlmRequestRecord& request);
  // Tells the coordinator what the attempt has spent (WorkerPort::Spent).
  void ReportSpend(const AttemptPtr& at, bool request_open);
  // The port's blob transfers, retried (RunnerOptions::transfers) while the
  // coordinator cannot be reached, until the attempt is cancelled.
  absl::StatusOr<kiln::v1::Digest> Upload(const AttemptPtr& at, const std::string& bytes);
  absl::StatusOr<std::string> Download(const AttemptPtr& at, const kiln::v1::Digest& digest);
  void AddTimings(const AttemptPtr& at, const LlmResult& r);
  // Ends the attempt's span with its outcome (`rec` is the final record).
  void EndAttemptSpan(const AttemptPtr& at, const kiln::v1::TaskResult& result);
  void PostIo(std::function<void()> fn);
  void PostBuild(std::function<void()> fn);

  const RunnerOptions options_;
  const Clock* const clock_;
  Tracer disabled_tracer_;
  Tracer* const tracer_;
  Provider* const provider_;
  const ModelCatalog* const models_;
  Sandbox* const sandbox_;
  PermitSource* const permits_;
  RepoCache repos_;
  HostSandbox host_;  // landing's git and PR commands: outside the sandbox
  Lander lander_;

  mutable Mutex mu_;
  std::map<std::string, AttemptPtr> attempts_ ABSL_GUARDED_BY(mu_);  // by task
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  int calls_in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  CondVar calls_cv_;
  std::atomic<int64_t> finished_{0};
  std::atomic<uint64_t> scratch_seq_{0};

  // Last members: destroyed (joined) first. Guarded by mu_ (Stop takes
  // them away).
  std::unique_ptr<ThreadPool> io_;
  std::unique_ptr<ThreadPool> builds_;
};

}  // namespace kiln

#endif  // KILN_WORKER_RUNNER_H_
