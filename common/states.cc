#include "common/states.h"

namespace kiln {

bool IsTerminal(kiln::v1::BatchState s) {
  return s == kiln::v1::BATCH_STATE_SUCCEEDED || s == kiln::v1::BATCH_STATE_FAILED ||
         s == kiln::v1::BATCH_STATE_CANCELLED;
}

bool IsTerminal(kiln::v1::JobState s) {
  return s == kiln::v1::JOB_STATE_SUCCEEDED || s == kiln::v1::JOB_STATE_FAILED ||
         s == kiln::v1::JOB_STATE_CANCELLED;
}

bool IsTerminal(kiln::v1::TaskState s) {
  return s == kiln::v1::TASK_STATE_SUCCEEDED || s == kiln::v1::TASK_STATE_FAILED ||
         s == kiln::v1::TASK_STATE_CANCELLED;
}

bool WritesFile(kiln::v1::TaskKind k) {
  return k == kiln::v1::TASK_KIND_GENERATE || k == kiln::v1::TASK_KIND_REPAIR;
}

}  // namespace kiln
