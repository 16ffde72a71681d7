#include "cli/client.h"

#include <chrono>
#include <thread>

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
  auto channel = grpc::CreateCustomChannel(endpoint.target, creds, args);
  if (!channel->WaitForConnected(Deadline(timeout))) {
    return absl::UnavailableError(
        absl::StrCat("cannot reach the coordinator at ", endpoint.target,
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
        on_artifact) {
  auto ctx = Context(absl::Minutes(10));
  kiln::v1::FetchArtifactsRequest request;
  request.set_batch_id(batch_id);
  request.set_job_id(job_id);
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
