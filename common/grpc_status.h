// The one boundary between grpc::Status and absl::Status. Both use the same
// canonical codes, so the code always survives; the message too.
#ifndef KILN_COMMON_GRPC_STATUS_H_
#define KILN_COMMON_GRPC_STATUS_H_

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace kiln {

// For a gRPC client: the status a call ended with, as an absl::Status.
absl::Status FromGrpcStatus(const grpc::Status& status);

// For a gRPC server: the status a handler returns to the client.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace kiln

#endif  // KILN_COMMON_GRPC_STATUS_H_
