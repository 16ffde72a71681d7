#include "worker/fake_runner.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/digest.h"

namespace kiln {

FakeRunner::FakeRunner(FakeRunnerOptions options) : options_(options) {
  if (options_.delay > absl::ZeroDuration()) {
    timers_ = std::make_unique<TimerLoop>();
  }
}

void FakeRunner::Run(const kiln::v1::Assignment& a, WorkerPort* session) {
  const int64_t n = ++ran_;
  if (options_.crash_at_assignment > 0 && n >= options_.crash_at_assignment) {
    _exit(3);  // a crash, not a shutdown: nothing is flushed or reported
  }
  if (timers_ != nullptr) {
    timers_->RunAfter(options_.delay,
                      [this, a, session] { Finish(a, session); });
    return;
  }
  Finish(a, session);
}

void FakeRunner::Finish(kiln::v1::Assignment a, WorkerPort* session) {
  kiln::v1::TaskResult result;
  *result.mutable_lease() = a.lease();
  result.set_outcome(kiln::v1::TaskResult::OUTCOME_SUCCEEDED);
  const kiln::v1::Task& task = a.task();
  if (task.kind() == kiln::v1::TASK_KIND_GENERATE ||
      task.kind() == kiln::v1::TASK_KIND_REPAIR) {
    const std::string content =
        options_.same_content
            ? std::string("// generated\n")
            : absl::StrCat("// ", task.path(), " (task ", task.id(), ")\n");
    kiln::v1::Digest digest = DigestOf(content);
    bool known;
    {
      MutexLock l(&mu_);
      known = uploaded_.count(digest.hash()) > 0;
    }
    if (!known) {
      auto up = session->UploadBlob(content);
      if (!up.ok()) {
        result.set_outcome(kiln::v1::TaskResult::OUTCOME_RETRYABLE);
        result.mutable_record()->mutable_error()->set_message(
            std::string(up.status().message()));
        session->Report(std::move(result));
        return;
      }
      MutexLock l(&mu_);
      uploaded_.insert(digest.hash());
    }
    kiln::v1::Artifact* art = result.add_artifacts();
    art->set_path(task.path());
    *art->mutable_digest() = digest;
    result.mutable_record()->set_model(task.model());
    result.mutable_record()->mutable_usage()->set_requests(1);
  }
  session->Report(std::move(result));
}

}  // namespace kiln
