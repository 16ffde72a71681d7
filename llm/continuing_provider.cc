#include "llm/continuing_provider.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/mutex.h"
#include "llm/prompt.h"

namespace kiln {
namespace {

// Whether `text` ends inside a fenced code block (an odd number of fence
// lines).
bool InsideFence(absl::string_view text) {
  int fences = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(line), "```")) ++fences;
  }
  return fences % 2 == 1;
}

}  // namespace

std::string JoinContinuation(absl::string_view partial, absl::string_view piece,
                             bool prefill) {
  std::string joined = ContinuationPartial(partial, prefill);
  if (!prefill && InsideFence(partial)) {
    absl::string_view rest = piece;
    const absl::string_view lead = absl::StripLeadingAsciiWhitespace(rest);
    if (absl::StartsWith(lead, "```")) {
      const size_t eol = lead.find('\n');
      rest = eol == absl::string_view::npos ? absl::string_view() : lead.substr(eol + 1);
      if (!joined.empty() && joined.back() != '\n') joined.push_back('\n');
    }
    absl::StrAppend(&joined, rest);
    return joined;
  }
  absl::StrAppend(&joined, piece);
  return joined;
}

// One call over its pieces. Inner callbacks run on the inner provider's
// threads, one at a time; Cancel may come from any thread.
class ContinuingProvider::Call : public LlmCall,
                                 public std::enable_shared_from_this<Call> {
 public:
  Call(ContinuingProvider* owner, const kiln::v1::Prompt& prompt, StreamCallbacks cb)
      : owner_(owner), original_(prompt), cb_(std::move(cb)) {
    const ModelProfile* p =
        owner->models_ != nullptr ? owner->models_->Find(prompt.model()) : nullptr;
    max_output_ = p != nullptr ? static_cast<int32_t>(std::min<int64_t>(
                                     p->max_output_tokens, int64_t{1} << 30))
                               : 0;
  }

  void Begin() { Launch(original_); }

  void Cancel() override {
    std::shared_ptr<LlmCall> current;
    {
      MutexLock l(&mu_);
      cancelled_ = true;
      current = inner_;
    }
    if (current) current->Cancel();
  }

 private:
  void Launch(const kiln::v1::Prompt& prompt) {
    StreamCallbacks inner;
    std::shared_ptr<Call> self = shared_from_this();
    const bool first = pieces_ == 0;
    inner.on_first_token = [self, first] {
      if (first && self->cb_.on_first_token) self->cb_.on_first_token();
    };
    inner.on_delta = [self, first](absl::string_view d) {
      // The first piece streams as it comes; a continuation arrives joined,
      // when it ends.
      if (first && self->cb_.on_delta) self->cb_.on_delta(d);
    };
    inner.on_retry = cb_.on_retry;
    inner.on_request = [self](const LlmRequestRecord& r) {
      LlmRequestRecord rec = r;
      if (rec.outcome == "cut_off" && self->MayContinue()) rec.retried = true;
      if (self->cb_.on_request) self->cb_.on_request(rec);
    };
    inner.on_done = [self](absl::StatusOr<LlmResult> r) { self->Piece(std::move(r)); };
    ++pieces_;
    std::shared_ptr<LlmCall> call = owner_->inner_->Start(prompt, std::move(inner));
    bool cancelled;
    {
      MutexLock l(&mu_);
      inner_ = call;
      cancelled = cancelled_;
    }
    if (cancelled) call->Cancel();
  }

  void Piece(absl::StatusOr<LlmResult> r) {
    if (!r.ok()) return Done(r.status());
    const bool cut = IsCutOff(r->finish_reason);
    const bool prefill = owner_->options_.prefill;
    if (pieces_ == 1) {
      result_ = *std::move(r);
      result_.cut_off = cut ? 1 : 0;
    } else {
      // The joined text starts with the partial reply as the continuation
      // prompt carried it; what follows is new.
      const size_t sent = ContinuationPartial(result_.text, prefill).size();
      result_.text = JoinContinuation(result_.text, r->text, prefill);
      if (result_.text.size() > sent && cb_.on_delta) {
        cb_.on_delta(absl::string_view(result_.text).substr(sent));
      }
      result_.usage += r->usage;
      result_.attempts += r->attempts;
      result_.rate_limited += r->rate_limited;
      result_.cut_off += cut ? 1 : 0;
      result_.timings.total += r->timings.total;
      result_.request_id = r->request_id;
      result_.http_request_id = r->http_request_id;
      result_.finish_reason = r->finish_reason;
      for (auto& req : r->requests) result_.requests.push_back(std::move(req));
    }
    if (!cut) return Done(std::move(result_));
    {
      MutexLock l(&mu_);
      if (cancelled_) return Done(absl::CancelledError("LLM call cancelled"));
    }
    if (!MayContinue()) {
      return Done(absl::OutOfRangeError(absl::StrCat(
          "output cut off at ", result_.usage.output, " tokens (", result_.finish_reason,
          ")", pieces_ > 1 ? absl::StrCat(" after ", pieces_ - 1, " continuation",
                                          pieces_ > 2 ? "s" : "")
                           : "")));
    }
    const int32_t cap = std::max(original_.max_output_tokens(), max_output_);
    Launch(ContinuationPrompt(original_, result_.text, prefill, cap));
  }

  // Whether a cut-off piece may still be continued (the requests started so
  // far are the first and its continuations).
  bool MayContinue() const { return pieces_ <= owner_->options_.max_continuations; }

  void Done(absl::StatusOr<LlmResult> r) {
    StreamCallbacks cb = std::move(cb_);
    cb_ = StreamCallbacks();
    std::shared_ptr<LlmCall> last;
    {
      MutexLock l(&mu_);
      last = std::move(inner_);
    }
    if (cb.on_done) cb.on_done(std::move(r));
  }

  ContinuingProvider* const owner_;
  const kiln::v1::Prompt original_;
  StreamCallbacks cb_;
  int32_t max_output_ = 0;
  int pieces_ = 0;  // requests started (calls of the inner provider)
  LlmResult result_;
  Mutex mu_;
  std::shared_ptr<LlmCall> inner_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

ContinuingProvider::ContinuingProvider(std::unique_ptr<Provider> inner,
                                       const ModelCatalog* models,
                                       ContinuationOptions options)
    : inner_(std::move(inner)), models_(models), options_(options) {}

std::unique_ptr<LlmCall> ContinuingProvider::Start(const kiln::v1::Prompt& prompt,
                                                   StreamCallbacks callbacks) {
  auto call = std::make_shared<Call>(this, prompt, std::move(callbacks));
  call->Begin();
  // The handle keeps the call alive; so do its inner callbacks until done.
  struct Handle : LlmCall {
    std::shared_ptr<Call> c;
    void Cancel() override { c->Cancel(); }
  };
  auto h = std::make_unique<Handle>();
  h->c = std::move(call);
  return h;
}

}  // namespace kiln
