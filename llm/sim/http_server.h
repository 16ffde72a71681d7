// kiln_llmsim's HTTP server: OpenAI's POST /v1/chat/completions and
// Anthropic's POST /v1/messages, streamed (SSE over chunked HTTP/1.1) or
// not, answered by a SimulatedModel at `time_scale` times real speed. Also
// GET /v1/models, GET /healthz, GET /sim/stats (JSON counters for tests) and
// POST /sim/advance {"seconds": N} (moves the simulated clock forward, so
// tests expire cache entries without waiting).
//
// One thread with epoll: every response is a plan of byte pieces due at
// given times, so thousands of concurrent streams cost no thread each.
// Keep-alive connections serve one request after another.
#ifndef KILN_LLM_SIM_HTTP_SERVER_H_
#define KILN_LLM_SIM_HTTP_SERVER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/tracer.h"
#include "llm/sim/simulated_model.h"

namespace kiln {

struct SimHttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port
  double time_scale = 1;
  // Non-empty: requests must carry it (OpenAI: "Authorization: Bearer",
  // Anthropic: "x-api-key"); others get 401.
  std::string api_key;
  // A stalled stream is closed after this long (real time).
  absl::Duration max_stall = absl::Minutes(10);
  // Where the server span of each API call that carries a W3C traceparent
  // header goes (not owned). Null: none are recorded.
  Tracer* tracer = nullptr;
};

struct SimHttpStats {
  int64_t connections_accepted = 0;
  int64_t connections_open = 0;
  // Connections that carried API calls (a measure of client reuse).
  int64_t api_connections = 0;
  // API calls (the simulator's own endpoints are not counted here).
  int64_t requests = 0;
  int64_t streams_active = 0;
  int64_t completed = 0;  // API answers (200) sent in full
  int64_t rate_limited = 0;
  int64_t server_errors = 0;
  int64_t stalls = 0;
  int64_t drops = 0;
  int64_t client_errors = 0;  // 4xx other than 429
  // The Retry-After (real time) of the latest 429.
  int64_t last_retry_after_ms = 0;
};

class SimHttpServer {
 public:
  // `llm` is not owned and must outlive the server.
  SimHttpServer(SimulatedModel* llm, SimHttpServerOptions options);
  ~SimHttpServer();

  // Binds and starts serving on a thread.
  absl::Status Start();
  // Stops serving and closes every connection. Idempotent.
  void Stop();
  int port() const { return port_; }
  SimHttpStats stats() const;

 private:
  struct Conn;
  struct Request;
  struct Timer {
    MonotonicTime at;
    uint64_t conn;
    uint64_t gen;
    bool operator>(const Timer& o) const { return at > o.at; }
  };
  void Loop();
  void Accept();
  void OnReadable(Conn& c);
  void TryParse(Conn& c);
  void Handle(Conn& c, const Request& req);
  void Flush(Conn& c);
  void Pump(Conn& c);
  void Close(uint64_t id);
  void Schedule(Conn& c);
  MonotonicTime SimNow() const;
  MonotonicTime RealAt(MonotonicTime sim) const;

  SimulatedModel* const llm_;
  const SimHttpServerOptions options_;
  const MonotonicTime origin_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  uint64_t next_conn_ = 1;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers_;

  // Counters, readable from any thread.
  std::atomic<int64_t> accepted_{0}, open_{0}, api_connections_{0}, requests_{0}, streams_{0},
      completed_{0}, rate_limited_{0}, server_errors_{0}, stalls_{0}, drops_{0},
      client_errors_{0}, last_retry_after_ms_{0};
  // Simulated time skipped by POST /sim/advance (loop thread only).
  absl::Duration skipped_;
};

}  // namespace kiln

#endif  // KILN_LLM_SIM_HTTP_SERVER_H_
