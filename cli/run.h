// What `kiln run` does around the API calls, and what `watch`, `fetch` and
// `submit` share with it: loading a spec file (relative repo paths made
// absolute), remembering which batch a spec file became so that running it
// again resumes it, following a batch with live progress, and writing its
// files out.
#ifndef KILN_CLI_RUN_H_
#define KILN_CLI_RUN_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/client.h"
#include "cli/context.h"
#include "cli/local_cluster.h"
#include "common/trace_context.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/job_service.pb.h"
#include "llm/model_profile.h"
#include "spec/spec_parser.h"

namespace kiln {
namespace cli {

// A spec file, parsed, with relative repo paths made absolute against the
// file's directory (so the coordinator and workers need not share our cwd);
// a job file's batch is named after its job. NOT_FOUND "<file>: no such
// file"; INVALID_ARGUMENT with file:line:column for a bad spec.
absl::StatusOr<ParsedSpec> LoadSpec(const std::string& path);
// INVALID_ARGUMENT listing every problem with its location.
// Also the local repos' checks (ValidateLocalRepos).
absl::Status Validate(const ParsedSpec& spec, const ModelCatalog& models);
// Only what this machine can see (ValidateLocalRepos): for submissions, which
// the coordinator validates with its own models.
absl::Status ValidateLocal(const ParsedSpec& spec);
// The request for `spec` under the idempotency key `request_id`, with the
// spec's field locations (so the coordinator's errors name the line).
kiln::v1::SubmitBatchRequest SubmitRequest(const ParsedSpec& spec,
                                           const std::string& request_id);
std::string NewRequestId();

// Which batch a spec file became in the embedded state, kept in
// <state_dir>/runs/<hash of the file's path>.
struct RunRecord {
  std::string digest;      // of the resolved spec
  std::string request_id;  // SubmitBatch idempotency key
  std::string batch_id;    // once accepted

  static std::string PathFor(const std::string& state_dir, const std::string& spec_file);
  // `kiln submit`'s record of `spec_file` sent to `coordinator`.
  static std::string SubmitPathFor(const std::string& state_dir, const std::string& spec_file,
                                   const std::string& coordinator);
  // An empty record when there is none.
  static RunRecord Load(const std::string& path);
  absl::Status Save(const std::string& path) const;
};

enum class ResumeAction {
  kResume,          // the record's batch runs the same spec: follow it
  kSupersede,       // it runs an older spec: cancel it, then submit afresh
  kSubmitInDoubt,   // a submit may have landed: resend its request id
  kSubmitFresh,     // nothing to resume
};
// What running a spec file again does. `old` is the record's batch as the
// coordinator has it (null when the record names none or it is gone).
ResumeAction DecideResume(const RunRecord& record, const std::string& digest,
                          const kiln::v1::Batch* old);

// Submits `spec` to the embedded coordinator (under the span `trace`), or
// finds the batch an earlier run of the same file left unfinished (it keeps
// the trace it started with). Returns the batch id.
absl::StatusOr<std::string> SubmitOrResume(const Ctx& c, Client* client, const ParsedSpec& spec,
                                           const std::string& file, const TraceContext& trace);

// Follows a batch with live progress on c.out until it ends or the user
// interrupts. Returns the final batch (FULL view); CANCELLED on Ctrl-C.
absl::StatusOr<kiln::v1::Batch> Follow(const Ctx& c, Client* client,
                                       const std::string& batch_id);

// Writes the batch's files (one job's when `job_id` is set) under
// `out`/<job name>/, never outside it. Returns files written per folder.
absl::StatusOr<std::map<std::string, int>> FetchTo(Client* client,
                                                   const kiln::v1::Batch& batch,
                                                   const std::string& job_id,
                                                   const std::string& out);

absl::Status PrintReport(Client* client, const kiln::v1::Batch& batch, double time_scale,
                         std::ostream& out);

// The embedded cluster the settings describe.
LocalClusterOptions EmbeddedOptions(const Settings& s);

// "kiln: trace <id>" with where to see it, when this process exports and
// the batch is traced (a resumed batch keeps its first trace).
void PrintTrace(const Ctx& c, Client* client, const std::string& batch_id);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_RUN_H_
