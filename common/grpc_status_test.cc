#include "common/grpc_status.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(GrpcStatus, EveryCanonicalCodeSurvivesBothWays) {
  for (int c = 1; c <= 16; ++c) {
    const auto code = static_cast<absl::StatusCode>(c);
    const absl::Status in(code, "msg " + std::to_string(c));
    const grpc::Status g = ToGrpcStatus(in);
    EXPECT_EQ(static_cast<int>(g.error_code()), c);
    EXPECT_EQ(g.error_message(), "msg " + std::to_string(c));
    EXPECT_EQ(FromGrpcStatus(g), in);
  }
}

TEST(GrpcStatus, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatus, NamedCodesMatch) {
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                        "missing bearer token"))
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ToGrpcStatus(absl::FailedPreconditionError("stale lease"))
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace kiln
