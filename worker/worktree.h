// Repositories on a worker (DESIGN.md, "Worker"): a mirror cache of every
// git source (cloned once, fetched once per process, shared by all jobs)
// and a worktree per job at the requested ref, where the job's generated
// files are written and its checks and builds run.
//
// Sources: a git URL (anything `git clone` takes), a local git repository
// (used at its committed ref, HEAD when none: uncommitted changes are not
// seen, as in CI), or a local folder that is not a git repository (copied
// as it is; a ref is then an error).
//
// A job's first checkout (its SELECT) fetches the mirror, so a branch's new
// commits are seen, and resolves the ref; the coordinator then pins that
// commit (RepoSpec.commit) and every later checkout of the job, on any
// worker, is of exactly that commit, fetching only when it is missing.
//
// Generated files are written only inside the worktree, with
// WriteRepoFile (common/repo_file.h).
#ifndef KILN_WORKER_WORKTREE_H_
#define KILN_WORKER_WORKTREE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "common/mutex.h"
#include "common/repo_file.h"
#include "kiln/v1/spec.pb.h"
#include "worker/sandbox.h"

namespace kiln {

class RepoCache {
 public:
  // Mirrors and worktrees live under `dir` (created). At most
  // `max_worktrees` unused worktrees are kept; the least recently used go
  // first.
  explicit RepoCache(std::string dir, int max_worktrees = 64);
  RepoCache(const RepoCache&) = delete;
  RepoCache& operator=(const RepoCache&) = delete;

  // A job's worktree, checked out on first use; later calls for the same
  // job return the same directory. Each successful call must be paired with
  // Release(job_id). INVALID_ARGUMENT for a bad repo spec, NOT_FOUND for a
  // missing path or ref, UNAVAILABLE when git failed (its output included).
  absl::StatusOr<std::string> Acquire(const std::string& job_id,
                                      const kiln::v1::RepoSpec& repo);
  void Release(const std::string& job_id);
  // The commit an acquired job's worktree is at ("" for a folder that is
  // not a git repository).
  std::string CommitOf(const std::string& job_id);

  // Writes a file into an acquired job's worktree (WriteRepoFile), first
  // remembering what the path held at the job's ref.
  absl::Status WriteFile(const std::string& job_id, absl::string_view path,
                         absl::string_view content);
  // The file at the job's ref, whatever Kiln wrote over it since: nullopt
  // when the ref has no such file. Errors as ReadRepoFile's (a link that
  // leaves the worktree is refused).
  absl::StatusOr<absl::optional<std::string>> ReadBase(const std::string& job_id,
                                                       absl::string_view path);

  // git commands run so far (clone, fetch, checkout...), for tests of the
  // mirror cache.
  int64_t git_commands() const;

 private:
  struct Entry {
    Mutex mu;  // held while the worktree is created
    bool ready = false;
    absl::Status status;
    std::string path;
    std::string commit;  // "" for a plain folder
    int users = 0;
    int64_t last_used = 0;
    // What each path Kiln wrote held before (nullopt: nothing).
    Mutex files_mu;
    std::map<std::string, absl::optional<std::string>> originals
        ABSL_GUARDED_BY(files_mu);
  };
  std::shared_ptr<Entry> Find(const std::string& job_id);

  // Checks the repo out at `path`; the commit, "" for a plain folder.
  absl::StatusOr<std::string> Create(const kiln::v1::RepoSpec& repo, const std::string& path);
  // The mirror of `source`, cloned when missing, fetched when `fetch`.
  absl::StatusOr<std::string> Mirror(const std::string& source, bool fetch);
  // The commit `rev` names in `mirror`, if any.
  absl::optional<std::string> Resolve(const std::string& mirror, const std::string& rev);
  absl::StatusOr<std::string> Git(const std::vector<std::string>& args,
                                  const std::string& cwd = "");
  void Evict();

  const std::string dir_;
  const int max_worktrees_;
  HostSandbox host_;
  mutable Mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Mutex>> mirror_locks_ ABSL_GUARDED_BY(mu_);
  int64_t tick_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t git_commands_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kiln

#endif  // KILN_WORKER_WORKTREE_H_
