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

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/digest.h"
#include "common/repo_file.h"
#include "common/repo_path.h"
#include "worker/git.h"

namespace kiln {

namespace fs = std::filesystem;

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
  GitRunner::Options o;
  o.cwd = cwd;
  return GitRunner(&host_, std::move(o)).Out(args);
}

absl::StatusOr<std::string> RepoCache::Mirror(const std::string& source, bool fetch) {
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
  } else if (fetch) {
    // New commits of a branch become visible. Offline, the mirror is used
    // as it is.
    (void)Git({"--git-dir", path, "fetch", "--quiet", "--prune", "origin"});
  }
  return path;
}

absl::optional<std::string> RepoCache::Resolve(const std::string& mirror,
                                               const std::string& rev) {
  absl::StatusOr<std::string> sha = Git(
      {"--git-dir", mirror, "rev-parse", "--verify", "--quiet", absl::StrCat(rev, "^{commit}")});
  if (!sha.ok()) return absl::nullopt;
  return std::string(absl::StripAsciiWhitespace(*sha));
}

absl::StatusOr<std::string> RepoCache::Create(const kiln::v1::RepoSpec& repo,
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
      return std::string();
    }
    source = p.string();
  } else {
    return absl::InvalidArgumentError("repo: set either path or url");
  }
  // Pinned: exactly that commit, fetching only when the mirror lacks it.
  // Not pinned (the job's SELECT): the ref as it is now.
  const bool pinned = !repo.commit().empty();
  absl::StatusOr<std::string> mirror = Mirror(source, /*fetch=*/!pinned);
  if (!mirror.ok()) return mirror.status();
  const std::string ref = repo.ref().empty() ? "HEAD" : repo.ref();
  absl::optional<std::string> commit = Resolve(*mirror, pinned ? repo.commit() : ref);
  if (!commit && pinned) {
    mirror = Mirror(source, /*fetch=*/true);
    if (!mirror.ok()) return mirror.status();
    commit = Resolve(*mirror, repo.commit());
    if (!commit) {
      return absl::NotFoundError(absl::StrCat(
          "repo.commit: ", repo.commit(), " (what \"", ref,
          "\" pointed to when the job started) is no longer in ", source));
    }
  }
  if (!commit) {
    return absl::NotFoundError(absl::StrCat(
        "repo.ref: \"", ref, "\" is not a commit, branch or tag of ", source));
  }
  absl::StatusOr<std::string> cloned =
      Git({"clone", "--quiet", "--shared", "--no-checkout", *mirror, path});
  if (!cloned.ok()) return cloned.status();
  absl::StatusOr<std::string> co =
      Git({"-C", path, "checkout", "--quiet", "--detach", *commit});
  if (!co.ok()) return co.status();
  return *commit;
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
    absl::StatusOr<std::string> commit = Create(repo, e->path);
    if (!commit.ok()) {
      // Not remembered: the next attempt tries again (a network error may
      // pass).
      MutexLock l(&mu_);
      e->users--;
      return commit.status();
    }
    e->commit = std::move(*commit);
    e->ready = true;
  }
  return e->path;
}

std::string RepoCache::CommitOf(const std::string& job_id) {
  std::shared_ptr<Entry> e = Find(job_id);
  if (e == nullptr) return "";
  MutexLock el(&e->mu);
  return e->commit;
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

std::shared_ptr<RepoCache::Entry> RepoCache::Find(const std::string& job_id) {
  MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !it->second->ready) return nullptr;
  return it->second;
}

absl::Status RepoCache::WriteFile(const std::string& job_id, absl::string_view path,
                                  absl::string_view content) {
  std::shared_ptr<Entry> e = Find(job_id);
  if (!e) return absl::FailedPreconditionError(absl::StrCat("no worktree for job ", job_id));
  MutexLock l(&e->files_mu);
  const std::string key(path);
  if (e->originals.find(key) == e->originals.end()) {
    absl::StatusOr<std::string> before = ReadRepoFile(e->path, path);
    if (before.ok()) {
      e->originals[key] = std::move(*before);
    } else if (before.status().code() == absl::StatusCode::kNotFound) {
      e->originals[key] = absl::nullopt;
    }
    // Any other error (a link leaving the worktree) is WriteRepoFile's too.
  }
  return WriteRepoFile(e->path, path, content);
}

absl::StatusOr<absl::optional<std::string>> RepoCache::ReadBase(
    const std::string& job_id, absl::string_view path) {
  std::shared_ptr<Entry> e = Find(job_id);
  if (!e) return absl::FailedPreconditionError(absl::StrCat("no worktree for job ", job_id));
  MutexLock l(&e->files_mu);
  auto it = e->originals.find(std::string(path));
  if (it != e->originals.end()) return it->second;
  absl::StatusOr<std::string> now = ReadRepoFile(e->path, path);
  if (now.ok()) return absl::optional<std::string>(std::move(*now));
  if (now.status().code() == absl::StatusCode::kNotFound) {
    return absl::optional<std::string>();
  }
  return now.status();
}

}  // namespace kiln
