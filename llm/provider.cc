#include "llm/provider.h"

#include <optional>
#include <utility>

#include "common/mutex.h"

namespace kiln {

bool IsCutOff(absl::string_view finish_reason) {
  return finish_reason == "length" || finish_reason == "max_tokens";
}

absl::StatusOr<LlmResult> CompleteBlocking(Provider& provider,
                                           const kiln::v1::Prompt& prompt) {
  Mutex mu;
  CondVar cv;
  std::optional<absl::StatusOr<LlmResult>> result;
  StreamCallbacks cb;
  cb.on_done = [&](absl::StatusOr<LlmResult> r) {
    MutexLock l(&mu);
    result = std::move(r);
    cv.SignalAll();
  };
  std::unique_ptr<LlmCall> call = provider.Start(prompt, std::move(cb));
  MutexLock l(&mu);
  while (!result.has_value()) cv.Wait(&mu);
  return std::move(*result);
}

}  // namespace kiln
