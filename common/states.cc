#include "common/states.h"

namespace kiln {

namespace {

std::string Strip(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

}  // namespace

std::string Name(kiln::v1::BatchState s) {
  return Strip(kiln::v1::BatchState_Name(s), "BATCH_STATE_");
}
std::string Name(kiln::v1::JobState s) { return Strip(kiln::v1::JobState_Name(s), "JOB_STATE_"); }
std::string Name(kiln::v1::TaskState s) {
  return Strip(kiln::v1::TaskState_Name(s), "TASK_STATE_");
}
std::string Name(kiln::v1::TaskKind k) { return Strip(kiln::v1::TaskKind_Name(k), "TASK_KIND_"); }
std::string Name(kiln::v1::LandingState s) {
  return Strip(kiln::v1::LandingState_Name(s), "LANDING_STATE_");
}

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

bool UsesLlm(kiln::v1::TaskKind k) {
  return k == kiln::v1::TASK_KIND_PLAN || WritesFile(k);
}

}  // namespace kiln
