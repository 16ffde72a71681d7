// Landing a job's change in its repository (docs/landing.md), the worker's
// side of a LAND task: one commit of the job's changed files on top of the
// ref the job started from, on its branch, its `git format-patch`; with
// `push`, the branch pushed with --force-with-lease against what Kiln last
// pushed there; then the pull request opened (or updated) by the user's
// forge CLI. Idempotent: the commit is a function of the files, the
// message, the author and the batch's creation time, so a retried LAND
// makes the same commit; a branch already at it is not pushed again; a
// retry after the push updates the pull request before it opens one.
//
// Git runs outside the no-network sandbox, with git's own credentials
// (helper, SSH agent, GIT_ASKPASS) or a token from the worker's
// environment; URLs are stored and reported without their credentials,
// and git's messages are redacted.
#ifndef KILN_WORKER_LAND_H_
#define KILN_WORKER_LAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "worker/sandbox.h"

namespace kiln {

struct LandFile {
  std::string path;
  std::string content;
};

struct LandInputs {
  // The job's worktree; the changed files are already written into it.
  std::string worktree;
  // The job, with its land templates rendered but for {summary}.
  const kiln::v1::JobSpec* job = nullptr;
  // What Kiln last did on this remote and branch (pushed_commit, pr_url).
  kiln::v1::Landing previous;
  // The files that differ from the ref, and the summary of the change.
  std::vector<LandFile> files;
  std::string summary;
  // The commit's author and committer date.
  absl::Time commit_time;
  // A private directory for the index, the message and the PR body.
  std::string scratch;
  // An environment variable holding a token for git (GIT_ASKPASS); empty:
  // git's own credentials.
  std::string token_env;
  absl::Duration git_timeout = absl::Minutes(10);
};

struct LandOutcome {
  kiln::v1::Landing landing;
  std::string patch;   // format-patch text; empty when nothing was committed
  absl::Status error;  // OK, or why the landing failed or was rejected
  bool retryable = false;
};

class Lander {
 public:
  // `host` runs git and the PR commands (not owned; no network sandbox).
  explicit Lander(Sandbox* host) : host_(host) {}
  LandOutcome Land(const LandInputs& in, Cancellation* cancel);

 private:
  Sandbox* const host_;
};

}  // namespace kiln

#endif  // KILN_WORKER_LAND_H_
