// What a worker is sent for one leased task (kiln.v1.Assignment): the lease,
// the task, the job cut to what the task needs (its own file's spec and its
// dependencies', or every file for a BUILD; a job may have thousands), the
// generated files it builds on, a repair's diagnostics, and the trace
// context. A pure function of its inputs.
#ifndef KILN_COORDINATOR_ASSIGNMENT_H_
#define KILN_COORDINATOR_ASSIGNMENT_H_

#include <functional>
#include <string>
#include <vector>

#include "coordinator/scheduler.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"
#include "kiln/v1/worker_service.pb.h"

namespace kiln {

// What a finished attempt produced, as later tasks use it: the file (a dep's
// code, the latest version for FetchArtifacts) and a failed check's
// diagnostics (for its repair).
struct TaskOutput {
  kiln::v1::Artifact artifact;
  kiln::v1::Digest diagnostics;
};

struct AssignmentInputs {
  kiln::v1::Lease lease;
  // The task as the scheduler has it (state LEASED is set here).
  kiln::v1::Task task;
  const TaskInfo* info = nullptr;
  const kiln::v1::JobSpec* spec = nullptr;
  // The output of a finished task; null when it has none.
  std::function<const TaskOutput*(const std::string& task_id)> output_of;
  // The spec of one of the job's files; null when the job has none such.
  std::function<const kiln::v1::FileSpec*(const std::string& path)> file_of;
  // A REPAIR: the deps of the task that wrote the file's first version (a
  // repair sees what it saw).
  std::vector<std::string> origin_deps;
  // W3C traceparent of the task's span; empty when untraced.
  std::string traceparent;
};

kiln::v1::Assignment BuildAssignment(const AssignmentInputs& in);

}  // namespace kiln

#endif  // KILN_COORDINATOR_ASSIGNMENT_H_
