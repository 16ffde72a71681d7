// What a GENERATE or REPAIR does to its file (docs/worker.md, "Edits"):
// whether it creates the file or edits the one at the job's ref, in which
// format the model replies, and how the reply becomes the new file. Pure:
// the runner reads and writes the worktree.
#ifndef KILN_WORKER_FILE_TASK_H_
#define KILN_WORKER_FILE_TASK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "edit/text_file.h"
#include "kiln/v1/spec.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

struct FileTask {
  std::string path;
  bool edit = false;  // edits the file at the ref (else writes it new)
  kiln::v1::EditFormat format = kiln::v1::EDIT_FORMAT_WHOLE;
  LineEndings endings;   // the file's at the ref (edit)
  std::string original;  // the file at the ref, as it is (edit)
  std::string current;   // LF text the reply applies to: the original, or
                         // the version a REPAIR repairs
};

// Decides the task. `base` is the file at the job's ref (nullopt: none);
// `repaired` the version a REPAIR repairs (null for a GENERATE). A
// FAILED_PRECONDITION names the repo and the path: `edit` of a missing
// file, `create` of one that exists (without `overwrite`), a file that is
// binary, not UTF-8 or over limits.max_file_bytes.
absl::StatusOr<FileTask> PlanFileTask(absl::string_view repo,
                                      const kiln::v1::JobSpec& job,
                                      const kiln::v1::FileSpec& file,
                                      const absl::optional<std::string>& base,
                                      const std::string* repaired);

struct AppliedReply {
  std::string content;  // the file to write
  kiln::v1::FileEdit edit;
  // Blocks that did not apply (DescribeFailures), or a reply whose blocks
  // could not be read: the diagnostics for a repair. Empty: all applied.
  std::string failures;
};

// The reply as the new file: the whole file from its code block, or the
// blocks applied to `task.current`, with the original's line endings.
AppliedReply ApplyReply(const FileTask& task, absl::string_view reply);

}  // namespace kiln

#endif  // KILN_WORKER_FILE_TASK_H_
