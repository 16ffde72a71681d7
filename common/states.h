// Questions about the API's lifecycle enums that every component asks the
// same way.
#ifndef KILN_COMMON_STATES_H_
#define KILN_COMMON_STATES_H_

#include <string>

#include "kiln/v1/batch.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// SUCCEEDED, FAILED or CANCELLED: the state will not change again.
bool IsTerminal(kiln::v1::BatchState s);
bool IsTerminal(kiln::v1::JobState s);
bool IsTerminal(kiln::v1::TaskState s);

// GENERATE and REPAIR tasks produce one file of the job.
bool WritesFile(kiln::v1::TaskKind k);

// PLAN, GENERATE and REPAIR call an LLM; BUILD and SELECT run on the worker
// alone (no cache group, no request pacing, no LLM slot).
bool UsesLlm(kiln::v1::TaskKind k);

// The value's name without its enum's prefix: "SUCCEEDED", "GENERATE".
std::string Name(kiln::v1::BatchState s);
std::string Name(kiln::v1::JobState s);
std::string Name(kiln::v1::TaskState s);
std::string Name(kiln::v1::TaskKind k);
std::string Name(kiln::v1::LandingState s);

}  // namespace kiln

#endif  // KILN_COMMON_STATES_H_
