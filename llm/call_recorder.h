// Test helper: records one LLM call's callbacks and waits for its end.
#ifndef KILN_LLM_CALL_RECORDER_H_
#define KILN_LLM_CALL_RECORDER_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "llm/provider.h"

namespace kiln {

struct CallRecorder {
  Mutex mu;
  CondVar cv;
  // "first_token", one "delta" per delta, then "done".
  std::vector<std::string> events;
  std::vector<std::pair<absl::Status, absl::Duration>> retries;
  // Every HTTP request as it ended (on_request).
  std::vector<LlmRequestRecord> requests;
  // The text of the deltas, joined.
  std::string streamed;
  std::optional<absl::StatusOr<LlmResult>> result;
  // Runs after the first token is recorded (e.g. to cancel the call).
  std::function<void()> on_first;

  StreamCallbacks Callbacks() {
    StreamCallbacks cb;
    cb.on_first_token = [this] {
      {
        MutexLock l(&mu);
        events.push_back("first_token");
      }
      if (on_first) on_first();
    };
    cb.on_delta = [this](absl::string_view d) {
      MutexLock l(&mu);
      events.push_back("delta");
      streamed.append(d.data(), d.size());
    };
    cb.on_request = [this](const LlmRequestRecord& r) {
      MutexLock l(&mu);
      requests.push_back(r);
    };
    cb.on_retry = [this](const absl::Status& s, absl::Duration d) {
      MutexLock l(&mu);
      retries.emplace_back(s, d);
    };
    cb.on_done = [this](absl::StatusOr<LlmResult> r) {
      MutexLock l(&mu);
      events.push_back("done");
      result = std::move(r);
      cv.SignalAll();
    };
    return cb;
  }

  absl::StatusOr<LlmResult> Wait() {
    MutexLock l(&mu);
    while (!result.has_value()) cv.Wait(&mu);
    return *result;
  }
};

}  // namespace kiln

#endif  // KILN_LLM_CALL_RECORDER_H_
