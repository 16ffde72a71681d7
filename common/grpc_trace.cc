#include "common/grpc_trace.h"

#include <string>

namespace kiln {

void InjectTraceparent(const TraceContext& ctx, grpc::ClientContext* call) {
  if (!ctx.valid() || !ctx.has_span()) return;
  call->AddMetadata(kTraceparentKey, FormatTraceparent(ctx));
}

TraceContext ExtractTraceparent(const grpc::ServerContextBase& call) {
  const auto& md = call.client_metadata();
  auto it = md.find(kTraceparentKey);
  if (it == md.end()) return {};
  absl::StatusOr<TraceContext> ctx =
      ParseTraceparent(absl::string_view(it->second.data(), it->second.size()));
  return ctx.ok() ? *ctx : TraceContext{};
}

}  // namespace kiln
