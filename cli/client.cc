#include "cli/client.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/grpc_trace.h"
#include "common/states.h"

namespace kiln {
namespace cli {
namespace {

constexpr absl::Duration kCallTimeout = absl::Seconds(30);
// Batches in FULL view carry every job's spec; allow large ones.
constexpr int kMaxMessage = 512 << 20;

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

// What a plain TCP connect to `target` (host:port) finds, to tell a busy
// coordinator from one that is not there.
enum class Tcp { kAccepted, kRefused, kNoAnswer, kUnknown };

Tcp ProbeTcp(const std::string& target, std::string* detail) {
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos || target.find("://") != std::string::npos ||
      absl::StartsWith(target, "unix:")) {
    return Tcp::kUnknown;
  }
  std::string host = target.substr(0, colon);
  const std::string port = target.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  struct addrinfo* res = nullptr;
  if (const int e = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); e != 0) {
    *detail = ::gai_strerror(e);
    return Tcp::kNoAnswer;
  }
  Tcp out = Tcp::kNoAnswer;
  for (struct addrinfo* a = res; a != nullptr && out != Tcp::kAccepted; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            a->ai_protocol);
    if (fd < 0) continue;
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        if (::poll(&p, 1, 2000) == 1) {
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        } else {
          err = ETIMEDOUT;
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      out = Tcp::kAccepted;
    } else if (err == ECONNREFUSED) {
      out = Tcp::kRefused;
    } else {
      *detail = std::strerror(err);
    }
  }
  ::freeaddrinfo(res);
  return out;
}

}  // namespace

Client::Client(Endpoint endpoint, std::shared_ptr<grpc::Channel> channel)
    : endpoint_(std::move(endpoint)),
      channel_(std::move(channel)),
      stub_(kiln::v1::JobService::NewStub(channel_)) {}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const Endpoint& endpoint,
                                                        absl::Duration timeout) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!endpoint.tls_ca_pem.empty()) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = endpoint.tls_ca_pem;
    creds = grpc::SslCredentials(o);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessage);
  args.SetMaxSendMessageSize(kMaxMessage);
  // A coordinator that stops answering without closing the connection (a
  // hung or frozen process, a dropped network) ends the call within
  // keepalive time + timeout, and `kiln watch` reconnects: HTTP/2 pings
  // every second while a call is open, the server allowing them.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 1000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 1000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel = grpc::CreateCustomChannel(endpoint.target, creds, args);
  if (!channel->WaitForConnected(Deadline(timeout))) {
    std::string detail;
    const std::string& at = endpoint.target;
    switch (ProbeTcp(at, &detail)) {
      case Tcp::kAccepted:
        return absl::UnavailableError(absl::StrCat(
            "the coordinator at ", at, " accepts connections but did not answer within ",
            absl::FormatDuration(timeout),
            ": it is busy or overloaded (or not a Kiln coordinator, or it wants TLS); "
            "try again, or see its log"));
      case Tcp::kRefused:
        return absl::UnavailableError(absl::StrCat(
            "cannot reach the coordinator at ", at,
            ": nothing listens there (connection refused); is it running, and is "
            "--coordinator right?"));
      case Tcp::kNoAnswer:
        return absl::UnavailableError(absl::StrCat(
            "cannot reach the coordinator at ", at, " (", detail.empty() ? "no answer" : detail,
            "); is the host up, and is --coordinator right?"));
      case Tcp::kUnknown:
        break;
    }
    return absl::UnavailableError(
        absl::StrCat("cannot reach the coordinator at ", at,
                     " (nothing answered within ", absl::FormatDuration(timeout),
                     "; is it running, and is --coordinator right?)"));
  }
  return std::unique_ptr<Client>(new Client(endpoint, std::move(channel)));
}

std::unique_ptr<grpc::ClientContext> Client::Context(absl::Duration timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!endpoint_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", endpoint_.token));
  }
  if (timeout != absl::InfiniteDuration()) ctx->set_deadline(Deadline(timeout));
  return ctx;
}

absl::Status Client::Explain(const grpc::Status& status) const {
  const std::string& at = endpoint_.target;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::UnavailableError(absl::StrCat("cannot reach the coordinator at ", at,
                                                 ": ", status.error_message()));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(absl::StrCat(
          "the coordinator at ", at, " refused the token",
          endpoint_.token.empty()
              ? absl::StrCat(" (none given: set $", endpoint_.token_env, ")")
              : absl::StrCat(" from $", endpoint_.token_env),
          ": ", status.error_message()));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(
          absl::StrCat("the coordinator at ", at, " did not answer in time"));
    default:
      return FromGrpcStatus(status);
  }
}

absl::StatusOr<kiln::v1::SubmitBatchResponse> Client::Submit(
    const kiln::v1::SubmitBatchRequest& request, const TraceContext& trace) {
  auto ctx = Context(kCallTimeout);
  InjectTraceparent(trace, ctx.get());
  kiln::v1::SubmitBatchResponse response;
  grpc::Status s = stub_->SubmitBatch(ctx.get(), request, &response);
  if (!s.ok()) return Explain(s);
  return response;
}

absl::StatusOr<kiln::v1::Batch> Client::GetBatch(const std::string& batch_id,
                                                 kiln::v1::BatchView view) {
  auto ctx = Context(kCallTimeout);
  kiln::v1::GetBatchRequest request;
  request.set_batch_id(batch_id);
  request.set_view(view);
  kiln::v1::Batch batch;
  grpc::Status s = stub_->GetBatch(ctx.get(), request, &batch);
  if (!s.ok()) return Explain(s);
  return batch;
}

absl::StatusOr<kiln::v1::ListBatchesResponse> Client::ListBatches(
    const kiln::v1::ListBatchesRequest& request) {
  auto ctx = Context(kCallTimeout);
  kiln::v1::ListBatchesResponse response;
  grpc::Status s = stub_->ListBatches(ctx.get(), request, &response);
  if (!s.ok()) return Explain(s);
  return response;
}

absl::StatusOr<std::vector<kiln::v1::Task>> Client::ListTasks(const std::string& batch_id) {
  std::vector<kiln::v1::Task> out;
  kiln::v1::ListTasksRequest request;
  request.set_batch_id(batch_id);
  request.set_page_size(10000);
  do {
    auto ctx = Context(kCallTimeout);
    kiln::v1::ListTasksResponse response;
    grpc::Status s = stub_->ListTasks(ctx.get(), request, &response);
    if (!s.ok()) return Explain(s);
    for (auto& t : *response.mutable_tasks()) out.push_back(std::move(t));
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return out;
}

absl::StatusOr<kiln::v1::Batch> Client::Cancel(const std::string& batch_id,
                                               const std::string& reason) {
  auto ctx = Context(kCallTimeout);
  kiln::v1::CancelBatchRequest request;
  request.set_batch_id(batch_id);
  request.set_reason(reason);
  kiln::v1::Batch batch;
  grpc::Status s = stub_->CancelBatch(ctx.get(), request, &batch);
  if (!s.ok()) return Explain(s);
  return batch;
}

absl::StatusOr<kiln::v1::Report> Client::GetReport(const std::string& batch_id) {
  auto ctx = Context(kCallTimeout);
  kiln::v1::GetReportRequest request;
  request.set_batch_id(batch_id);
  kiln::v1::Report report;
  grpc::Status s = stub_->GetReport(ctx.get(), request, &report);
  if (!s.ok()) return Explain(s);
  return report;
}

absl::Status Client::Fetch(
    const std::string& batch_id, const std::string& job_id,
    const std::function<absl::Status(const kiln::v1::Artifact&, const std::string&)>&
        on_artifact,
    bool patches) {
  auto ctx = Context(absl::Minutes(10));
  kiln::v1::FetchArtifactsRequest request;
  request.set_batch_id(batch_id);
  request.set_job_id(job_id);
  request.set_patches(patches);
  auto reader = stub_->FetchArtifacts(ctx.get(), request);
  kiln::v1::FetchArtifactsResponse item;
  kiln::v1::Artifact current;
  std::string content;
  bool have = false;
  absl::Status result;
  while (reader->Read(&item)) {
    if (item.has_artifact()) {
      if (have && result.ok()) result = on_artifact(current, content);
      current = item.artifact();
      content.clear();
      have = true;
    } else if (item.has_chunk()) {
      content.append(item.chunk().data());
    }
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Explain(s);
  if (have && result.ok()) result = on_artifact(current, content);
  return result;
}

absl::Status Client::Watch(const std::string& batch_id, int64_t after_sequence,
                           int64_t stop_at, absl::Duration reconnect_for,
                           const std::function<void(const kiln::v1::Event&)>& on_event,
                           const std::function<void(const absl::Status&)>& on_reconnect) {
  int64_t last = after_sequence;
  absl::Time broken_since = absl::InfiniteFuture();
  absl::Duration backoff = absl::Milliseconds(200);
  while (true) {
    auto ctx = Context(absl::InfiniteDuration());
    {
      MutexLock l(&mu_);
      if (interrupted_) return absl::CancelledError("interrupted");
      watching_ = ctx.get();
    }
    kiln::v1::WatchBatchRequest request;
    request.set_batch_id(batch_id);
    request.set_after_sequence(last);
    auto reader = stub_->WatchBatch(ctx.get(), request);
    kiln::v1::Event event;
    bool ended = false;
    while (reader->Read(&event)) {
      if (event.sequence() <= last) continue;
      last = event.sequence();
      broken_since = absl::InfiniteFuture();
      backoff = absl::Milliseconds(200);
      on_event(event);
      if ((event.has_batch() && IsTerminal(event.batch().state())) ||
          (stop_at > 0 && last >= stop_at)) {
        ended = true;
        ctx->TryCancel();
        break;
      }
    }
    grpc::Status s = reader->Finish();
    {
      MutexLock l(&mu_);
      watching_ = nullptr;
      if (interrupted_) return absl::CancelledError("interrupted");
    }
    if (ended) return absl::OkStatus();
    // A stream that ends before the batch's terminal event (the coordinator
    // restarting, a proxy timing out) is reopened after the last event.
    if (!s.ok() && s.error_code() != grpc::StatusCode::UNAVAILABLE &&
        s.error_code() != grpc::StatusCode::CANCELLED) {
      return Explain(s);
    }
    if (s.ok()) s = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the event stream ended early");
    const absl::Time now = absl::Now();
    if (broken_since == absl::InfiniteFuture()) broken_since = now;
    if (now - broken_since > reconnect_for) return Explain(s);
    if (on_reconnect) on_reconnect(Explain(s));
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff = std::min(backoff * 2, absl::Seconds(5));
    channel_->WaitForConnected(Deadline(absl::Seconds(5)));
  }
}

void Client::Interrupt() {
  MutexLock l(&mu_);
  interrupted_ = true;
  if (watching_ != nullptr) watching_->TryCancel();
}

}  // namespace cli
}  // namespace kiln
