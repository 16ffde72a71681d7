#include "common/status.h"

#include <memory>
#include <string>

#include "absl/strings/cord.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

absl::StatusOr<int> Parse(const std::string& s) {
  if (s.empty()) return absl::InvalidArgumentError("empty");
  return static_cast<int>(s.size());
}

absl::Status Check(const std::string& s, int* calls) {
  ++*calls;
  if (s == "bad") return absl::NotFoundError("bad");
  return absl::OkStatus();
}

absl::StatusOr<int> Twice(const std::string& s, int* calls) {
  KILN_RETURN_IF_ERROR(Check(s, calls));
  KILN_ASSIGN_OR_RETURN(int n, Parse(s));
  KILN_ASSIGN_OR_RETURN(auto m, Parse(s));
  return n + m;
}

TEST(StatusMacros, ReturnIfErrorEvaluatesOnceAndPropagates) {
  int calls = 0;
  EXPECT_EQ(Twice("bad", &calls).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(Twice("", &calls).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*Twice("abc", &calls), 6);
}

absl::Status Assign(absl::StatusOr<std::unique_ptr<int>> in, int* out) {
  std::unique_ptr<int> p;
  KILN_ASSIGN_OR_RETURN(p, std::move(in));  // into an existing move-only lvalue
  *out = *p;
  return absl::OkStatus();
}

TEST(StatusMacros, AssignOrReturnMovesIntoExistingLvalue) {
  int out = 0;
  EXPECT_TRUE(Assign(std::make_unique<int>(5), &out).ok());
  EXPECT_EQ(out, 5);
  EXPECT_EQ(Assign(absl::UnavailableError("x"), &out).code(),
            absl::StatusCode::kUnavailable);
}

absl::Status ReturnIfErrorOnStatusOr(absl::StatusOr<int> v) {
  KILN_RETURN_IF_ERROR(v);
  return absl::OkStatus();
}

TEST(StatusMacros, ReturnIfErrorAcceptsStatusOr) {
  EXPECT_TRUE(ReturnIfErrorOnStatusOr(3).ok());
  EXPECT_EQ(ReturnIfErrorOnStatusOr(absl::AbortedError("a")).code(),
            absl::StatusCode::kAborted);
}

TEST(Annotate, PrependsContextAndKeepsCodeAndPayload) {
  absl::Status s = absl::NotFoundError("no such task");
  s.SetPayload("kiln/task", absl::Cord("t_1"));
  const absl::Status a = Annotate(s, "loading batch b_1");
  EXPECT_EQ(a.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.message(), "loading batch b_1: no such task");
  EXPECT_EQ(a.GetPayload("kiln/task"), absl::Cord("t_1"));
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(IsRetryable, OnlyTransientCodes) {
  EXPECT_TRUE(IsRetryable(absl::UnavailableError("")));
  EXPECT_TRUE(IsRetryable(absl::DeadlineExceededError("")));
  EXPECT_TRUE(IsRetryable(absl::ResourceExhaustedError("")));
  EXPECT_TRUE(IsRetryable(absl::AbortedError("")));
  EXPECT_FALSE(IsRetryable(absl::OkStatus()));
  EXPECT_FALSE(IsRetryable(absl::InvalidArgumentError("")));
  EXPECT_FALSE(IsRetryable(absl::PermissionDeniedError("")));
  EXPECT_FALSE(IsRetryable(absl::FailedPreconditionError("")));
}

}  // namespace
}  // namespace kiln
