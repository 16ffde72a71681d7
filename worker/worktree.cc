#include "worker/worktree.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "common/digest.h"
#include "common/repo_path.h"

namespace kiln {

namespace fs = std::filesystem;

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

// Opens `target` (a resolved link) as a directory when it lies inside the
// worktree; PERMISSION_DENIED naming the link otherwise.
absl::StatusOr<int> OpenLinked(const std::string& real_root,
                               absl::string_view path, const std::string& rel,
                               int flags) {
  const std::string target = RealPath(absl::StrCat(real_root, "/", rel));
  if (target.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path \"", path, "\": \"", rel,
        "\" is a symbolic link that leads nowhere; generated files are "
        "written only inside the worktree"));
  }
  if (!Inside(real_root, target)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path \"", path, "\": \"", rel, "\" is a symbolic link to ", target,
        ", outside the worktree; generated files are written only inside it"));
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
          OpenLinked(*real_root, path, rel, O_DIRECTORY | O_RDONLY);
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
        OpenLinked(real_root, path, std::string(path), O_RDONLY);
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

RepoCache::RepoCache(std::string dir, int max_worktrees)
    : dir_(std::move(dir)), max_worktrees_(std::max(1, max_worktrees)) {
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "mirrors", ec);
  fs::create_directories(fs::path(dir_) / "jobs", ec);
}

int64_t RepoCache::git_commands() const {
  MutexLock l(&mu_);
  return git_commands_;
}

absl::StatusOr<std::string> RepoCache::Git(const std::vector<std::string>& args,
                                           const std::string& cwd) {
  {
    MutexLock l(&mu_);
    git_commands_++;
  }
  CommandSpec spec;
  spec.argv = {"git"};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.cwd = cwd;
  spec.timeout = absl::Minutes(10);
  spec.memory_bytes = 0;
  spec.env = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  absl::StatusOr<CommandResult> r = host_.Run(spec, nullptr);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return absl::UnavailableError(absl::StrCat(
        "git ", absl::StrJoin(args, " "), ": exit ", r->exit_code, ": ", r->output));
  }
  return r->output;
}

absl::StatusOr<std::string> RepoCache::Mirror(const std::string& source) {
  const std::string key = Sha256Hex(source).substr(0, 16);
  const std::string path = (fs::path(dir_) / "mirrors" / (key + ".git")).string();
  std::shared_ptr<Mutex> lock;
  {
    MutexLock l(&mu_);
    auto& m = mirror_locks_[key];
    if (!m) m = std::make_shared<Mutex>();
    lock = m;
  }
  MutexLock ml(lock.get());
  std::error_code ec;
  bool fetched;
  {
    MutexLock l(&mu_);
    fetched = fetched_[key];
  }
  if (!fs::exists(fs::path(path) / "HEAD", ec)) {
    const std::string tmp = path + ".tmp";
    fs::remove_all(tmp, ec);
    absl::StatusOr<std::string> cloned =
        Git({"clone", "--mirror", "--quiet", source, tmp});
    if (!cloned.ok()) {
      fs::remove_all(tmp, ec);
      return absl::Status(cloned.status().code(),
                          absl::StrCat("repo ", source, ": ", cloned.status().message()));
    }
    fs::remove_all(path, ec);
    fs::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("rename ", tmp, ": ", ec.message()));
  } else if (!fetched) {
    // Once per process: new commits of a branch become visible. Offline,
    // the mirror is used as it is.
    (void)Git({"--git-dir", path, "fetch", "--quiet", "--prune", "origin"});
  }
  MutexLock l(&mu_);
  fetched_[key] = true;
  return path;
}

absl::Status RepoCache::Create(const kiln::v1::RepoSpec& repo,
                               const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);  // a leftover of an earlier process
  std::string source;
  if (repo.source_case() == kiln::v1::RepoSpec::kUrl && !repo.url().empty()) {
    source = repo.url();
  } else if (repo.source_case() == kiln::v1::RepoSpec::kPath && !repo.path().empty()) {
    fs::path p = fs::absolute(repo.path(), ec);
    if (!fs::is_directory(p, ec)) {
      return absl::NotFoundError(absl::StrCat(
          "repo.path: ", p.string(), " is not a directory on worker"));
    }
    // A work tree, or a bare repository.
    const bool is_git = fs::exists(p / ".git", ec) ||
                        (fs::is_regular_file(p / "HEAD", ec) &&
                         fs::is_directory(p / "objects", ec));
    if (!is_git) {
      if (!repo.ref().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "repo.ref: ", p.string(), " is not a git repository, so it has no ref \"",
            repo.ref(), "\""));
      }
      fs::copy(p, path, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
      if (ec) {
        return absl::InternalError(absl::StrCat("copy ", p.string(), ": ", ec.message()));
      }
      return absl::OkStatus();
    }
    source = p.string();
  } else {
    return absl::InvalidArgumentError("repo: set either path or url");
  }
  absl::StatusOr<std::string> mirror = Mirror(source);
  if (!mirror.ok()) return mirror.status();
  const std::string ref = repo.ref().empty() ? "HEAD" : repo.ref();
  absl::StatusOr<std::string> sha =
      Git({"--git-dir", *mirror, "rev-parse", "--verify", "--quiet",
           absl::StrCat(ref, "^{commit}")});
  if (!sha.ok()) {
    return absl::NotFoundError(absl::StrCat(
        "repo.ref: \"", ref, "\" is not a commit, branch or tag of ", source));
  }
  std::string commit(absl::StripAsciiWhitespace(*sha));
  absl::StatusOr<std::string> cloned =
      Git({"clone", "--quiet", "--shared", "--no-checkout", *mirror, path});
  if (!cloned.ok()) return cloned.status();
  absl::StatusOr<std::string> co =
      Git({"-C", path, "checkout", "--quiet", "--detach", commit});
  if (!co.ok()) return co.status();
  return absl::OkStatus();
}

absl::StatusOr<std::string> RepoCache::Acquire(const std::string& job_id,
                                               const kiln::v1::RepoSpec& repo) {
  std::shared_ptr<Entry> e;
  {
    MutexLock l(&mu_);
    auto& slot = jobs_[job_id];
    if (!slot) {
      slot = std::make_shared<Entry>();
      std::string name = job_id;
      for (char& c : name) {
        if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
            c != '_' && c != '.') {
          c = '_';
        }
      }
      slot->path = (fs::path(dir_) / "jobs" /
                    absl::StrCat(name, "-", Sha256Hex(job_id).substr(0, 8)))
                       .string();
    }
    e = slot;
    e->users++;
    e->last_used = ++tick_;
  }
  MutexLock el(&e->mu);
  if (!e->ready) {
    absl::Status s = Create(repo, e->path);
    if (!s.ok()) {
      // Not remembered: the next attempt tries again (a network error may
      // pass).
      MutexLock l(&mu_);
      e->users--;
      return s;
    }
    e->ready = true;
  }
  return e->path;
}

void RepoCache::Release(const std::string& job_id) {
  MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return;
  it->second->users--;
  Evict();
}

void RepoCache::Evict() {
  while (static_cast<int>(jobs_.size()) > max_worktrees_) {
    auto victim = jobs_.end();
    for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
      if (it->second->users > 0) continue;
      if (victim == jobs_.end() || it->second->last_used < victim->second->last_used) {
        victim = it;
      }
    }
    if (victim == jobs_.end()) return;
    std::error_code ec;
    fs::remove_all(victim->second->path, ec);
    jobs_.erase(victim);
  }
}

}  // namespace kiln
