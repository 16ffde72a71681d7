#include "coordinator/assignment.h"

#include <set>

namespace kiln {

kiln::v1::Assignment BuildAssignment(const AssignmentInputs& in) {
  const TaskInfo& info = *in.info;
  const kiln::v1::JobSpec& spec = *in.spec;
  kiln::v1::Assignment a;
  *a.mutable_lease() = in.lease;
  kiln::v1::Task* t = a.mutable_task();
  *t = in.task;
  t->set_state(kiln::v1::TASK_STATE_LEASED);
  *t->mutable_lease() = in.lease;
  auto artifact_of = [&](const std::string& task_id) -> const kiln::v1::Artifact* {
    const TaskOutput* out = in.output_of(task_id);
    return out == nullptr || out->artifact.path().empty() ? nullptr : &out->artifact;
  };
  kiln::v1::JobSpec* job = a.mutable_job();
  const bool whole_job = info.kind == kiln::v1::TASK_KIND_BUILD ||
                         info.kind == kiln::v1::TASK_KIND_SELECT ||
                         info.kind == kiln::v1::TASK_KIND_LAND;
  if (whole_job) {
    job->CopyFrom(spec);
  } else {
    job->set_name(spec.name());
    *job->mutable_repo() = spec.repo();
    *job->mutable_model() = spec.model();
    *job->mutable_context() = spec.context();
    job->set_task(spec.task());
    job->set_instructions(spec.instructions());
    job->set_edit_format(spec.edit_format());
    *job->mutable_checks() = spec.checks();
    // A job without a build must stay without one (an empty BuildSpec is a
    // build with no command: a plan checked against it is refused).
    if (spec.has_build()) *job->mutable_build() = spec.build();
    *job->mutable_limits() = spec.limits();
    *job->mutable_labels() = spec.labels();
    std::set<std::string> keep{info.path};
    for (const auto& dep : info.deps) {
      if (const TaskOutput* out = in.output_of(dep)) keep.insert(out->artifact.path());
    }
    for (const auto& path : keep) {
      if (const kiln::v1::FileSpec* f = in.file_of(path)) *job->add_files() = *f;
    }
  }
  for (const auto& dep : info.deps) {
    const kiln::v1::Artifact* art = artifact_of(dep);
    if (art == nullptr) continue;
    if (whole_job) {
      *a.add_job_artifacts() = *art;
    } else {
      *a.add_dep_artifacts() = *art;
    }
  }
  if (!info.repairs.empty()) {
    if (const TaskOutput* out = in.output_of(info.repairs)) {
      *a.mutable_diagnostics() = out->diagnostics;
      *a.add_dep_artifacts() = out->artifact;
    }
    for (const auto& dep : in.origin_deps) {
      const kiln::v1::Artifact* art = artifact_of(dep);
      if (art == nullptr) continue;
      *a.add_dep_artifacts() = *art;
      if (const kiln::v1::FileSpec* f = in.file_of(art->path())) *job->add_files() = *f;
    }
  }
  if (!in.traceparent.empty()) a.set_traceparent(in.traceparent);
  return a;
}

}  // namespace kiln
