// HTTP for the provider adapters: libcurl's multi interface on one thread
// (curl_multi_socket_action over epoll, so each wake-up touches only the
// sockets that are ready), so one process holds hundreds of concurrent
// streams; connections are
// reused from curl's cache, HTTP/2 is negotiated where the server offers it
// over TLS, and requests to one host share connections (multiplexed under
// HTTP/2). The thread is also an Executor: calls' timers and callbacks run
// on it, so a call never needs a lock.
#ifndef KILN_LLM_HTTP_TRANSPORT_H_
#define KILN_LLM_HTTP_TRANSPORT_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/executor.h"
#include "common/mutex.h"
#include "common/timer_queue.h"

namespace kiln {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  // "Name: value" lines.
  std::vector<std::string> headers;
  std::string body;
  absl::Duration connect_timeout = absl::Seconds(10);
};

// What happens to one request, on the transport's thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Once, before any body: the final status and the headers, names
  // lower-cased.
  virtual void OnResponse(int status,
                          const std::map<std::string, std::string>& headers) = 0;
  virtual void OnBody(absl::string_view bytes) = 0;
  // Last. OK when the whole response arrived; UNAVAILABLE for connection
  // errors and cut-off responses, DEADLINE_EXCEEDED for a connect timeout.
  virtual void OnDone(absl::Status status) = 0;
};

class HttpTransport : public Executor {
 public:
  struct Options {
    // Connections kept open for reuse.
    long max_cached_connections = 1024;
    // Per host; 0: unlimited (transfers beyond it wait inside curl).
    long max_host_connections = 0;
  };
  HttpTransport();
  explicit HttpTransport(Options options);
  // Aborts what is in flight (no callbacks) and stops the thread.
  ~HttpTransport() override;

  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Starts `request`. Thread-safe. Returns an id for Abort.
  uint64_t Send(HttpRequest request, std::shared_ptr<HttpHandler> handler);
  // Stops a request and closes its connection; its handler gets no more
  // callbacks. Thread-safe; unknown or finished ids are ignored.
  void Abort(uint64_t id);

  // Executor: closures run on the transport's thread.
  void Post(std::function<void()> fn) override;
  void RunAfter(absl::Duration delay, std::function<void()> fn) override;
  MonotonicTime Now() const override;

  // New connections opened so far (a measure of reuse) and requests in
  // flight.
  int64_t connections_opened() const { return connections_opened_.load(); }
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  struct Transfer;
  void Run();
  void Start(uint64_t id, HttpRequest request, std::shared_ptr<HttpHandler> handler);
  void Remove(uint64_t id, bool notify, absl::Status status);
  void Drain();
  bool OnLoopThread() const;
  void Wake();
  static size_t WriteCallback(char* data, size_t size, size_t n, void* user);
  static size_t HeaderCallback(char* data, size_t size, size_t n, void* user);
  static int SocketCallback(void* easy, int fd, int what, void* self, void* socketp);
  static int TimerCallback(void* multi, long timeout_ms, void* self);

  const Options options_;
  void* multi_ = nullptr;  // CURLM*
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  // When curl wants curl_multi_socket_action(CURL_SOCKET_TIMEOUT) (loop
  // thread only).
  MonotonicTime curl_deadline_ = MonotonicTime::Infinite();
  std::thread thread_;
  std::thread::id loop_id_;

  Mutex mu_;
  std::vector<std::function<void()>> posted_ ABSL_GUARDED_BY(mu_);
  TimerQueue timers_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  std::atomic<uint64_t> next_id_{1};
  std::atomic<int64_t> connections_opened_{0};
  std::atomic<int64_t> in_flight_{0};
  // Loop thread only.
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;
};

}  // namespace kiln

#endif  // KILN_LLM_HTTP_TRANSPORT_H_
