// Landing, the coordinator's side (docs/landing.md): a LAND assignment gets
// its job's templates rendered and what Kiln last pushed to the same remote
// and branch (the next push leases against it; a pull request already open
// is updated, not opened twice). A LAND result's landing is stored per job
// and per (remote, branch), in the turn's commit.
#include "absl/strings/str_cat.h"
#include "common/git_names.h"
#include "common/status.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_internal.h"
#include "coordinator/store_keys.h"
#include "spec/land_check.h"

namespace kiln {

using coordinator_internal::JobOf;

void Coordinator::PrepareLand(const std::string& job_id, kiln::v1::Assignment* a) {
  kiln::v1::JobSpec* job = a->mutable_job();
  kiln::v1::LandSpec* land = job->mutable_land();
  std::string batch_name = BatchOf(job_id);
  std::string template_name = job->name();
  if (const BatchState* b = FindBatch(BatchOf(job_id))) {
    const kiln::v1::BatchSpec& spec = b->record.batch().spec();
    // The commit's date: the batch's creation, the same for every attempt,
    // so a retried LAND makes the same commit.
    *a->mutable_task()->mutable_create_time() = b->record.batch().create_time();
    if (!spec.name().empty()) batch_name = spec.name();
    bool explicit_job = false;
    for (const auto& j : spec.jobs()) explicit_job = explicit_job || j.name() == job->name();
    if (!explicit_job && spec.has_matrix() && !spec.matrix().job().name().empty()) {
      template_name = spec.matrix().job().name();
    }
  }
  const auto vars = LandVars(batch_name, job->name(), template_name, /*keep_summary=*/true);
  auto render = [&vars](const std::string& tmpl, const char* fallback) {
    absl::StatusOr<std::string> r = RenderTemplate(tmpl.empty() ? fallback : tmpl, vars);
    return r.ok() ? *r : tmpl;  // validated at submission
  };
  land->set_branch(render(land->branch(), kDefaultLandBranch));
  land->set_message(render(land->message(), kDefaultLandMessage));
  if (land->has_pr()) {
    land->mutable_pr()->set_title(render(land->pr().title(), ""));
    land->mutable_pr()->set_body(render(land->pr().body(), ""));
  }
  kiln::v1::Landing* prev = a->mutable_previous_landing();
  auto it = landed_.find(LandedKey(LandRemote(*job), land->branch()));
  if (it != landed_.end()) *prev = it->second;
  prev->set_branch(land->branch());
}

void Coordinator::RecordLanding(const std::string& task_id, const kiln::v1::Landing& landing) {
  const std::string job_id = JobOf(task_id);
  kiln::v1::Landing stored = landing;
  stored.set_remote(UrlWithoutCredentials(landing.remote()));
  stored.set_message(RedactCredentials(landing.message()));
  landings_[job_id] = stored;
  batch_.Put(store_->cf(Cf::kMeta), LandingKey(job_id), stored.SerializeAsString());
  if (stored.remote().empty() || stored.pushed_commit().empty()) return;
  const kiln::v1::JobSpec* spec = scheduler_.JobSpecOf(job_id);
  if (spec == nullptr) return;
  // What the remote branch now holds, and the pull request on it, under
  // the key the next LAND of that remote and branch looks up.
  const std::string key = LandedKey(LandRemote(*spec), stored.branch());
  kiln::v1::Landing& there = landed_[key];
  there.set_branch(stored.branch());
  there.set_remote(stored.remote());
  there.set_pushed_commit(stored.pushed_commit());
  if (!stored.pr_url().empty()) there.set_pr_url(stored.pr_url());
  batch_.Put(store_->cf(Cf::kMeta), key, there.SerializeAsString());
}

absl::Status Coordinator::LoadLandings() {
  KILN_RETURN_IF_ERROR(store_->Scan(
      Cf::kMeta, kLandingPrefix, "", [this](absl::string_view k, absl::string_view v) {
        kiln::v1::Landing l;
        if (l.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          landings_[std::string(KeySuffix(k, kLandingPrefix))] = std::move(l);
        }
        return true;
      }));
  return store_->Scan(Cf::kMeta, kLandedPrefix, "",
                      [this](absl::string_view k, absl::string_view v) {
                        kiln::v1::Landing l;
                        if (l.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
                          landed_[std::string(k)] = std::move(l);
                        }
                        return true;
                      });
}

void Coordinator::AddLanding(const std::string& job_id, kiln::v1::Job* job) const {
  auto it = landings_.find(job_id);
  if (it != landings_.end()) {
    *job->mutable_landing() = it->second;
  } else if (!job->note().empty() && job->state() == kiln::v1::JOB_STATE_SUCCEEDED) {
    job->mutable_landing()->set_state(kiln::v1::LANDING_STATE_UNCHANGED);  // nothing selected
    job->mutable_landing()->set_message(job->note());
  }
}

}  // namespace kiln
