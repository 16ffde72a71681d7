// The one boundary between rocksdb::Status and absl::Status.
#ifndef KILN_COMMON_ROCKSDB_STATUS_H_
#define KILN_COMMON_ROCKSDB_STATUS_H_

#include "absl/status/status.h"
#include "rocksdb/status.h"

namespace kiln {

// Maps a RocksDB status to the most specific canonical code:
//   NotFound -> NOT_FOUND, Corruption -> DATA_LOSS,
//   InvalidArgument -> INVALID_ARGUMENT, NotSupported -> UNIMPLEMENTED,
//   IOError(no space) -> RESOURCE_EXHAUSTED, IOError(path not found) ->
//   NOT_FOUND, other IOError -> INTERNAL, Busy/TryAgain/Incomplete/
//   ShutdownInProgress -> UNAVAILABLE, TimedOut/Expired -> DEADLINE_EXCEEDED,
//   Aborted/MergeInProgress -> ABORTED, ColumnFamilyDropped ->
//   FAILED_PRECONDITION, anything else -> UNKNOWN.
// The message is "rocksdb: " followed by RocksDB's own text.
absl::Status FromRocksDbStatus(const rocksdb::Status& status);

}  // namespace kiln

#endif  // KILN_COMMON_ROCKSDB_STATUS_H_
