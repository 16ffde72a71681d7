// W3C traceparent in gRPC metadata (key "traceparent"), both ends.
#ifndef KILN_COMMON_GRPC_TRACE_H_
#define KILN_COMMON_GRPC_TRACE_H_

#include "common/trace_context.h"
#include "grpcpp/client_context.h"
#include "grpcpp/server_context.h"

namespace kiln {

inline constexpr char kTraceparentKey[] = "traceparent";

// Adds `ctx` (a span's context) to the call's metadata; nothing when it has
// no trace or span.
void InjectTraceparent(const TraceContext& ctx, grpc::ClientContext* call);

// The caller's traceparent; an invalid context when there is none or it is
// malformed (W3C: the receiver then starts a new trace).
TraceContext ExtractTraceparent(const grpc::ServerContextBase& call);

}  // namespace kiln

#endif  // KILN_COMMON_GRPC_TRACE_H_
