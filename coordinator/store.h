// The coordinator's durable state: one RocksDB database with a column family
// per kind of record (see proto/kiln/v1/store.proto for the values).
//
// Thread-safe (RocksDB is). Every state transition is written as one
// WriteBatch; the coordinator's event loop group-commits everything one loop
// turn produced with a single synced write. Blob uploads write unsynced from
// gRPC threads: RocksDB has one write-ahead log, so the synced write of the
// result that references a blob makes the blob durable too.
//
// A storage error is sticky: after the first failed write every later Write
// returns the same error, and the coordinator reports itself unhealthy.
//
// A full disk is refused before RocksDB meets it (RocksDB aborts the process
// when a synced write-ahead log it failed to append to is synced again, and
// again at every restart on the full disk): a write that would leave less
// than `reserve_bytes` free is refused with RESOURCE_EXHAUSTED naming the
// directory and its free space, and a database opened with less than that
// free is opened read-only, with that error sticky from the start.
#ifndef KILN_COORDINATOR_STORE_H_
#define KILN_COORDINATOR_STORE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace kiln {

// Column families. kMeta is RocksDB's default family (epoch, counters,
// idempotency keys).
enum class Cf {
  kMeta = 0,
  kBatches,
  kJobs,
  kTasks,
  kBlobs,
  kEvents,
  kCache,
  kLog,
  kSemaphores,
};
inline constexpr int kNumCfs = 9;

struct StoreOptions {
  // Open an existing database for reading only (tools and tests inspecting a
  // stopped coordinator's state).
  bool read_only = false;
  // fsync the write-ahead log on Write(sync=true). Off only in tests that
  // never crash the process.
  bool sync = true;
  // Free bytes a write must leave on the state directory's filesystem; 0
  // checks nothing (RocksDB's own out-of-space error is still mapped to
  // RESOURCE_EXHAUSTED).
  uint64_t reserve_bytes = 0;
  // The free bytes of the filesystem holding `path` (statvfs when unset).
  // Tests fake a filling disk with it.
  std::function<absl::StatusOr<uint64_t>(const std::string& path)> free_bytes;
  // RocksDB's environment (tests inject a failing filesystem); the default
  // when null.
  rocksdb::Env* env = nullptr;
};

// The free bytes of the filesystem holding `path` (statvfs).
absl::StatusOr<uint64_t> FilesystemFreeBytes(const std::string& path);

// "12.5 MiB", for messages about space.
std::string FormatBytes(uint64_t bytes);

class Store {
 public:
  // Opens (creating if needed) the database at `path`. UNAVAILABLE when
  // another process holds it; DATA_LOSS when it is corrupt.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  rocksdb::ColumnFamilyHandle* cf(Cf family) const {
    return handles_[static_cast<int>(family)];
  }

  // Applies `batch` atomically; with `sync`, durable when this returns
  // (unless StoreOptions::sync is off). Errors are sticky.
  absl::Status Write(rocksdb::WriteBatch* batch, bool sync);

  // The value at `key`; NOT_FOUND when absent.
  absl::StatusOr<std::string> Get(Cf family, absl::string_view key) const;

  // Calls `fn(key, value)` for keys starting with `prefix` that sort after
  // `after` (all of them when `after` is empty), in key order, until it
  // returns false.
  absl::Status Scan(
      Cf family, absl::string_view prefix, absl::string_view after,
      const std::function<bool(absl::string_view, absl::string_view)>& fn)
      const;

  // The first error a Write met, or OK.
  absl::Status sticky_error() const;

  // True when the database was opened read-only (asked for, or the disk was
  // full at Open).
  bool read_only() const { return read_only_; }

  // Free bytes on the state directory's filesystem now.
  absl::StatusOr<uint64_t> FreeBytes() const;

  const std::string& path() const { return path_; }

  // Bytes of memtables and block cache held, for memory accounting.
  uint64_t MemoryUsage() const;

 private:
  Store() = default;

  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kNumCfs> handles_{};
  // RESOURCE_EXHAUSTED: the directory, its free space and why.
  absl::Status OutOfSpace(uint64_t free, absl::string_view what) const;

  StoreOptions options_;
  std::string path_;
  bool read_only_ = false;
  mutable Mutex mu_;
  absl::Status sticky_ ABSL_GUARDED_BY(mu_);
};

// Big-endian fixed-width encoding, so numeric keys sort as numbers.
std::string EncodeU64(uint64_t v);
uint64_t DecodeU64(absl::string_view bytes);

}  // namespace kiln

#endif  // KILN_COORDINATOR_STORE_H_
