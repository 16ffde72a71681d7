#include "worker/session.h"

#include <algorithm>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/grpc_status.h"

namespace kiln {

namespace {

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() + absl::ToChronoNanoseconds(d);
}

}  // namespace

WorkerSession::WorkerSession(WorkerSessionOptions options, TaskRunner* runner)
    : options_(std::move(options)), runner_(runner) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
              static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_max)));
  args.SetMaxReceiveMessageSize(64 << 20);
  channel_ = grpc::CreateCustomChannel(
      options_.target, grpc::InsecureChannelCredentials(), args);
  stub_ = kiln::v1::WorkerService::NewStub(channel_);
  blobs_ = kiln::v1::BlobService::NewStub(channel_);
  worker_id_ = options_.worker_id;
}

WorkerSession::~WorkerSession() { Stop(); }

void WorkerSession::Start() {
  loop_ = std::thread([this] { Loop(); });
  heartbeats_ = std::thread([this] { Heartbeats(); });
}

void WorkerSession::Stop() {
  {
    MutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
    cv_.SignalAll();
  }
  if (loop_.joinable()) loop_.join();
  if (heartbeats_.joinable()) heartbeats_.join();
}

void WorkerSession::AddAuth(grpc::ClientContext* ctx) const {
  if (!options_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
}

std::string WorkerSession::worker_id() const {
  MutexLock l(&mu_);
  return worker_id_;
}

bool WorkerSession::Write(const kiln::v1::WorkerMessage& m) {
  // write_mu_ is held from the check to the write, so the session loop
  // cannot close (WritesDone, Finish) and free the stream in between.
  MutexLock w(&write_mu_);
  Stream* stream;
  {
    MutexLock l(&mu_);
    if (stream_ == nullptr || !registered_) return false;
    stream = stream_;
  }
  return stream->Write(m);
}

void WorkerSession::Loop() {
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = options_.reconnect_min;
  for (;;) {
    grpc::ClientContext ctx;
    AddAuth(&ctx);
    kiln::v1::WorkerMessage reg;
    {
      MutexLock l(&mu_);
      if (stop_) return;
      ctx_ = &ctx;
      kiln::v1::Register* r = reg.mutable_register_();
      r->set_worker_id(worker_id_);
      r->set_hostname(options_.hostname);
      r->set_version("kiln-worker/1");
      *r->mutable_capabilities() = options_.capabilities;
      for (const auto& [task, a] : active_) *r->add_in_flight() = a.lease;
    }
    std::unique_ptr<Stream> stream = stub_->Session(&ctx);
    bool opened = false;
    {
      MutexLock w(&write_mu_);
      opened = stream->Write(reg);
    }
    kiln::v1::CoordinatorMessage m;
    if (opened && stream->Read(&m) && m.has_registered()) {
      sessions_++;
      backoff = options_.reconnect_min;
      std::vector<kiln::v1::TaskResult> unacked;
      std::vector<kiln::v1::Progress> spent;
      {
        MutexLock l(&mu_);
        worker_id_ = m.registered().worker_id();
        heartbeat_ = absl::Seconds(m.registered().heartbeat_interval().seconds()) +
                     absl::Nanoseconds(m.registered().heartbeat_interval().nanos());
        stream_ = stream.get();
        registered_ = true;
        for (const auto& [task, a] : active_) {
          if (a.done) {
            unacked.push_back(a.result);
          } else if (a.spent) {
            spent.push_back(*a.spent);
          }
        }
        cv_.SignalAll();
      }
      for (auto& p : spent) {
        kiln::v1::WorkerMessage msg;
        *msg.mutable_progress() = std::move(p);
        Write(msg);
      }
      for (auto& r : unacked) {
        kiln::v1::WorkerMessage msg;
        *msg.mutable_result() = std::move(r);
        Write(msg);
      }
      while (stream->Read(&m)) Handle(m);
    }
    {
      // Lock order: write_mu_, then mu_ (as in Write).
      MutexLock w(&write_mu_);
      {
        MutexLock l(&mu_);
        stream_ = nullptr;
        registered_ = false;
        ctx_ = nullptr;
      }
      stream->WritesDone();
    }
    const grpc::Status st = stream->Finish();
    if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      const absl::Status why = absl::UnauthenticatedError(absl::StrCat(
          "the coordinator at ", options_.target, " refused this worker's ",
          options_.token.empty() ? "connection: no token was given" : "token", " (",
          st.error_message(), ")"));
      {
        MutexLock l(&mu_);
        if (stop_) return;
      }
      if (options_.on_refused) options_.on_refused(why);
      return;
    }
    // Jittered exponential backoff before the next session.
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    MutexLock l(&mu_);
    if (stop_) return;
    cv_.WaitWithTimeout(&mu_, backoff * jitter(rng));
    backoff = std::min(backoff * 2, options_.reconnect_max);
  }
}

void WorkerSession::Handle(const kiln::v1::CoordinatorMessage& m) {
  switch (m.msg_case()) {
    case kiln::v1::CoordinatorMessage::kAssignment: {
      {
        MutexLock l(&mu_);
        Active& a = active_[m.assignment().lease().task_id()];
        a.lease = m.assignment().lease();
        a.done = false;
      }
      runner_->Run(m.assignment(), this);
      break;
    }
    case kiln::v1::CoordinatorMessage::kCancel: {
      {
        MutexLock l(&mu_);
        auto it = active_.find(m.cancel().lease().task_id());
        if (it != active_.end() &&
            it->second.lease.attempt() == m.cancel().lease().attempt()) {
          active_.erase(it);
        }
      }
      runner_->Cancel(m.cancel().lease());
      break;
    }
    case kiln::v1::CoordinatorMessage::kResultAck: {
      const kiln::v1::ResultAck& ack = m.result_ack();
      (ack.accepted() ? accepted_ : rejected_)++;
      MutexLock l(&mu_);
      auto it = active_.find(ack.lease().task_id());
      if (it != active_.end() && it->second.lease.attempt() == ack.lease().attempt()) {
        active_.erase(it);
      }
      acks_cv_.SignalAll();  // WaitAcknowledged
      break;
    }
    case kiln::v1::CoordinatorMessage::kDrain:
    default:
      break;
  }
}

void WorkerSession::Heartbeats() {
  MutexLock l(&mu_);
  while (!stop_) {
    cv_.WaitWithTimeout(&mu_, heartbeat_);
    if (stop_) return;
    if (!registered_) continue;
    kiln::v1::WorkerMessage hb;
    for (const auto& [task, a] : active_) {
      *hb.mutable_heartbeat()->add_active() = a.lease;
    }
    hb.mutable_heartbeat();
    mu_.Unlock();
    Write(hb);
    mu_.Lock();
  }
}

void WorkerSession::FirstToken(const kiln::v1::Lease& lease) {
  kiln::v1::WorkerMessage m;
  *m.mutable_progress()->mutable_lease() = lease;
  m.mutable_progress()->set_first_token(true);
  Write(m);
}

void WorkerSession::LlmDone(const kiln::v1::Lease& lease) {
  kiln::v1::WorkerMessage m;
  *m.mutable_progress()->mutable_lease() = lease;
  m.mutable_progress()->set_llm_done(true);
  Write(m);
}

void WorkerSession::Spent(const kiln::v1::Progress& progress) {
  {
    MutexLock l(&mu_);
    auto it = active_.find(progress.lease().task_id());
    if (it != active_.end() && it->second.lease.attempt() == progress.lease().attempt()) {
      it->second.spent = progress;
    }
  }
  kiln::v1::WorkerMessage m;
  *m.mutable_progress() = progress;
  Write(m);
}

void WorkerSession::Report(kiln::v1::TaskResult result) {
  {
    MutexLock l(&mu_);
    auto it = active_.find(result.lease().task_id());
    if (it == active_.end() ||
        it->second.lease.attempt() != result.lease().attempt()) {
      return;  // cancelled meanwhile
    }
    it->second.done = true;
    it->second.result = result;
  }
  kiln::v1::WorkerMessage m;
  *m.mutable_result() = std::move(result);
  Write(m);  // if the stream is down, the reconnect re-sends it
}

absl::StatusOr<kiln::v1::Digest> WorkerSession::UploadBlob(
    const std::string& bytes) {
  const kiln::v1::Digest digest = DigestOf(bytes);
  {
    grpc::ClientContext ctx;
    AddAuth(&ctx);
    ctx.set_deadline(Deadline(options_.rpc_timeout));
    kiln::v1::FindMissingBlobsRequest req;
    *req.add_digests() = digest;
    kiln::v1::FindMissingBlobsResponse resp;
    grpc::Status s = blobs_->FindMissingBlobs(&ctx, req, &resp);
    if (!s.ok()) return FromGrpcStatus(s);
    if (resp.missing_size() == 0) return digest;
  }
  grpc::ClientContext ctx;
  AddAuth(&ctx);
  ctx.set_deadline(Deadline(options_.rpc_timeout));
  kiln::v1::WriteBlobResponse resp;
  auto writer = blobs_->WriteBlob(&ctx, &resp);
  const size_t kChunk = 1 << 20;
  size_t off = 0;
  do {
    kiln::v1::BlobChunk c;
    if (off == 0) *c.mutable_digest() = digest;
    c.set_offset(static_cast<int64_t>(off));
    const size_t n = std::min(kChunk, bytes.size() - off);
    c.set_data(bytes.substr(off, n));
    off += n;
    c.set_last(off >= bytes.size());
    if (!writer->Write(c)) break;
  } while (off < bytes.size());
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  return digest;
}

absl::StatusOr<std::string> WorkerSession::DownloadBlob(
    const kiln::v1::Digest& digest) {
  grpc::ClientContext ctx;
  AddAuth(&ctx);
  ctx.set_deadline(Deadline(options_.rpc_timeout));
  kiln::v1::ReadBlobRequest req;
  *req.mutable_digest() = digest;
  auto reader = blobs_->ReadBlob(&ctx, req);
  std::string out;
  kiln::v1::BlobChunk c;
  while (reader->Read(&c)) out += c.data();
  grpc::Status s = reader->Finish();
  if (!s.ok()) return FromGrpcStatus(s);
  return out;
}

bool WorkerSession::WaitAcknowledged(int64_t n, absl::Duration timeout) {
  MutexLock l(&mu_);
  const absl::Time deadline = absl::Now() + timeout;
  while (accepted_.load() + rejected_.load() < n) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) break;
    acks_cv_.WaitWithTimeout(&mu_, left);
  }
  return accepted_.load() + rejected_.load() >= n;
}

}  // namespace kiln
