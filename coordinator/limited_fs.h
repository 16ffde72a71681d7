// A RocksDB filesystem of a fixed capacity, for tests of a full state disk:
// it counts the bytes its files hold, fails appends past the capacity with
// "No space left on device", and reports its free bytes for the Store's
// free-space probe. The capacity can be raised to "make room".
#ifndef KILN_COORDINATOR_LIMITED_FS_H_
#define KILN_COORDINATOR_LIMITED_FS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace kiln {

class LimitedFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit LimitedFileSystem(uint64_t capacity);

  static const char* kClassName() { return "LimitedFileSystem"; }
  const char* Name() const override { return kClassName(); }

  // Bytes left before appends fail.
  uint64_t free_bytes() const;
  void set_capacity(uint64_t capacity);
  // Appends refused so far.
  int refused_appends() const;

  rocksdb::IOStatus NewWritableFile(const std::string& f,
                                    const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& f, const std::string& old,
      const rocksdb::FileOptions& o,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus DeleteFile(const std::string& f,
                               const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& from, const std::string& to,
                               const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;

  // Called by the files: reserves `n` bytes for `file`, false when full.
  bool Take(const std::string& file, uint64_t n);

 private:
  // `file`'s bytes are free again (it was deleted, truncated or replaced).
  void ForgetLocked(const std::string& file) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  uint64_t capacity_ ABSL_GUARDED_BY(mu_);
  uint64_t used_ ABSL_GUARDED_BY(mu_) = 0;
  int refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, uint64_t> sizes_ ABSL_GUARDED_BY(mu_);
};

// A RocksDB Env over `fs` (StoreOptions::env).
std::unique_ptr<rocksdb::Env> NewLimitedEnv(
    const std::shared_ptr<LimitedFileSystem>& fs);

}  // namespace kiln

#endif  // KILN_COORDINATOR_LIMITED_FS_H_
