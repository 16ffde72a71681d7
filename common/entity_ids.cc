#include "common/entity_ids.h"

#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kiln {

JobId::JobId(absl::string_view batch_id, absl::string_view name)
    : id_(absl::StrCat(batch_id, "/", name)) {}

JobId JobId::Parse(absl::string_view id) { return JobId(std::string(id)); }

absl::string_view JobId::batch_id() const { return BatchIdOf(id_); }

absl::string_view JobId::name() const {
  const size_t slash = id_.find('/');
  return slash == std::string::npos ? absl::string_view(id_)
                                    : absl::string_view(id_).substr(slash + 1);
}

TaskId::TaskId(const JobId& job, int number)
    : id_(absl::StrCat(job.str(), "/", number)), number_(number) {}

void TaskId::Split(absl::string_view id, absl::string_view* job_id, int* number) {
  const size_t slash = id.rfind('/');
  *job_id = slash == absl::string_view::npos ? id : id.substr(0, slash);
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(id.substr(slash + 1), number) ||
      *number < 0) {
    *number = -1;
  }
}

TaskId TaskId::Parse(absl::string_view id) {
  TaskId t;
  t.id_ = std::string(id);
  absl::string_view job;
  Split(id, &job, &t.number_);
  return t;
}

absl::string_view TaskId::job_part() const {
  const size_t slash = id_.rfind('/');
  return slash == std::string::npos ? absl::string_view(id_)
                                    : absl::string_view(id_).substr(0, slash);
}

absl::string_view TaskId::batch_id() const { return BatchIdOf(id_); }

bool operator<(const TaskId& a, const TaskId& b) {
  return std::make_tuple(a.job_part(), a.number_) < std::make_tuple(b.job_part(), b.number_);
}

absl::string_view BatchIdOf(absl::string_view id) { return id.substr(0, id.find('/')); }

}  // namespace kiln
