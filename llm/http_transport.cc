#include "llm/http_transport.h"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

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
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  curl_multi_setopt(Multi(multi_), CURLMOPT_SOCKETFUNCTION, &HttpTransport::SocketCallback);
  curl_multi_setopt(Multi(multi_), CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(Multi(multi_), CURLMOPT_TIMERFUNCTION, &HttpTransport::TimerCallback);
  curl_multi_setopt(Multi(multi_), CURLMOPT_TIMERDATA, this);
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
  Wake();
  thread_.join();
  for (auto& [id, t] : transfers_) {
    curl_multi_remove_handle(Multi(multi_), t->easy);
  }
  transfers_.clear();
  curl_multi_cleanup(Multi(multi_));
  close(epoll_fd_);
  close(wake_fd_);
}

void HttpTransport::Wake() {
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

int HttpTransport::SocketCallback(void* /*easy*/, int fd, int what, void* self,
                                  void* socketp) {
  auto* t = static_cast<HttpTransport*>(self);
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(t->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    return 0;
  }
  epoll_event ev{};
  ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
  ev.data.fd = fd;
  if (socketp == nullptr) {
    if (epoll_ctl(t->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      epoll_ctl(t->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
    }
    curl_multi_assign(Multi(t->multi_), fd, t);  // marks it registered
  } else {
    epoll_ctl(t->epoll_fd_, EPOLL_CTL_MOD, fd, &ev);
  }
  return 0;
}

int HttpTransport::TimerCallback(void* /*multi*/, long timeout_ms, void* self) {
  auto* t = static_cast<HttpTransport*>(self);
  t->curl_deadline_ = timeout_ms < 0 ? MonotonicTime::Infinite()
                                     : t->Now() + absl::Milliseconds(timeout_ms);
  return 0;
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
  Wake();
}

void HttpTransport::RunAfter(absl::Duration delay, std::function<void()> fn) {
  if (delay <= absl::ZeroDuration()) {
    Post(std::move(fn));
    return;
  }
  {
    MutexLock l(&mu_);
    timers_.Push(Now() + delay, std::move(fn));
  }
  Wake();
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
  std::vector<epoll_event> events(256);
  int running = 0;
  while (true) {
    std::vector<std::function<void()>> ready;
    absl::Duration wait = absl::Seconds(1);
    {
      MutexLock l(&mu_);
      if (stop_) return;
      ready.swap(posted_);
      const MonotonicTime now = Now();
      for (auto& fn : timers_.PopDue(now)) ready.push_back(std::move(fn));
      if (!timers_.empty()) wait = std::min(wait, timers_.next() - now);
    }
    for (auto& fn : ready) fn();
    {
      MutexLock l(&mu_);
      if (!posted_.empty()) wait = absl::ZeroDuration();
    }
    if (curl_deadline_ != MonotonicTime::Infinite()) {
      wait = std::min(wait, curl_deadline_ - Now());
    }
    const int ms = static_cast<int>(std::max<int64_t>(
        0, absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1)))));
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), ms);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        uint64_t drained = 0;
        (void)!read(wake_fd_, &drained, sizeof(drained));
        continue;
      }
      int flags = 0;
      if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
      if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
      if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
      curl_multi_socket_action(Multi(multi_), fd, flags, &running);
    }
    if (curl_deadline_ <= Now()) {
      curl_deadline_ = MonotonicTime::Infinite();
      curl_multi_socket_action(Multi(multi_), CURL_SOCKET_TIMEOUT, 0, &running);
    }
    Drain();
  }
}

}  // namespace kiln
