#include "cli/land_commands.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/render.h"
#include "spec/spec_validator.h"
#include "common/repo_file.h"
#include "common/subprocess.h"

namespace kiln {
namespace cli {

namespace fs = std::filesystem;

kiln::v1::BatchSpec RetrySpec(const kiln::v1::Batch& batch, bool failed_only) {
  kiln::v1::BatchSpec spec;
  spec.set_name(batch.spec().name());
  *spec.mutable_policy() = batch.spec().policy();
  spec.set_tenant(batch.spec().tenant());
  *spec.mutable_labels() = batch.spec().labels();
  // Matrix jobs stay matrix jobs (of the same template, so {name} and the
  // branch are the same); explicit ones stay explicit.
  std::map<std::string, const kiln::v1::MatrixRepo*> matrix;
  const kiln::v1::MatrixSpec& m = batch.spec().matrix();
  const std::vector<kiln::v1::JobSpec> expanded = ExpandJobs(batch.spec());
  for (size_t k = static_cast<size_t>(batch.spec().jobs_size()); k < expanded.size(); ++k) {
    matrix[expanded[k].name()] = &m.repos(static_cast<int>(k) - batch.spec().jobs_size());
  }
  for (const kiln::v1::Job& j : batch.jobs()) {
    if (failed_only && !DidNotLand(j)) continue;
    auto it = matrix.find(j.spec().name());
    if (it == matrix.end()) {
      kiln::v1::JobSpec* job = spec.add_jobs();
      *job = j.spec();
      // The retry checks the ref out as it is now (at the same commit, the
      // finished tasks come from the result cache) and selects again there:
      // the files its `select` chose (they carry their content's digest)
      // are left to the new SELECT.
      job->mutable_repo()->clear_commit();
      if (job->has_select()) {
        auto* files = job->mutable_files();
        files->erase(std::remove_if(files->begin(), files->end(),
                                    [](const kiln::v1::FileSpec& f) {
                                      return !f.base_digest().empty();
                                    }),
                     files->end());
      }
      continue;
    }
    *spec.mutable_matrix()->mutable_job() = m.job();
    kiln::v1::MatrixRepo* r = spec.mutable_matrix()->add_repos();
    *r->mutable_repo() = it->second->repo();
    r->set_name(j.spec().name());
  }
  return spec;
}

absl::StatusOr<std::string> JobIdByName(const kiln::v1::Batch& batch, const std::string& name) {
  for (const auto& j : batch.jobs()) {
    if (j.spec().name() == name || j.id() == name) return j.id();
  }
  return absl::NotFoundError(
      absl::StrCat("--job: batch ", batch.id(), " has no job \"", name, "\""));
}

namespace {

// The patches of the batch (of one job when `job_id` is set), in job order.
absl::StatusOr<std::vector<std::pair<kiln::v1::Artifact, std::string>>> Patches(
    Client* client, const std::string& batch_id, const std::string& job_id) {
  std::vector<std::pair<kiln::v1::Artifact, std::string>> out;
  absl::Status s = client->Fetch(
      batch_id, job_id,
      [&out](const kiln::v1::Artifact& a, const std::string& content) {
        out.emplace_back(a, content);
        return absl::OkStatus();
      },
      /*patches=*/true);
  if (!s.ok()) return s;
  return out;
}

// git, from PATH (Subprocess runs a path, not a name).
std::string GitBinary() {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path != nullptr ? path : "/usr/bin", ':')) {
    const fs::path candidate = fs::path(std::string(dir)) / "git";
    std::error_code ec;
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "/usr/bin/git";
}

// Runs git `argv` in `repo`; its output, or an error with it.
absl::StatusOr<std::string> RunIn(const std::string& repo, std::vector<std::string> argv) {
  argv.insert(argv.begin() + 1, {"-C", repo});
  argv[0] = GitBinary();
  const std::string log = (fs::temp_directory_path() /
                           absl::StrCat("kiln-apply-", getpid(), ".log")).string();
  auto p = Subprocess::Start(argv, {{"GIT_TERMINAL_PROMPT", "0"}}, log);
  if (!p.ok()) return p.status();
  const int status = p->Wait();
  std::ifstream in(log);
  std::string output((std::istreambuf_iterator<char>(in)), {});
  std::error_code ec;
  fs::remove(log, ec);
  if (status != 0) {
    return absl::FailedPreconditionError(absl::StrCat("git ", argv.size() > 3 ? argv[3] : "",
                                                      " in ", repo, " failed: ", output));
  }
  return output;
}

}  // namespace

int Diff(Ctx& c, Client* client) {
  absl::StatusOr<std::string> id = BatchArg(c, client);
  if (!id.ok()) return FailTo(c.err, id.status());
  std::string job_id;
  if (c.args.Has("job")) {
    absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
    if (!b.ok()) return FailTo(c.err, b.status());
    absl::StatusOr<std::string> j = JobIdByName(*b, c.args.Get("job"));
    if (!j.ok()) return FailTo(c.err, j.status());
    job_id = *j;
  }
  auto patches = Patches(client, *id, job_id);
  if (!patches.ok()) return FailTo(c.err, patches.status());
  if (patches->empty()) {
    c.err << "kiln: batch " << *id << " has no landed change (no job with `land` committed one)\n";
    return 0;
  }
  for (const auto& [a, text] : *patches) c.out << text;
  return 0;
}

absl::StatusOr<int> WritePatches(Client* client, const std::string& batch_id,
                                 const std::string& job_id, const std::string& out) {
  auto patches = Patches(client, batch_id, job_id);
  if (!patches.ok()) return patches.status();
  std::error_code ec;
  fs::create_directories(out, ec);
  for (const auto& [a, text] : *patches) {
    if (absl::Status s = WriteRepoFile(out, a.path(), text); !s.ok()) return s;
  }
  return static_cast<int>(patches->size());
}

int Apply(Ctx& c, Client* client) {
  if (!c.args.Has("job") || !c.args.Has("repo")) {
    return FailTo(c.err, absl::InvalidArgumentError(
                             "kiln apply needs --job=NAME (the job whose patch) and --repo=DIR "
                             "(a clone of its repository)"));
  }
  absl::StatusOr<std::string> id = BatchArg(c, client);
  if (!id.ok()) return FailTo(c.err, id.status());
  absl::StatusOr<kiln::v1::Batch> b = client->GetBatch(*id, kiln::v1::BATCH_VIEW_FULL);
  if (!b.ok()) return FailTo(c.err, b.status());
  absl::StatusOr<std::string> job_id = JobIdByName(*b, c.args.Get("job"));
  if (!job_id.ok()) return FailTo(c.err, job_id.status());
  std::string branch = c.args.Get("branch");
  for (const auto& j : b->jobs()) {
    if (j.id() == *job_id && branch.empty()) branch = j.landing().branch();
  }
  auto patches = Patches(client, *id, *job_id);
  if (!patches.ok()) return FailTo(c.err, patches.status());
  if (patches->empty()) {
    return FailTo(c.err, absl::NotFoundError(absl::StrCat(
                             "job ", c.args.Get("job"), " of batch ", *id,
                             " has no patch: it changed nothing, or did not land")));
  }
  const std::string repo = fs::absolute(c.args.Get("repo")).string();
  if (!fs::exists(fs::path(repo) / ".git")) {
    return FailTo(c.err, absl::InvalidArgumentError(
                             absl::StrCat("--repo: ", repo, " is not a git clone")));
  }
  if (branch.empty()) branch = absl::StrCat("kiln/", c.args.Get("job"));
  const std::string patch_file = (fs::temp_directory_path() /
                                  absl::StrCat("kiln-", getpid(), ".patch")).string();
  std::ofstream(patch_file, std::ios::binary) << patches->front().second;
  absl::StatusOr<std::string> r = RunIn(repo, {"git", "checkout", "-q", "-b", branch});
  if (r.ok()) {
    // The patch's author stays; a clone without an identity commits as Kiln.
    std::vector<std::string> am = {"git", "am", "-q", "--3way", patch_file};
    if (!RunIn(repo, {"git", "config", "user.email"}).ok()) {
      am = {"git", "-c", "user.name=Kiln", "-c", "user.email=kiln@localhost", "am", "-q",
            "--3way", patch_file};
    }
    r = RunIn(repo, am);
    if (!r.ok()) (void)RunIn(repo, {"git", "am", "--abort"});
  }
  std::error_code ec;
  fs::remove(patch_file, ec);
  if (!r.ok()) return FailTo(c.err, r.status());
  c.out << "kiln: applied the patch of " << c.args.Get("job") << " to " << repo
        << " as a commit on branch " << branch << "\n";
  return 0;
}

}  // namespace cli
}  // namespace kiln
