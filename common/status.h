// Helpers for absl::Status / absl::StatusOr, which Kiln uses for every error
// (Abseil 20220623 ships no status macros of its own).
//
// Conversions from other libraries' status types live at one boundary each:
// common/grpc_status.h and common/rocksdb_status.h.
#ifndef KILN_COMMON_STATUS_H_
#define KILN_COMMON_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Returns `status` with "`context`: " prepended to its message, keeping its
// code and payloads. OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// True for codes that mean "the same request may succeed later":
// UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and ABORTED.
bool IsRetryable(const absl::Status& status);

namespace status_internal {
inline absl::Status ToStatus(absl::Status s) { return s; }
template <typename T>
absl::Status ToStatus(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace status_internal

}  // namespace kiln

#define KILN_STATUS_CONCAT_INNER_(a, b) a##b
#define KILN_STATUS_CONCAT_(a, b) KILN_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status or absl::StatusOr) once and returns its
// status from the enclosing function if it is not OK.
#define KILN_RETURN_IF_ERROR(expr)                                       \
  do {                                                                   \
    ::absl::Status kiln_status_ = ::kiln::status_internal::ToStatus(expr); \
    if (!kiln_status_.ok()) return kiln_status_;                         \
  } while (false)

// `KILN_ASSIGN_OR_RETURN(lhs, expr)`: evaluates `expr` (an
// absl::StatusOr<T>) once; on error returns its status from the enclosing
// function, otherwise moves the value into `lhs`, which may be a declaration
// (`auto x`, `std::string s`) or an existing lvalue.
#define KILN_ASSIGN_OR_RETURN(lhs, expr)                                   \
  KILN_ASSIGN_OR_RETURN_IMPL_(                                             \
      KILN_STATUS_CONCAT_(kiln_statusor_, __LINE__), lhs, expr)

#define KILN_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // KILN_COMMON_STATUS_H_
