#include "llm/sim/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/trace_attributes.h"
#include "common/trace_context.h"
#include "llm/sim/api_codec.h"
#include "nlohmann/json.hpp"

namespace kiln {

struct SimHttpServer::Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct SimHttpServer::Conn {
  uint64_t id = 0;
  int fd = -1;
  std::string in;
  std::string out;
  // A response in progress: pieces due at real times, then how it ends.
  bool busy = false;
  std::deque<std::pair<MonotonicTime, std::string>> pending;
  bool drop_at_end = false;   // close instead of finishing
  bool stalled = false;       // the close is a stall's end
  bool streaming = false;
  bool close_after = false;   // the client asked for Connection: close
  bool want_write = false;
  bool api = false;          // the response in progress answers an API call (200)
  bool served_api = false;   // the connection has served an API call
  uint64_t gen = 0;
};

namespace {

using json = nlohmann::json;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 411: return "Length Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 529: return "Overloaded";
    default: return "Unknown";
  }
}

std::string Head(int status, const std::string& content_type,
                 const std::map<std::string, std::string>& extra,
                 int64_t content_length, bool close) {
  std::string h = absl::StrCat("HTTP/1.1 ", status, " ", Reason(status), "\r\n",
                               "Content-Type: ", content_type, "\r\n");
  for (const auto& [k, v] : extra) absl::StrAppend(&h, k, ": ", v, "\r\n");
  if (content_length >= 0) {
    absl::StrAppend(&h, "Content-Length: ", content_length, "\r\n");
  } else {
    h += "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
  }
  if (close) h += "Connection: close\r\n";
  h += "\r\n";
  return h;
}

std::string Chunk(absl::string_view data) {
  return absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n");
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

}  // namespace

SimHttpServer::SimHttpServer(SimulatedModel* llm, SimHttpServerOptions options)
    : llm_(llm), options_(std::move(options)), origin_(RealClock()->MonotonicNow()) {}

SimHttpServer::~SimHttpServer() { Stop(); }

MonotonicTime SimHttpServer::SimNow() const {
  return origin_ + (RealClock()->MonotonicNow() - origin_) * options_.time_scale +
         skipped_;
}

MonotonicTime SimHttpServer::RealAt(MonotonicTime sim) const {
  return origin_ + (sim - skipped_ - origin_) / options_.time_scale;
}

absl::Status SimHttpServer::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(options_.port));
  if (inet_pton(AF_INET, options_.host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host: \"", options_.host, "\" is not an IPv4 address"));
  }
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.host, ":",
                                               options_.port, ": ", strerror(errno)));
  }
  if (listen(listen_fd_, 4096) != 0) {
    return absl::UnavailableError(absl::StrCat("listen: ", strerror(errno)));
  }
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  SetNonBlocking(listen_fd_);
  epoll_fd_ = epoll_create1(0);
  wake_fd_ = eventfd(0, EFD_NONBLOCK);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;  // the listener
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.u64 = UINT64_MAX;  // the wake-up
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void SimHttpServer::Stop() {
  if (!thread_.joinable()) return;
  stop_ = true;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  while (!conns_.empty()) Close(conns_.begin()->first);
  close(listen_fd_);
  close(epoll_fd_);
  close(wake_fd_);
}

SimHttpStats SimHttpServer::stats() const {
  SimHttpStats s;
  s.connections_accepted = accepted_;
  s.connections_open = open_;
  s.api_connections = api_connections_;
  s.requests = requests_;
  s.streams_active = streams_;
  s.completed = completed_;
  s.rate_limited = rate_limited_;
  s.server_errors = server_errors_;
  s.stalls = stalls_;
  s.drops = drops_;
  s.client_errors = client_errors_;
  s.last_retry_after_ms = last_retry_after_ms_;
  return s;
}

void SimHttpServer::Loop() {
  std::vector<epoll_event> events(1024);
  while (!stop_) {
    int timeout_ms = 1000;
    if (!timers_.empty()) {
      const absl::Duration d = timers_.top().at - RealClock()->MonotonicNow();
      timeout_ms = static_cast<int>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1))), 0, 1000));
    }
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                             timeout_ms);
    for (int i = 0; i < n; ++i) {
      const uint64_t key = events[i].data.u64;
      if (key == 0) {
        Accept();
        continue;
      }
      if (key == UINT64_MAX) continue;
      auto it = conns_.find(key);
      if (it == conns_.end()) continue;
      Conn& c = *it->second;
      if (events[i].events & EPOLLOUT) {
        Flush(c);
        if (conns_.find(key) == conns_.end()) continue;
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) OnReadable(c);
    }
    const MonotonicTime now = RealClock()->MonotonicNow();
    while (!timers_.empty() && timers_.top().at <= now) {
      const Timer t = timers_.top();
      timers_.pop();
      auto it = conns_.find(t.conn);
      if (it != conns_.end() && it->second->gen == t.gen) Pump(*it->second);
    }
  }
}

void SimHttpServer::Accept() {
  while (true) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK);
    if (fd < 0) return;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->id = next_conn_++;
    c->fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_[c->id] = std::move(c);
    ++accepted_;
    ++open_;
  }
}

void SimHttpServer::Close(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (c.busy && c.streaming) --streams_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
  close(c.fd);
  conns_.erase(it);
  --open_;
}

void SimHttpServer::OnReadable(Conn& c) {
  char buf[65536];
  while (true) {
    const ssize_t n = read(c.fd, buf, sizeof(buf));
    if (n > 0) {
      c.in.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      Close(c.id);  // the client went away (mid-stream too)
      return;
    }
    if (errno == EINTR) continue;
    break;
  }
  TryParse(c);
}

void SimHttpServer::TryParse(Conn& c) {
  if (c.busy) return;
  const size_t end = c.in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c.in.size() > (1 << 20)) Close(c.id);
    return;
  }
  Request req;
  std::vector<absl::string_view> lines =
      absl::StrSplit(absl::string_view(c.in).substr(0, end), "\r\n");
  std::vector<absl::string_view> first = absl::StrSplit(lines[0], ' ');
  if (first.size() < 3) {
    Close(c.id);
    return;
  }
  req.method = std::string(first[0]);
  req.path = std::string(first[1].substr(0, first[1].find('?')));
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    req.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  size_t length = 0;
  if (auto it = req.headers.find("content-length"); it != req.headers.end()) {
    if (!absl::SimpleAtoi(it->second, &length)) {
      Close(c.id);
      return;
    }
  } else if (req.headers.count("transfer-encoding")) {
    c.busy = true;
    c.close_after = true;
    const std::string body = R"({"error":{"message":"send a Content-Length"}})";
    c.pending.emplace_back(RealClock()->MonotonicNow(),
                           Head(411, "application/json", {}, body.size(), true) + body);
    Pump(c);
    return;
  }
  if (c.in.size() < end + 4 + length) return;  // body still arriving
  req.body = c.in.substr(end + 4, length);
  c.in.erase(0, end + 4 + length);
  auto conn_it = req.headers.find("connection");
  c.close_after = conn_it != req.headers.end() &&
                  absl::AsciiStrToLower(conn_it->second) == "close";
  Handle(c, req);
}

void SimHttpServer::Handle(Conn& c, const Request& req) {
  c.busy = true;
  c.api = false;
  c.streaming = false;
  c.drop_at_end = false;
  c.stalled = false;
  const MonotonicTime now_real = RealClock()->MonotonicNow();
  auto reply = [&](int status, const std::string& type, const std::string& body,
                   const std::map<std::string, std::string>& headers = {}) {
    c.pending.emplace_back(
        now_real, Head(status, type, headers, static_cast<int64_t>(body.size()),
                       c.close_after) + body);
  };
  auto error = [&](const ApiError& e) {
    c.api = false;  // `completed` counts answers, not errors
    if (e.http_status == 429) {
      ++rate_limited_;
    } else if (e.http_status >= 500) {
      ++server_errors_;
    } else {
      ++client_errors_;
    }
    reply(e.http_status, "application/json", e.body, e.headers);
  };

  const bool openai = req.path == "/v1/chat/completions" || req.path == "/chat/completions";
  const bool anthropic = req.path == "/v1/messages";
  if (req.method == "GET" && req.path == "/healthz") {
    reply(200, "text/plain", "ok\n");
  } else if (req.method == "GET" && req.path == "/sim/stats") {
    const SimHttpStats s = stats();
    reply(200, "application/json",
          json{{"connections_accepted", s.connections_accepted},
               {"connections_open", s.connections_open},
               {"api_connections", s.api_connections},
               {"requests", s.requests},
               {"streams_active", s.streams_active},
               {"completed", s.completed},
               {"rate_limited", s.rate_limited},
               {"server_errors", s.server_errors},
               {"stalls", s.stalls},
               {"drops", s.drops},
               {"client_errors", s.client_errors},
               {"last_retry_after_ms", s.last_retry_after_ms}}
              .dump());
  } else if (req.method == "POST" && req.path == "/sim/advance") {
    // Moves the simulated clock forward (cache TTLs, rate-limit windows)
    // without waiting; for tests.
    const json j = json::parse(req.body, nullptr, false);
    const double seconds = j.is_object() ? j.value("seconds", 0.0) : 0.0;
    if (seconds <= 0) {
      ++client_errors_;
      reply(400, "application/json", R"({"error":{"message":"seconds: must be positive"}})");
    } else {
      skipped_ += absl::Seconds(seconds);
      reply(200, "application/json", json{{"advanced_seconds", seconds}}.dump());
    }
  } else if (req.method == "GET" && (req.path == "/v1/models" || req.path == "/models")) {
    json data = json::array();
    for (const std::string& name : llm_->models().Names()) {
      data.push_back({{"id", name},
                      {"object", "model"},
                      {"created", 0},
                      {"owned_by", llm_->models().Find(name)->provider}});
    }
    reply(200, "application/json", json{{"object", "list"}, {"data", data}}.dump());
  } else if ((openai || anthropic) && req.method != "POST") {
    error(openai ? OpenAiError(405, "use POST", "invalid_request_error", "")
                 : AnthropicError(405, "invalid_request_error", "use POST"));
  } else if (openai || anthropic) {
    // Counted: API calls only, not the simulator's own endpoints.
    ++requests_;
    c.api = true;
    if (!c.served_api) {
      c.served_api = true;
      ++api_connections_;
    }
    auto header = [&](const char* name) {
      auto it = req.headers.find(name);
      return it == req.headers.end() ? std::string() : it->second;
    };
    if (!options_.api_key.empty()) {
      const bool ok = header("authorization") == "Bearer " + options_.api_key ||
                      header("x-api-key") == options_.api_key;
      if (!ok) {
        error(openai ? OpenAiError(401, "Incorrect API key provided.",
                                   "invalid_request_error", "invalid_api_key")
                     : AnthropicError(401, "authentication_error", "invalid x-api-key"));
        Pump(c);
        return;
      }
    }
    absl::StatusOr<ApiRequest> parsed =
        openai ? ParseOpenAiRequest(req.body) : ParseAnthropicRequest(req.body);
    if (!parsed.ok()) {
      error(openai ? OpenAiError(400, std::string(parsed.status().message()),
                                 "invalid_request_error", "")
                   : AnthropicError(400, "invalid_request_error",
                                    std::string(parsed.status().message())));
      Pump(c);
      return;
    }
    const std::string model = parsed->prompt.model();
    // OpenAI's reasoning models refuse the older cap and sampling settings.
    if (const ModelProfile* p = llm_->models().FindByApiModel(model);
        openai && p != nullptr && p->reasoning) {
      std::string refusal;
      if (parsed->max_tokens_field == "max_tokens") {
        refusal =
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.";
      } else if (parsed->prompt.sampling().has_temperature() &&
                 parsed->prompt.sampling().temperature() != 1) {
        refusal = absl::StrCat("Unsupported value: 'temperature' does not support ",
                               parsed->prompt.sampling().temperature(),
                               " with this model. Only the default (1) value is supported.");
      }
      if (!refusal.empty()) {
        error(OpenAiError(400, refusal, "invalid_request_error",
                          parsed->max_tokens_field == "max_tokens" ? "unsupported_parameter"
                                                                   : "unsupported_value"));
        Pump(c);
        return;
      }
    }
    // The server span of a traced call (the caller's llm.request is its
    // parent): from arrival to the planned last byte.
    Span span;
    if (options_.tracer != nullptr) {
      if (absl::StatusOr<TraceContext> parent = ParseTraceparent(header("traceparent"));
          parent.ok()) {
        // Named by the profile it simulates (the client's llm.request carries
        // the same name); gen_ai.request.model is the id as received.
        const ModelProfile* profile = llm_->models().FindByApiModel(model);
        span = options_.tracer->StartSpan(
            absl::StrCat("chat ", profile != nullptr ? profile->name : model), *parent,
            absl::Now(), SpanKind::kServer);
        span.SetString("gen_ai.operation.name", "chat")
            .SetString("gen_ai.system", openai ? "openai" : "anthropic")
            .SetString("gen_ai.request.model", model)
            .SetString("url.path", req.path);
      }
    }
    auto end_span = [&span](int status, absl::string_view error, absl::Time end) {
      span.SetInt("http.response.status_code", status);
      if (!error.empty()) span.SetError(absl::StrCat(status), error, end);
      span.End(end);
    };
    absl::StatusOr<SimAnswer> answer =
        llm_->Respond(parsed->prompt, parsed->cache_points, SimNow());
    if (!answer.ok()) {
      const std::string msg(answer.status().message());
      const int code = answer.status().code() == absl::StatusCode::kNotFound ? 404 : 400;
      error(openai ? OpenAiError(code,
                                 code == 404 ? absl::StrCat("The model `", model,
                                                            "` does not exist or you do "
                                                            "not have access to it.")
                                             : msg,
                                 "invalid_request_error",
                                 code == 404 ? "model_not_found" : "")
                   : AnthropicError(code,
                                    code == 404 ? "not_found_error" : "invalid_request_error",
                                    code == 404 ? absl::StrCat("model: ", model) : msg));
      end_span(code, msg, absl::Now());
      Pump(c);
      return;
    }
    const SimResponse& r = answer->response;
    const std::string request_id = "req_" + answer->request_id;
    if (r.rate_limited) {
      const absl::Duration real = r.retry_after / options_.time_scale;
      ApiError e = openai
                       ? OpenAiError(429,
                                     absl::StrCat("Rate limit reached for ", model,
                                                  ". Please try again in ",
                                                  absl::FormatDuration(real), "."),
                                     "requests", "rate_limit_exceeded")
                       : AnthropicError(429, "rate_limit_error",
                                        absl::StrCat("Number of requests has exceeded "
                                                     "your rate limit for ",
                                                     model, "."));
      e.headers["retry-after"] =
          absl::StrCat(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(
                                                absl::ToDoubleSeconds(real)))));
      e.headers["retry-after-ms"] = absl::StrCat(absl::ToInt64Milliseconds(real));
      last_retry_after_ms_ = absl::ToInt64Milliseconds(real);
      error(e);
      end_span(429, "rate limited", absl::Now());
      Pump(c);
      return;
    }
    if (r.fault == SimFault::kServerError) {
      error(openai ? OpenAiError(500,
                                 "The server had an error while processing your "
                                 "request. Sorry about that!",
                                 "server_error", "")
                   : AnthropicError(529, "overloaded_error", "Overloaded"));
      end_span(openai ? 500 : 529, "injected server error", absl::Now());
      Pump(c);
      return;
    }
    if (span.recording()) {
      kiln::v1::Usage usage = ToUsage(r.usage);
      usage.set_requests(1);
      SetUsageAttributes(usage, r.cost_usd, &span);
      // The id in the body, as the client reads it.
      span.SetString("gen_ai.response.id",
                     absl::StrCat(openai ? "chatcmpl-" : "msg_", answer->request_id))
          .SetBool("kiln.llmsim.stream", parsed->stream);
    }
    const absl::Duration to_done = std::max(absl::ZeroDuration(), RealAt(r.done_at) - now_real);
    if (r.fault == SimFault::kNone) {
      end_span(200, "", absl::Now() + to_done);
    } else {  // the stream is cut part way
      end_span(200, r.fault == SimFault::kStall ? "injected stall" : "injected drop",
               absl::Now() + to_done * r.fault_fraction);
    }
    const std::map<std::string, std::string> ids = {
        {openai ? "x-request-id" : "request-id", request_id}};
    const int64_t created = absl::ToUnixSeconds(absl::Now());
    // Where an injected stall or drop cuts the answer.
    const size_t cut =
        r.fault == SimFault::kNone
            ? SIZE_MAX
            : static_cast<size_t>(static_cast<double>(answer->chunks.size()) *
                                  r.fault_fraction);
    if (parsed->stream) {
      c.streaming = true;
      ++streams_;
      const StreamPlan plan = openai ? OpenAiStreamPlan(*answer, model, created,
                                                        parsed->include_usage)
                                     : AnthropicStreamPlan(*answer, model);
      c.pending.emplace_back(now_real,
                             Head(200, "text/event-stream", ids, -1, c.close_after));
      const MonotonicTime first = RealAt(r.first_token_at);
      std::string head;
      for (const std::string& e : plan.head) head += e;
      c.pending.emplace_back(first, Chunk(head));
      for (size_t i = 0; i < plan.chunk_events.size() && i < cut; ++i) {
        c.pending.emplace_back(RealAt(answer->chunks[i].first), Chunk(plan.chunk_events[i]));
      }
      if (cut == SIZE_MAX) {
        std::string tail;
        for (const std::string& e : plan.tail) tail += e;
        c.pending.emplace_back(RealAt(r.done_at), Chunk(tail) + "0\r\n\r\n");
      }
    } else if (cut == SIZE_MAX) {
      const std::string body = openai ? OpenAiResponseBody(*answer, model, created)
                                      : AnthropicResponseBody(*answer, model);
      c.pending.emplace_back(RealAt(r.done_at),
                             Head(200, "application/json", ids,
                                  static_cast<int64_t>(body.size()), c.close_after) +
                                 body);
    }
    if (cut != SIZE_MAX) {
      c.drop_at_end = true;
      if (r.fault == SimFault::kStall) {
        c.stalled = true;
        ++stalls_;
        const MonotonicTime last = c.pending.empty() ? now_real : c.pending.back().first;
        c.pending.emplace_back(last + options_.max_stall, "");
      } else {
        ++drops_;
      }
    }
  } else {
    ++client_errors_;
    reply(404, "application/json",
          json{{"error", {{"message", "no route for " + req.method + " " + req.path}}}}
              .dump());
  }
  Pump(c);
}

void SimHttpServer::Pump(Conn& c) {
  const MonotonicTime now = RealClock()->MonotonicNow();
  while (!c.pending.empty() && c.pending.front().first <= now) {
    c.out += c.pending.front().second;
    c.pending.pop_front();
  }
  const uint64_t id = c.id;
  Flush(c);
  auto it = conns_.find(id);
  if (it == conns_.end()) return;  // closed while writing
  if (!c.pending.empty()) {
    Schedule(c);
    return;
  }
  if (!c.busy) return;
  if (c.drop_at_end) {
    Close(id);
    return;
  }
  if (c.streaming) --streams_;
  if (c.api) ++completed_;
  c.busy = false;
  c.streaming = false;
  if (c.close_after) {
    if (c.out.empty()) Close(id);
    return;  // closed once flushed (Flush)
  }
  TryParse(c);  // a pipelined request
}

void SimHttpServer::Schedule(Conn& c) {
  ++c.gen;
  timers_.push(Timer{c.pending.front().first, c.id, c.gen});
}

void SimHttpServer::Flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c.want_write) {
        c.want_write = true;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
        ev.data.u64 = c.id;
        epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
      }
      return;
    }
    Close(c.id);
    return;
  }
  if (c.want_write) {
    c.want_write = false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c.id;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  }
  if (!c.busy && c.close_after && c.pending.empty()) Close(c.id);
}

}  // namespace kiln
