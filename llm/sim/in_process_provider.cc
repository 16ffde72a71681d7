#include "llm/sim/in_process_provider.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "llm/prompt.h"

namespace kiln {

// One simulated HTTP request: its chunks are delivered one timer at a time
// until it ends, fails or is aborted.
class SimProvider::SimAttempt : public Attempt,
                                public std::enable_shared_from_this<SimAttempt> {
 public:
  SimAttempt(SimProvider* owner, std::shared_ptr<AttemptSink> sink)
      : owner_(owner), sink_(std::move(sink)) {}

  void Run(const kiln::v1::Prompt& prompt) {
    const MonotonicTime now = owner_->SimNow();
    absl::StatusOr<SimAnswer> answer =
        owner_->llm_.Respond(prompt, owner_->llm_.CachePointsFor(prompt), now);
    if (!answer.ok()) {
      Fail(absl::ZeroDuration(),
           HttpAttemptError(answer.status().code() == absl::StatusCode::kNotFound
                                ? 404
                                : 400,
                            answer.status().message(), false,
                            absl::Seconds(-1)));
      return;
    }
    answer_ = *std::move(answer);
    const SimResponse& r = answer_.response;
    if (r.rate_limited) {
      Fail(absl::ZeroDuration(),
           HttpAttemptError(429, "rate limit reached for requests", false,
                            owner_->ToReal(r.retry_after)));
      return;
    }
    if (r.fault == SimFault::kServerError) {
      Fail(absl::ZeroDuration(),
           HttpAttemptError(500, "the server had an error while processing "
                                 "your request (injected)",
                            false, absl::Seconds(-1)));
      return;
    }
    if (r.fault != SimFault::kNone) {
      cut_ = static_cast<size_t>(static_cast<double>(answer_.chunks.size()) *
                                 r.fault_fraction);
    }
    Next();
  }

  void Abort() override { aborted_ = true; }

 private:
  void Fail(absl::Duration after, AttemptError e) {
    std::weak_ptr<SimAttempt> weak = weak_from_this();
    owner_->loop_.RunAfter(after, [weak, e = std::move(e)]() mutable {
      auto self = weak.lock();
      if (self && !self->aborted_) self->sink_->OnFailure(std::move(e));
    });
  }

  // Schedules the delivery of chunk `next_`, or the end.
  void Next() {
    const SimResponse& r = answer_.response;
    if (next_ == cut_) {
      if (r.fault == SimFault::kDrop) {
        AttemptError e;
        e.status = absl::UnavailableError("the connection was closed mid-stream (injected)");
        e.retryable = true;
        e.outcome = "dropped";
        // The prompt was read and billed, and what streamed so far.
        e.usage = r.usage;
        e.usage.output = 0;
        for (size_t i = 0; i < next_; ++i) e.usage.output += EstimateTokens(answer_.chunks[i].second);
        e.usage.reasoning = std::min(e.usage.reasoning, e.usage.output);
        e.response_id = absl::StrCat("sim-", answer_.request_id);
        Fail(absl::ZeroDuration(), std::move(e));
      }
      return;  // kStall: nothing more arrives; the idle timeout ends it
    }
    const MonotonicTime due = next_ < answer_.chunks.size()
                                  ? answer_.chunks[next_].first
                                  : r.done_at;
    std::weak_ptr<SimAttempt> weak = weak_from_this();
    owner_->loop_.RunAfter(owner_->ToReal(due - owner_->SimNow()), [weak] {
      auto self = weak.lock();
      if (!self || self->aborted_) return;
      self->Deliver();
    });
  }

  void Deliver() {
    if (next_ < answer_.chunks.size()) {
      sink_->OnText(answer_.chunks[next_].second);
      ++next_;
      Next();
      return;
    }
    AttemptSummary s;
    s.usage = answer_.response.usage;
    s.request_id = absl::StrCat("sim-", answer_.request_id);
    s.finish_reason = answer_.finish_reason;
    aborted_ = true;
    sink_->OnSuccess(std::move(s));
  }

  SimProvider* const owner_;
  std::shared_ptr<AttemptSink> sink_;
  SimAnswer answer_;
  size_t next_ = 0;
  size_t cut_ = static_cast<size_t>(-1);
  bool aborted_ = false;
};

namespace {
// The attempt handle the driver owns; the attempt itself lives on while its
// timers are pending (they hold weak references and stop once aborted).
class AttemptHandle : public Attempt {
 public:
  explicit AttemptHandle(std::shared_ptr<Attempt> a) : a_(std::move(a)) {}
  void Abort() override { a_->Abort(); }

 private:
  std::shared_ptr<Attempt> a_;
};
}  // namespace

SimProvider::SimProvider(const ModelCatalog* models, SimProviderOptions options,
                         Clock* clock)
    : options_(options),
      clock_(clock),
      origin_(clock->MonotonicNow()),
      llm_(models, options.sim),
      loop_(clock) {}

SimProvider::~SimProvider() = default;

MonotonicTime SimProvider::SimNow() const {
  return origin_ + (clock_->MonotonicNow() - origin_) * options_.time_scale;
}

absl::Duration SimProvider::ToReal(absl::Duration simulated) const {
  return std::max(absl::ZeroDuration(), simulated / options_.time_scale);
}

std::unique_ptr<LlmCall> SimProvider::Start(const kiln::v1::Prompt& prompt,
                                            StreamCallbacks callbacks) {
  auto shared_prompt = std::make_shared<const kiln::v1::Prompt>(prompt);
  return StartCall(&loop_, options_.retry, std::move(callbacks),
                   [this, shared_prompt](std::shared_ptr<AttemptSink> sink) {
                     auto a = std::make_shared<SimAttempt>(this, std::move(sink));
                     a->Run(*shared_prompt);
                     return std::make_unique<AttemptHandle>(a);
                   });
}

}  // namespace kiln
