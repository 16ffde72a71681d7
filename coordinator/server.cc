// The coordinator's gRPC server: listening, TLS, auth and the services
// (job_service.cc, worker_service.cc, semaphore_service.cc,
// blob_service.cc) around the event loop (server_internal.h).
#include "coordinator/server.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "coordinator/server_internal.h"
#include "grpcpp/health_check_service_interface.h"

namespace kiln {

using server_internal::Impl;

bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

bool IsLoopback(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

// ---------------------------------------------------------------- start

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    Store* store, const Clock* clock, const ModelCatalog* models,
    CoordinatorOptions options, ServerOptions server) {
  if (server.auth_token.empty() && !IsLoopback(server.listen)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen=", server.listen,
        " is not a loopback address: put a token in $KILN_TOKEN (--token_env "
        "names another variable, --secrets_file a file) so that "
        "only workers and clients with the token can connect"));
  }
  std::shared_ptr<grpc::ServerCredentials> creds =
      grpc::InsecureServerCredentials();
  if (!server.tls_cert.empty() || !server.tls_key.empty()) {
    auto cert = ReadFile(server.tls_cert, "--tls_cert");
    if (!cert.ok()) return cert.status();
    auto key = ReadFile(server.tls_key, "--tls_key");
    if (!key.ok()) return key.status();
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!server.tls_client_ca.empty()) {
      auto ca = ReadFile(server.tls_client_ca, "--tls_client_ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
      ssl.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    creds = grpc::SslServerCredentials(ssl);
  }

  auto core = Coordinator::Open(store, clock, models, std::move(options));
  if (!core.ok()) return core.status();
  auto impl = std::make_unique<Impl>(store, clock, std::move(*core), server);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(server.listen, creds, &impl->port_);
  builder.SetMaxReceiveMessageSize(64 << 20);
  // Clients ping every second while a call is open (kiln watch, workers'
  // sessions) to notice a coordinator that stopped answering; allow it.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl->services_.push_back(server_internal::NewJobService(impl.get()));
  impl->services_.push_back(server_internal::NewWorkerService(impl.get()));
  impl->services_.push_back(server_internal::NewSemaphoreService(impl.get()));
  impl->services_.push_back(server_internal::NewBlobService(impl.get()));
  for (auto& s : impl->services_) builder.RegisterService(s.get());
  impl->server_ = builder.BuildAndStart();
  if (impl->server_ == nullptr || impl->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", server.listen));
  }
  // A store opened read-only (a full disk) serves reads but is not healthy.
  impl->server_->GetHealthCheckService()->SetServingStatus(
      store->sticky_error().ok());
  impl->StartLoop();
  return std::unique_ptr<CoordinatorServer>(
      new CoordinatorServer(std::move(impl)));
}

CoordinatorServer::CoordinatorServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

int CoordinatorServer::port() const { return impl_->port_; }

void CoordinatorServer::Shutdown() { impl_->Shutdown(); }

void CoordinatorServer::Post(std::function<void(Coordinator&)> fn) {
  impl_->Post(std::move(fn));
}

}  // namespace kiln
