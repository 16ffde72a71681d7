#include "coordinator/limited_fs.h"

#include <utility>

namespace kiln {
namespace {

class LimitedFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  LimitedFile(LimitedFileSystem* fs, std::string name,
              std::unique_ptr<rocksdb::FSWritableFile> file)
      : FSWritableFileOwnerWrapper(std::move(file)),
        fs_(fs),
        name_(std::move(name)) {}

  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& o,
                           rocksdb::IODebugContext* dbg) override {
    if (!fs_->Take(name_, data.size())) return Full();
    return target()->Append(data, o, dbg);
  }
  rocksdb::IOStatus Append(const rocksdb::Slice& data,
                           const rocksdb::IOOptions& o,
                           const rocksdb::DataVerificationInfo& v,
                           rocksdb::IODebugContext* dbg) override {
    if (!fs_->Take(name_, data.size())) return Full();
    return target()->Append(data, o, v, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     rocksdb::IODebugContext* dbg) override {
    if (!fs_->Take(name_, data.size())) return Full();
    return target()->PositionedAppend(data, offset, o, dbg);
  }
  rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data,
                                     uint64_t offset,
                                     const rocksdb::IOOptions& o,
                                     const rocksdb::DataVerificationInfo& v,
                                     rocksdb::IODebugContext* dbg) override {
    if (!fs_->Take(name_, data.size())) return Full();
    return target()->PositionedAppend(data, offset, o, v, dbg);
  }

 private:
  rocksdb::IOStatus Full() const {
    return rocksdb::IOStatus::NoSpace("While appending to file: " + name_,
                                      "No space left on device");
  }

  LimitedFileSystem* const fs_;
  const std::string name_;
};

}  // namespace

LimitedFileSystem::LimitedFileSystem(uint64_t capacity)
    : FileSystemWrapper(rocksdb::FileSystem::Default()), capacity_(capacity) {}

uint64_t LimitedFileSystem::free_bytes() const {
  MutexLock l(&mu_);
  return used_ >= capacity_ ? 0 : capacity_ - used_;
}

void LimitedFileSystem::set_capacity(uint64_t capacity) {
  MutexLock l(&mu_);
  capacity_ = capacity;
}

int LimitedFileSystem::refused_appends() const {
  MutexLock l(&mu_);
  return refused_;
}

bool LimitedFileSystem::Take(const std::string& file, uint64_t n) {
  MutexLock l(&mu_);
  if (used_ + n > capacity_) {
    ++refused_;
    return false;
  }
  used_ += n;
  sizes_[file] += n;
  return true;
}

void LimitedFileSystem::ForgetLocked(const std::string& file) {
  auto it = sizes_.find(file);
  if (it == sizes_.end()) return;
  used_ -= it->second;
  sizes_.erase(it);
}

rocksdb::IOStatus LimitedFileSystem::NewWritableFile(
    const std::string& f, const rocksdb::FileOptions& o,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->NewWritableFile(f, o, &file, dbg);
  if (!s.ok()) return s;
  {
    MutexLock l(&mu_);
    ForgetLocked(f);  // truncated: its bytes are free again
  }
  r->reset(new LimitedFile(this, f, std::move(file)));
  return s;
}

rocksdb::IOStatus LimitedFileSystem::ReuseWritableFile(
    const std::string& f, const std::string& old, const rocksdb::FileOptions& o,
    std::unique_ptr<rocksdb::FSWritableFile>* r, rocksdb::IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSWritableFile> file;
  rocksdb::IOStatus s = target()->ReuseWritableFile(f, old, o, &file, dbg);
  if (!s.ok()) return s;
  {
    MutexLock l(&mu_);
    ForgetLocked(old);
  }
  r->reset(new LimitedFile(this, f, std::move(file)));
  return s;
}

rocksdb::IOStatus LimitedFileSystem::DeleteFile(const std::string& f,
                                                const rocksdb::IOOptions& o,
                                                rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->DeleteFile(f, o, dbg);
  if (s.ok()) {
    MutexLock l(&mu_);
    ForgetLocked(f);
  }
  return s;
}

rocksdb::IOStatus LimitedFileSystem::RenameFile(const std::string& from,
                                                const std::string& to,
                                                const rocksdb::IOOptions& o,
                                                rocksdb::IODebugContext* dbg) {
  rocksdb::IOStatus s = target()->RenameFile(from, to, o, dbg);
  if (s.ok()) {
    MutexLock l(&mu_);
    auto it = sizes_.find(from);
    if (it != sizes_.end()) {
      const uint64_t n = it->second;
      sizes_.erase(it);
      ForgetLocked(to);  // replaced
      sizes_[to] = n;
    }
  }
  return s;
}

std::unique_ptr<rocksdb::Env> NewLimitedEnv(
    const std::shared_ptr<LimitedFileSystem>& fs) {
  return rocksdb::NewCompositeEnv(fs);
}

}  // namespace kiln
