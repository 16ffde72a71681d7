#include "tests/cluster_client.h"

#include "absl/strings/str_cat.h"
#include "common/states.h"
#include "common/subprocess.h"

namespace kiln {

namespace {

absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::UnknownError(absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

ClusterClient::ClusterClient(const std::string& port, std::string token)
    : token_(std::move(token)),
      stub_(kiln::v1::JobService::NewStub(grpc::CreateChannel(
          absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()))) {}

std::unique_ptr<grpc::ClientContext> ClusterClient::Ctx(absl::Duration timeout) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  ctx->set_deadline(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(ScaledTimeout(timeout)));
  return ctx;
}

absl::StatusOr<std::string> ClusterClient::Submit(const kiln::v1::BatchSpec& spec) const {
  kiln::v1::SubmitBatchRequest req;
  *req.mutable_spec() = spec;
  kiln::v1::SubmitBatchResponse resp;
  if (absl::Status s = FromGrpc(stub_->SubmitBatch(Ctx().get(), req, &resp), "SubmitBatch");
      !s.ok()) {
    return s;
  }
  return resp.batch().id();
}

void ClusterClient::WaitForEnd(const std::string& batch_id) const {
  const absl::Time deadline = absl::Now() + ScaledTimeout(absl::Minutes(5));
  int64_t seen = 0;
  while (absl::Now() < deadline) {
    auto ctx = Ctx(deadline - absl::Now());
    ctx->set_wait_for_ready(true);  // through a coordinator's restart
    kiln::v1::WatchBatchRequest watch;
    watch.set_batch_id(batch_id);
    watch.set_after_sequence(seen);
    auto reader = stub_->WatchBatch(ctx.get(), watch);
    kiln::v1::Event e;
    while (reader->Read(&e)) {
      seen = e.sequence();
      if (e.has_batch() && IsTerminal(e.batch().state())) return;
    }
    reader->Finish();
  }
}

absl::StatusOr<kiln::v1::Batch> ClusterClient::Batch(const std::string& batch_id) const {
  kiln::v1::GetBatchRequest get;
  get.set_batch_id(batch_id);
  get.set_view(kiln::v1::BATCH_VIEW_FULL);
  kiln::v1::Batch b;
  if (absl::Status s = FromGrpc(stub_->GetBatch(Ctx().get(), get, &b), "GetBatch"); !s.ok()) {
    return s;
  }
  return b;
}

absl::StatusOr<std::vector<kiln::v1::Task>> ClusterClient::Tasks(
    const std::string& batch_id) const {
  kiln::v1::ListTasksRequest list;
  list.set_batch_id(batch_id);
  list.set_page_size(1000);
  kiln::v1::ListTasksResponse tasks;
  if (absl::Status s = FromGrpc(stub_->ListTasks(Ctx().get(), list, &tasks), "ListTasks");
      !s.ok()) {
    return s;
  }
  return std::vector<kiln::v1::Task>(tasks.tasks().begin(), tasks.tasks().end());
}

}  // namespace kiln
