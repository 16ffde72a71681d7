// A semaphore client for semaphore_chaos_test: acquires "compile" `--count`
// times, holds each lease briefly (renewing it once), releases it, and
// appends a line to --progress after each release. Restarted after a kill,
// it continues from the lines already written.
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "kiln/v1/semaphore_service.grpc.pb.h"

ABSL_FLAG(std::string, coordinator, "", "host:port");
ABSL_FLAG(std::string, id, "", "holder name");
ABSL_FLAG(int, count, 50, "acquisitions to complete");
ABSL_FLAG(std::string, progress, "", "file with one line per completed acquisition");

namespace {
std::unique_ptr<grpc::ClientContext> Ctx(int seconds) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}
}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string progress = absl::GetFlag(FLAGS_progress);
  int done = 0;
  {
    std::ifstream in(progress);
    std::string line;
    while (std::getline(in, line)) ++done;
  }
  auto stub = kiln::v1::SemaphoreService::NewStub(grpc::CreateChannel(
      absl::GetFlag(FLAGS_coordinator), grpc::InsecureChannelCredentials()));
  std::mt19937 rng(std::random_device{}());
  int attempt = 0;
  while (done < absl::GetFlag(FLAGS_count)) {
    kiln::v1::AcquireRequest req;
    req.set_semaphore("compile");
    req.set_weight(1);
    req.set_holder(absl::GetFlag(FLAGS_id));
    req.mutable_ttl()->set_seconds(1);
    req.set_request_id(absl::StrCat(absl::GetFlag(FLAGS_id), "-", getpid(), "-", ++attempt));
    kiln::v1::AcquireResponse resp;
    grpc::Status s = stub->Acquire(Ctx(60).get(), req, &resp);
    if (!s.ok()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 8));
    kiln::v1::RenewRequest renew;
    renew.set_semaphore("compile");
    renew.set_lease_id(resp.lease().lease_id());
    renew.set_fencing_token(resp.lease().fencing_token());
    kiln::v1::RenewResponse renewed;
    grpc::Status rs = stub->Renew(Ctx(10).get(), renew, &renewed);
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 8));
    kiln::v1::ReleaseRequest rel;
    rel.set_semaphore("compile");
    rel.set_lease_id(resp.lease().lease_id());
    rel.set_fencing_token(resp.lease().fencing_token());
    kiln::v1::ReleaseResponse released;
    grpc::Status ls = stub->Release(Ctx(10).get(), rel, &released);
    if (!rs.ok() || !ls.ok() || !released.released()) continue;  // lost it
    std::ofstream(progress, std::ios::app) << "ok\n";
    ++done;
  }
  return 0;
}
