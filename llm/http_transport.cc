#include "llm/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"

namespace kiln {

struct HttpTransport::Transfer {
  uint64_t id = 0;
  HttpTransport* owner = nullptr;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  std::shared_ptr<HttpHandler> handler;
  std::map<std::string, std::string> response_headers;
  bool responded = false;
  bool aborted = false;

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
  }

  void Respond() {
    if (responded) return;
    responded = true;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    handler->OnResponse(static_cast<int>(status), response_headers);
  }
};

namespace {
CURLM* Multi(void* m) { return static_cast<CURLM*>(m); }

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}
}  // namespace

HttpTransport::HttpTransport() : HttpTransport(Options()) {}

HttpTransport::HttpTransport(Options options) : options_(options) {
  GlobalInit();
  multi_ = curl_multi_init();
  curl_multi_setopt(Multi(multi_), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(Multi(multi_), CURLMOPT_MAXCONNECTS,
                    options_.max_cached_connections);
  if (options_.max_host_connections > 0) {
    curl_multi_setopt(Multi(multi_), CURLMOPT_MAX_HOST_CONNECTIONS,
                      options_.max_host_connections);
  }
  thread_ = std::thread([this] { Run(); });
}

HttpTransport::~HttpTransport() {
  {
    MutexLock l(&mu_);
    stop_ = true;
  }
  curl_multi_wakeup(Multi(multi_));
  thread_.join();
  for (auto& [id, t] : transfers_) {
    curl_multi_remove_handle(Multi(multi_), t->easy);
  }
  transfers_.clear();
  curl_multi_cleanup(Multi(multi_));
}

bool HttpTransport::OnLoopThread() const {
  return std::this_thread::get_id() == loop_id_;
}

MonotonicTime HttpTransport::Now() const { return RealClock()->MonotonicNow(); }

void HttpTransport::Post(std::function<void()> fn) {
  {
    MutexLock l(&mu_);
    posted_.push_back(std::move(fn));
  }
  curl_multi_wakeup(Multi(multi_));
}

void HttpTransport::RunAfter(absl::Duration delay, std::function<void()> fn) {
  if (delay <= absl::ZeroDuration()) {
    Post(std::move(fn));
    return;
  }
  {
    MutexLock l(&mu_);
    timers_.push(Timer{Now() + delay, timer_seq_++, std::move(fn)});
  }
  curl_multi_wakeup(Multi(multi_));
}

uint64_t HttpTransport::Send(HttpRequest request,
                             std::shared_ptr<HttpHandler> handler) {
  const uint64_t id = next_id_.fetch_add(1);
  ++in_flight_;
  auto shared = std::make_shared<std::pair<HttpRequest, std::shared_ptr<HttpHandler>>>(
      std::move(request), std::move(handler));
  Post([this, id, shared] {
    Start(id, std::move(shared->first), std::move(shared->second));
  });
  return id;
}

void HttpTransport::Abort(uint64_t id) {
  if (OnLoopThread()) {
    // Possibly from inside this transfer's own callback, where curl forbids
    // removing it: silence it now, remove it on the next turn.
    auto it = transfers_.find(id);
    if (it != transfers_.end()) it->second->aborted = true;
  }
  Post([this, id] { Remove(id, false, absl::CancelledError("aborted")); });
}

size_t HttpTransport::HeaderCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {
    t->response_headers.clear();  // a new response (after 100 Continue)
  } else if (size_t colon = line.find(':'); colon != absl::string_view::npos) {
    t->response_headers[absl::AsciiStrToLower(line.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return size * n;
}

size_t HttpTransport::WriteCallback(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (t->aborted) return 0;  // makes curl stop the transfer
  t->Respond();
  if (t->aborted) return 0;
  t->handler->OnBody(absl::string_view(data, size * n));
  return size * n;
}

void HttpTransport::Start(uint64_t id, HttpRequest request,
                          std::shared_ptr<HttpHandler> handler) {
  auto t = std::make_unique<Transfer>();
  t->id = id;
  t->owner = this;
  t->request = std::move(request);
  t->handler = std::move(handler);
  t->easy = curl_easy_init();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  if (absl::StartsWith(t->request.url, "https://")) {
    // Wait for a connection that may turn out to speak HTTP/2 rather than
    // open another; over plain HTTP/1.1 that would serialize the streams.
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  }
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(t->request.connect_timeout)));
  if (t->request.method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
  } else if (t->request.method != "GET") {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->request.method.c_str());
  }
  // No "Expect: 100-continue" round trip for large prompts.
  t->headers = curl_slist_append(t->headers, "Expect:");
  for (const std::string& h : t->request.headers) {
    t->headers = curl_slist_append(t->headers, h.c_str());
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpTransport::WriteCallback);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpTransport::HeaderCallback);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_multi_add_handle(Multi(multi_), e);
  transfers_[id] = std::move(t);
}

void HttpTransport::Remove(uint64_t id, bool notify, absl::Status status) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  curl_multi_remove_handle(Multi(multi_), t->easy);
  --in_flight_;
  if (notify && !t->aborted) {
    if (status.ok() || t->responded) t->Respond();
    t->handler->OnDone(std::move(status));
  }
}

void HttpTransport::Drain() {
  int queued = 0;
  while (CURLMsg* msg = curl_multi_info_read(Multi(multi_), &queued)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    long opened = 0;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &opened);
    connections_opened_ += opened;
    const CURLcode code = msg->data.result;
    absl::Status status;
    if (code == CURLE_OPERATION_TIMEDOUT) {
      status = absl::DeadlineExceededError(
          absl::StrCat("connecting to ", t->request.url, " timed out"));
    } else if (code != CURLE_OK) {
      status = absl::UnavailableError(absl::StrCat(
          "HTTP request to ", t->request.url, " failed: ", curl_easy_strerror(code)));
    }
    Remove(t->id, true, std::move(status));
  }
}

void HttpTransport::Run() {
  loop_id_ = std::this_thread::get_id();
  while (true) {
    std::vector<std::function<void()>> ready;
    absl::Duration wait = absl::Seconds(1);
    {
      MutexLock l(&mu_);
      if (stop_) return;
      ready.swap(posted_);
      const MonotonicTime now = Now();
      while (!timers_.empty() && timers_.top().at <= now) {
        ready.push_back(std::move(const_cast<Timer&>(timers_.top()).fn));
        timers_.pop();
      }
      if (!timers_.empty()) wait = std::min(wait, timers_.top().at - now);
    }
    for (auto& fn : ready) fn();

    int running = 0;
    curl_multi_perform(Multi(multi_), &running);
    Drain();

    {
      MutexLock l(&mu_);
      if (!posted_.empty()) continue;
    }
    long curl_ms = -1;
    curl_multi_timeout(Multi(multi_), &curl_ms);
    if (curl_ms >= 0) wait = std::min(wait, absl::Milliseconds(curl_ms));
    const int ms = static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)))));
    curl_multi_poll(Multi(multi_), nullptr, 0, ms, nullptr);
  }
}

}  // namespace kiln
