// The commands about where a batch's changes landed (docs/landing.md):
// `kiln diff` (the patches: the preview of a batch with push: false),
// `kiln fetch --patches`, `kiln apply` (a job's patch as a commit on a new
// branch of a local clone), and the spec `kiln retry` resubmits.
#ifndef KILN_CLI_LAND_COMMANDS_H_
#define KILN_CLI_LAND_COMMANDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "cli/client.h"
#include "cli/context.h"
#include "kiln/v1/batch.pb.h"

namespace kiln {
namespace cli {

// The batch to resubmit: the jobs that did not land (`failed_only`), or all
// of them, with the original batch's name and policy; matrix jobs as a
// matrix of the same template (so their branches are the same).
kiln::v1::BatchSpec RetrySpec(const kiln::v1::Batch& batch, bool failed_only);

// `kiln diff [BATCH] [--job=NAME]`: prints the patches.
int Diff(Ctx& c, Client* client);

// `kiln fetch --patches`: writes DIR/<job>.patch; returns how many.
absl::StatusOr<int> WritePatches(Client* client, const std::string& batch_id,
                                 const std::string& job_id, const std::string& out);

// `kiln apply [BATCH] --job=NAME --repo=DIR`: the job's patch as a commit on
// a new branch (the landing's branch, or --branch) of the clone at DIR.
int Apply(Ctx& c, Client* client);

// The id of the job of `batch` named (or with id) `name`; NOT_FOUND naming
// the flag.
absl::StatusOr<std::string> JobIdByName(const kiln::v1::Batch& batch, const std::string& name);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_LAND_COMMANDS_H_
