// The ids of batches, jobs and tasks, as typed values (ids are types, not
// strings split by hand). A batch id is opaque ("b_01M8..."); a job id is
// "<batch id>/<job name>"; a task id is "<job id>/<n>", n counting the
// job's tasks in creation order. Job names hold no '/' (the spec validator
// refuses them), so each part is found from the ends.
//
// Plain value types; thread-compatible.
#ifndef KILN_COMMON_ENTITY_IDS_H_
#define KILN_COMMON_ENTITY_IDS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kiln {

class JobId {
 public:
  JobId() = default;
  JobId(absl::string_view batch_id, absl::string_view name);
  // Reads "<batch id>/<name>"; a string without '/' is a job of no batch.
  static JobId Parse(absl::string_view id);

  const std::string& str() const { return id_; }
  absl::string_view batch_id() const;
  absl::string_view name() const;

  friend bool operator==(const JobId& a, const JobId& b) { return a.id_ == b.id_; }
  friend bool operator<(const JobId& a, const JobId& b) { return a.id_ < b.id_; }

 private:
  explicit JobId(std::string id) : id_(std::move(id)) {}
  std::string id_;
};

class TaskId {
 public:
  TaskId() = default;
  TaskId(const JobId& job, int number);
  // Reads "<job id>/<n>"; `number()` is -1 when the last part is not one.
  static TaskId Parse(absl::string_view id);
  // The same without a copy: the job id part and the number (-1 when the
  // last part is not one).
  static void Split(absl::string_view id, absl::string_view* job_id, int* number);

  const std::string& str() const { return id_; }
  JobId job_id() const { return JobId::Parse(job_part()); }
  absl::string_view batch_id() const;
  // The task's number in its job (creation order).
  int number() const { return number_; }

  friend bool operator==(const TaskId& a, const TaskId& b) { return a.id_ == b.id_; }
  // Job first, then creation order (not the string order: 10 after 9).
  friend bool operator<(const TaskId& a, const TaskId& b);

 private:
  absl::string_view job_part() const;
  std::string id_;
  int number_ = -1;
};

// The batch a job or task id belongs to.
absl::string_view BatchIdOf(absl::string_view job_or_task_id);

}  // namespace kiln

#endif  // KILN_COMMON_ENTITY_IDS_H_
