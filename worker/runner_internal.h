// What the runner's files share: an attempt's state and small helpers.
#ifndef KILN_WORKER_RUNNER_INTERNAL_H_
#define KILN_WORKER_RUNNER_INTERNAL_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/tracer.h"
#include "llm/prompt.h"
#include "llm/provider.h"
#include "worker/file_task.h"
#include "worker/runner.h"

namespace kiln {

struct Runner::Attempt {
  kiln::v1::Assignment a;
  WorkerPort* port = nullptr;
  // Set by Cancel (the coordinator's) or by a lost permit lease.
  Cancellation cancel;
  std::atomic<bool> dropped{false};      // cancelled by the coordinator
  std::atomic<bool> permit_lost{false};  // killed because a permit was lost
  std::atomic<bool> ended{false};
  absl::Time start;
  kiln::v1::AttemptRecord rec;  // one stage at a time touches it
  std::string worktree;         // empty until acquired
  PromptInputs inputs;
  int plan_tries = 0;
  kiln::v1::Artifact artifact;  // GENERATE/REPAIR: the written file
  FileTask file;                // GENERATE/REPAIR: create or edit, and how
  // Spans (recording only when the batch is traced). Like `rec`, touched by
  // one stage at a time.
  Span span;  // "attempt"
  Span llm;   // the llm.request in flight
  Mutex mu;
  std::unique_ptr<LlmCall> call ABSL_GUARDED_BY(mu);
  bool first_token ABSL_GUARDED_BY(mu) = false;
};

namespace runner_internal {

inline void SetError(kiln::v1::ErrorInfo* e, const absl::Status& s, bool retryable) {
  e->set_code(static_cast<int32_t>(s.code()));
  e->set_message(std::string(s.message()));
  e->set_retryable(retryable);
}

inline std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.2fs", absl::ToDoubleSeconds(d));
}

}  // namespace runner_internal

}  // namespace kiln

#endif  // KILN_WORKER_RUNNER_INTERNAL_H_
