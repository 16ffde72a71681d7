#include "common/repo_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/repo_path.h"

namespace kiln {
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// realpath(3), or empty.
std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

bool Inside(const std::string& real_root, const std::string& target) {
  return target == real_root || absl::StartsWith(target, real_root + "/");
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// What a refused link was followed for, in its message.
enum class Access { kRead, kWrite };

const char* Rule(Access access) {
  return access == Access::kWrite ? "generated files are written only inside the worktree"
                                  : "repo files are read only from inside the worktree";
}

// Opens `target` (a resolved link) as a directory when it lies inside the
// worktree; PERMISSION_DENIED naming the link otherwise.
absl::StatusOr<int> OpenLinked(const std::string& real_root,
                               absl::string_view path, const std::string& rel,
                               int flags, Access access) {
  const std::string target = RealPath(absl::StrCat(real_root, "/", rel));
  if (target.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path \"", path, "\": \"", rel, "\" is a symbolic link that leads nowhere; ",
        Rule(access)));
  }
  if (!Inside(real_root, target)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path \"", path, "\": \"", rel, "\" is a symbolic link to ", target,
        ", outside the worktree; ", Rule(access)));
  }
  const int fd = ::open(target.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("open ", target, ": ", ErrnoText()));
  }
  return fd;
}

// The directory holding `path`'s last segment, walked one segment at a
// time from the worktree's root without following links that leave it.
absl::StatusOr<int> OpenParent(const std::string& root, absl::string_view path,
                               bool create, std::string* real_root,
                               std::string* leaf) {
  const Access access = create ? Access::kWrite : Access::kRead;
  absl::Status lexical = CheckRepoPath(path);
  if (!lexical.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("path \"", path, "\": ", lexical.message()));
  }
  *real_root = RealPath(root);
  if (real_root->empty()) {
    return absl::NotFoundError(absl::StrCat("worktree ", root, ": ", ErrnoText()));
  }
  Fd fd(::open(real_root->c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return absl::InternalError(absl::StrCat("open ", *real_root, ": ", ErrnoText()));
  }
  std::vector<std::string> segments = absl::StrSplit(path, '/');
  *leaf = segments.back();
  segments.pop_back();
  std::string rel;
  for (const std::string& seg : segments) {
    rel = rel.empty() ? seg : absl::StrCat(rel, "/", seg);
    struct stat st;
    if (::fstatat(fd.get(), seg.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno != ENOENT || !create) {
        return absl::NotFoundError(absl::StrCat("path \"", path, "\": ", rel,
                                                ": ", ErrnoText()));
      }
      if (::mkdirat(fd.get(), seg.c_str(), 0755) != 0 && errno != EEXIST) {
        return absl::InternalError(absl::StrCat("mkdir ", rel, ": ", ErrnoText()));
      }
      if (::fstatat(fd.get(), seg.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return absl::InternalError(absl::StrCat("stat ", rel, ": ", ErrnoText()));
      }
    }
    int next;
    if (S_ISLNK(st.st_mode)) {
      absl::StatusOr<int> linked =
          OpenLinked(*real_root, path, rel, O_DIRECTORY | O_RDONLY, access);
      if (!linked.ok()) return linked.status();
      next = *linked;
    } else if (S_ISDIR(st.st_mode)) {
      next = ::openat(fd.get(), seg.c_str(),
                      O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "path \"", path, "\": \"", rel, "\" is a file, not a directory"));
    }
    if (next < 0) {
      return absl::InternalError(absl::StrCat("open ", rel, ": ", ErrnoText()));
    }
    fd.reset(next);
  }
  return fd.release();  // the caller owns it
}

}  // namespace

absl::Status WriteRepoFile(const std::string& root, absl::string_view path,
                           absl::string_view content) {
  std::string real_root, leaf;
  absl::StatusOr<int> dir = OpenParent(root, path, /*create=*/true, &real_root, &leaf);
  if (!dir.ok()) return dir.status();
  Fd dfd(*dir);
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      absl::StrCat(".kiln-tmp-", ::getpid(), "-", counter.fetch_add(1), "-", leaf);
  Fd f(::openat(dfd.get(), tmp.c_str(),
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (f.get() < 0) {
    return absl::InternalError(absl::StrCat("create ", path, ": ", ErrnoText()));
  }
  size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(f.get(), content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = ErrnoText();
      ::unlinkat(dfd.get(), tmp.c_str(), 0);
      return absl::InternalError(absl::StrCat("write ", path, ": ", err));
    }
    off += static_cast<size_t>(n);
  }
  // A link at the leaf is replaced, not followed.
  if (::renameat(dfd.get(), tmp.c_str(), dfd.get(), leaf.c_str()) != 0) {
    const std::string err = ErrnoText();
    ::unlinkat(dfd.get(), tmp.c_str(), 0);
    return absl::InternalError(absl::StrCat("rename into ", path, ": ", err));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadRepoFile(const std::string& root,
                                         absl::string_view path) {
  std::string real_root, leaf;
  absl::StatusOr<int> dir = OpenParent(root, path, /*create=*/false, &real_root, &leaf);
  if (!dir.ok()) return dir.status();
  Fd dfd(*dir);
  struct stat st;
  if (::fstatat(dfd.get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return absl::NotFoundError(absl::StrCat("\"", path, "\" does not exist in the repo"));
  }
  Fd f;
  if (S_ISLNK(st.st_mode)) {
    absl::StatusOr<int> linked =
        OpenLinked(real_root, path, std::string(path), O_RDONLY, Access::kRead);
    if (!linked.ok()) return linked.status();
    f.reset(*linked);
  } else {
    f.reset(::openat(dfd.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  }
  if (f.get() < 0) {
    return absl::InternalError(absl::StrCat("open ", path, ": ", ErrnoText()));
  }
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InternalError(absl::StrCat("read ", path, ": ", ErrnoText()));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace kiln
