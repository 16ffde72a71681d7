// Reading and writing files of a checked-out repository without ever
// leaving it: a path that leaves by its spelling ("..", absolute) or through
// a symbolic link that points outside is refused. The worker writes
// generated files into its worktrees with these; `kiln fetch` writes a
// batch's files into a folder the same way.
//
// Thread-safe (no shared state).
#ifndef KILN_COMMON_REPO_FILE_H_
#define KILN_COMMON_REPO_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Writes `content` to `root`/`path` atomically (a temporary file renamed
// into place), creating directories. INVALID_ARGUMENT naming the path when
// it is not a clean repo-relative path, PERMISSION_DENIED when a directory
// on the way is a symbolic link that leaves `root`.
absl::Status WriteRepoFile(const std::string& root, absl::string_view path,
                           absl::string_view content);

// Reads `root`/`path` under the same rules (the file itself may be a link
// that stays inside). NOT_FOUND when it does not exist.
absl::StatusOr<std::string> ReadRepoFile(const std::string& root,
                                         absl::string_view path);

}  // namespace kiln

#endif  // KILN_COMMON_REPO_FILE_H_
