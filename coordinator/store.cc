#include "coordinator/store.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rocksdb_status.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_buffer_manager.h"

namespace kiln {

namespace {

constexpr const char* kCfNames[kNumCfs] = {
    "default", "batches", "jobs", "tasks", "blobs", "events", "cache", "log",
    "semaphores"};

rocksdb::ColumnFamilyOptions FamilyOptions(
    const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  // Records are small protobufs written once or twice: favour write speed
  // and CPU over space (2 cores are shared with gRPC and the scheduler).
  o.compression = rocksdb::kNoCompression;
  o.write_buffer_size = 8 << 20;
  // Most point reads on the hot path miss (a task's first record, an action
  // key never seen): bloom filters answer those without a skiplist or block
  // search.
  o.memtable_prefix_bloom_size_ratio = 0.05;
  o.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

bool DatabaseExists(const std::string& path) {
  struct stat st;
  return ::stat((path + "/CURRENT").c_str(), &st) == 0;
}

// Bytes of the write-ahead logs in `path`: opening the database writes them
// again, as a table file.
uint64_t LogBytes(const std::string& path) {
  std::error_code ec;
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(path, ec)) {
    if (e.path().extension() == ".log") {
      const auto n = e.file_size(ec);
      if (!ec) total += n;
    }
  }
  return total;
}

}  // namespace

absl::StatusOr<uint64_t> FilesystemFreeBytes(const std::string& path) {
  // The directory may not exist yet: ask its nearest existing parent.
  std::string dir = path.empty() ? "." : path;
  struct statvfs st;
  while (::statvfs(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::InternalError(
          absl::StrCat("statvfs ", dir, ": ", std::strerror(errno)));
    }
    const size_t slash = dir.find_last_of('/');
    if (slash == std::string::npos) {
      dir = ".";
    } else if (slash == 0) {
      dir = "/";
    } else {
      dir.resize(slash);
    }
  }
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " bytes");
  if (bytes < (1u << 20)) return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  if (bytes < (1u << 30)) {
    return absl::StrFormat("%.1f MiB", bytes / double(1 << 20));
  }
  return absl::StrFormat("%.1f GiB", bytes / double(1 << 30));
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   StoreOptions options) {
  std::unique_ptr<Store> store(new Store());
  store->path_ = path;
  store->options_ = options;
  if (!options.free_bytes) store->options_.free_bytes = FilesystemFreeBytes;
  // A full disk: serve what is there, read-only (RocksDB would abort while
  // recovering its log), or say in one line why there is nothing to serve.
  if (!options.read_only && options.reserve_bytes > 0) {
    absl::StatusOr<uint64_t> free = store->FreeBytes();
    if (free.ok() && *free < options.reserve_bytes + LogBytes(path)) {
      absl::Status full = store->OutOfSpace(*free, "opened read-only");
      if (!DatabaseExists(path)) {
        return absl::ResourceExhaustedError(absl::StrCat(
            "cannot create the state directory ", path, ": ",
            FormatBytes(*free), " free, less than the ",
            FormatBytes(options.reserve_bytes), " it must keep free"));
      }
      options.read_only = true;
      store->sticky_ = full;
    }
  }
  store->read_only_ = options.read_only;
  rocksdb::DBOptions db_options;
  if (options.env != nullptr) db_options.env = options.env;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Many small writers (blob uploads, the event loop) share one WAL.
  db_options.enable_pipelined_write = true;
  auto cache = rocksdb::NewLRUCache(32 << 20);
  // One memtable budget for all families, so memory stays flat however many
  // records a long run writes (they are flushed to SST files instead).
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(32 << 20, cache);
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kCfNames) {
    families.emplace_back(name, FamilyOptions(cache));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, path, families, &handles,
                                         &db)
          : rocksdb::DB::Open(db_options, path, families, &handles, &db);
  if (!s.ok()) {
    absl::Status status = FromRocksDbStatus(s);
    if (s.IsIOError() && absl::StrContains(s.ToString(), "lock")) {
      return absl::UnavailableError(absl::StrCat(
          "the state directory ", path,
          " is in use by another coordinator: ", s.ToString()));
    }
    return absl::Status(status.code(),
                        absl::StrCat("opening ", path, ": ", status.message()));
  }
  store->db_.reset(db);
  for (int i = 0; i < kNumCfs; ++i) store->handles_[i] = handles[i];
  return store;
}

Store::~Store() {
  if (db_ == nullptr) return;
  for (auto* h : handles_) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h);
  }
  db_->Close();
}

absl::Status Store::Write(rocksdb::WriteBatch* batch, bool sync) {
  {
    MutexLock l(&mu_);
    if (!sticky_.ok()) return sticky_;
  }
  if (options_.reserve_bytes > 0) {
    // The write goes to the log now and to a table file at the next flush.
    absl::StatusOr<uint64_t> free = FreeBytes();
    const uint64_t need = options_.reserve_bytes + 2 * batch->GetDataSize();
    if (free.ok() && *free < need) {
      absl::Status full = OutOfSpace(*free, "writes are refused");
      MutexLock l(&mu_);
      if (sticky_.ok()) sticky_ = full;
      return sticky_;
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync && options_.sync;
  rocksdb::Status s = db_->Write(wo, batch);
  if (s.ok()) return absl::OkStatus();
  absl::Status status = FromRocksDbStatus(s);
  if (s.IsNoSpace()) {
    absl::StatusOr<uint64_t> free = FreeBytes();
    status = OutOfSpace(free.ok() ? *free : 0, "writes are refused");
  }
  MutexLock l(&mu_);
  if (sticky_.ok()) sticky_ = status;
  return sticky_;
}

absl::StatusOr<std::string> Store::Get(Cf family, absl::string_view key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(family),
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (!s.ok()) return FromRocksDbStatus(s);
  return value;
}

absl::Status Store::Scan(
    Cf family, absl::string_view prefix, absl::string_view after,
    const std::function<bool(absl::string_view, absl::string_view)>& fn)
    const {
  std::unique_ptr<rocksdb::Iterator> it(
      db_->NewIterator(rocksdb::ReadOptions(), cf(family)));
  const std::string start = after.empty() ? std::string(prefix)
                                          : std::string(after);
  for (it->Seek(start); it->Valid(); it->Next()) {
    const absl::string_view k(it->key().data(), it->key().size());
    if (!absl::StartsWith(k, prefix)) break;
    if (!after.empty() && k == after) continue;
    if (!fn(k, absl::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return FromRocksDbStatus(it->status());
}

absl::StatusOr<uint64_t> Store::FreeBytes() const {
  return options_.free_bytes(path_);
}

absl::Status Store::OutOfSpace(uint64_t free, absl::string_view what) const {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the state directory ", path_, " is full: ", FormatBytes(free),
      " free, less than the ", FormatBytes(options_.reserve_bytes),
      " it must keep free; ", what,
      " (reads are still served) until there is room and the coordinator "
      "restarts"));
}

absl::Status Store::sticky_error() const {
  MutexLock l(&mu_);
  return sticky_;
}

uint64_t Store::MemoryUsage() const {
  uint64_t total = 0;
  uint64_t v = 0;
  for (auto* h : handles_) {
    if (db_->GetIntProperty(h, "rocksdb.cur-size-all-mem-tables", &v)) {
      total += v;
    }
  }
  if (db_->GetIntProperty("rocksdb.block-cache-usage", &v)) total += v;
  return total;
}

std::string EncodeU64(uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return out;
}

uint64_t DecodeU64(absl::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < bytes.size(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return v;
}

}  // namespace kiln
