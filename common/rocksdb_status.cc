#include "common/rocksdb_status.h"

#include "absl/strings/str_cat.h"

namespace kiln {
namespace {

absl::StatusCode CodeOf(const rocksdb::Status& s) {
  using C = rocksdb::Status::Code;
  switch (s.code()) {
    case C::kOk:
      return absl::StatusCode::kOk;
    case C::kNotFound:
      return absl::StatusCode::kNotFound;
    case C::kCorruption:
      return absl::StatusCode::kDataLoss;
    case C::kNotSupported:
      return absl::StatusCode::kUnimplemented;
    case C::kInvalidArgument:
      return absl::StatusCode::kInvalidArgument;
    case C::kIOError:
      if (s.IsNoSpace()) return absl::StatusCode::kResourceExhausted;
      if (s.IsPathNotFound()) return absl::StatusCode::kNotFound;
      return absl::StatusCode::kInternal;
    case C::kMergeInProgress:
    case C::kAborted:
      return absl::StatusCode::kAborted;
    case C::kIncomplete:
    case C::kShutdownInProgress:
    case C::kBusy:
    case C::kTryAgain:
      return absl::StatusCode::kUnavailable;
    case C::kTimedOut:
    case C::kExpired:
      return absl::StatusCode::kDeadlineExceeded;
    case C::kColumnFamilyDropped:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kUnknown;
  }
}

}  // namespace

absl::Status FromRocksDbStatus(const rocksdb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(CodeOf(status), absl::StrCat("rocksdb: ", status.ToString()));
}

}  // namespace kiln
