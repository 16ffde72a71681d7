// The runner's file decisions: SELECT's expansion, whether a file task
// creates or edits its file, and an edit whose blocks did not all apply.
#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/proto_time.h"
#include "common/trace_attributes.h"
#include "edit/edit_format.h"
#include "edit/select.h"
#include "edit/text_file.h"
#include "worker/file_task.h"
#include "worker/runner.h"
#include "worker/runner_internal.h"

namespace kiln {

using kiln::v1::TaskResult;
using runner_internal::SetError;

void Runner::Select(const AttemptPtr& at) {
  const kiln::v1::JobSpec& job = at->a.job();
  at->port->LlmDone(at->a.lease());
  TaskResult r;
  r.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
  // The commit the job is pinned to from here on.
  const std::string commit = repos_.CommitOf(at->a.task().job_id());
  r.mutable_plan()->set_commit(commit);
  if (!commit.empty()) at->span.SetString("kiln.repo.commit", commit);
  if (!job.has_select()) {
    r.mutable_plan()->set_summary(
        commit.empty() ? "checked out" : absl::StrCat("checked out ", commit.substr(0, 12)));
    return Finish(at, std::move(r));
  }
  std::set<std::string> listed;
  for (const auto& f : job.files()) listed.insert(f.path());
  absl::StatusOr<std::vector<SelectedFile>> files =
      SelectFiles(at->worktree, job.select(), listed);
  if (!files.ok()) {
    // Too many matches or a bad selection stays so; a failed read may pass.
    const bool retry = files.status().code() == absl::StatusCode::kUnavailable;
    return Fail(at, retry ? TaskResult::OUTCOME_RETRYABLE : TaskResult::OUTCOME_FAILED,
                absl::Status(files.status().code(),
                             absl::StrCat(RepoText(job.repo()), ": ", files.status().message())));
  }
  for (auto& f : SelectedFileSpecs(job, *files)) *r.mutable_plan()->add_files() = std::move(f);
  r.mutable_plan()->set_summary(files->empty() ? "no matching files"
                                               : absl::StrCat(files->size(), " matching files"));
  Finish(at, std::move(r));
}

absl::Status Runner::PlanFile(const AttemptPtr& at, const kiln::v1::FileSpec& file,
                              const std::string* repaired) {
  const kiln::v1::JobSpec& job = at->a.job();
  absl::StatusOr<absl::optional<std::string>> base =
      repos_.ReadBase(at->a.task().job_id(), file.path());
  if (!base.ok()) {
    return absl::Status(base.status().code(),
                        absl::StrCat(RepoText(job.repo()), ": ", base.status().message()));
  }
  if (!file.base_digest().empty() && (!*base || Sha256Hex(**base) != file.base_digest())) {
    return absl::FailedPreconditionError(absl::StrCat(
        RepoText(job.repo()), ": ", file.path(),
        ": the file changed since `select` chose it (the ref moved); run the batch again"));
  }
  absl::StatusOr<FileTask> task = PlanFileTask(RepoText(job.repo()), job, file, *base, repaired);
  if (!task.ok()) return task.status();
  at->file = std::move(*task);
  PromptInputs& in = at->inputs;
  in.edit = at->file.edit;
  if (in.edit) {
    in.current = at->file.current;
    in.search_replace = at->file.format == kiln::v1::EDIT_FORMAT_SEARCH_REPLACE;
    at->span.SetString("kiln.edit.format", EditFormatName(at->file.format));
  }
  return absl::OkStatus();
}

void Runner::EditFailed(const AttemptPtr& at, const std::string& failures) {
  absl::StatusOr<kiln::v1::Digest> d = Upload(at, failures);
  if (!d.ok()) {
    return Fail(at, TaskResult::OUTCOME_RETRYABLE,
                absl::UnavailableError(absl::StrCat("upload of the edit's diagnostics: ",
                                                    d.status().message())));
  }
  TaskResult r;
  r.set_outcome(TaskResult::OUTCOME_CHECK_FAILED);
  *r.mutable_diagnostics() = *d;
  *r.add_artifacts() = at->artifact;
  SetError(r.mutable_record()->mutable_error(),
           absl::FailedPreconditionError(failures.substr(0, 400)), false);
  Finish(at, std::move(r));
}

void Runner::Land(const AttemptPtr& at, std::vector<QuotedFile> files) {
  const kiln::v1::Assignment& a = at->a;
  at->port->LlmDone(a.lease());
  LandInputs in;
  in.worktree = at->worktree;
  in.job = &a.job();
  in.previous = a.previous_landing();
  in.token_env = options_.git_token_env;
  in.commit_time = a.task().has_create_time() ? TimeFromProto(a.task().create_time())
                                              : absl::UnixEpoch();
  in.scratch = (std::filesystem::path(options_.work_dir) / "scratch" /
                absl::StrCat("land-", scratch_seq_.fetch_add(1)))
                   .string();
  // Only what differs from the ref goes into the commit.
  std::sort(files.begin(), files.end(),
            [](const QuotedFile& x, const QuotedFile& y) { return x.path < y.path; });
  std::string lines;
  for (QuotedFile& f : files) {
    absl::StatusOr<absl::optional<std::string>> base = repos_.ReadBase(a.task().job_id(), f.path);
    if (base.ok() && base->has_value() && **base == f.content) continue;
    const std::string before = base.ok() && base->has_value() ? ToLf(**base) : std::string();
    const LineDelta d = CountLineChanges(before, ToLf(f.content));
    absl::StrAppend(&lines, "- ", f.path, " (+", d.added, " -", d.removed, ")\n");
    in.files.push_back({f.path, std::move(f.content)});
  }
  in.summary = absl::StrCat("Changed ", in.files.size(), in.files.size() == 1 ? " file" : " files",
                            ":\n", lines);
  LandOutcome o = lander_.Land(in, &at->cancel);
  std::error_code ec;
  std::filesystem::remove_all(in.scratch, ec);
  if (at->dropped) return Finish(at, {});
  TaskResult r;
  if (!o.patch.empty()) {
    absl::StatusOr<kiln::v1::Digest> d = Upload(at, o.patch);
    if (!d.ok()) {
      return Fail(at, TaskResult::OUTCOME_RETRYABLE,
                  absl::UnavailableError(absl::StrCat("upload of the patch: ", d.status().message())));
    }
    *o.landing.mutable_patch() = *d;
  }
  *r.mutable_land() = o.landing;
  if (o.error.ok()) {
    r.set_outcome(TaskResult::OUTCOME_SUCCEEDED);
  } else {
    r.set_outcome(o.retryable ? TaskResult::OUTCOME_RETRYABLE : TaskResult::OUTCOME_FAILED);
    SetError(r.mutable_record()->mutable_error(), o.error, o.retryable);
  }
  Finish(at, std::move(r));
}

}  // namespace kiln
