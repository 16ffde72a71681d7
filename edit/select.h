// A job's `select`: the files of a checked-out repository that an edit
// applies to, found by globs, exclusions and an RE2 regex over their
// content. Deterministic: the same tree gives the same files, sorted by
// path. Symbolic links are never followed (a link is not selected, and a
// linked directory is not entered), so nothing outside the repo is read.
#ifndef KILN_EDIT_SELECT_H_
#define KILN_EDIT_SELECT_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kiln/v1/spec.pb.h"

namespace kiln {

// More matches than this fail a job whose select gives no max_files.
inline constexpr int kDefaultMaxSelectedFiles = 1000;

struct SelectedFile {
  std::string path;    // repo-relative, '/'-separated
  std::string digest;  // hex SHA-256 of the content
  int64_t bytes = 0;
};

// OK when `pattern` is empty or an RE2 regular expression; INVALID_ARGUMENT
// with RE2's reason otherwise.
absl::Status CheckRegex(const std::string& pattern);

// OK when the selection's globs and regex are valid; INVALID_ARGUMENT
// otherwise, starting with the field ("glob[1]: ...", "contains: ...").
absl::Status CheckSelection(const kiln::v1::FileSelection& select);

// The regular files under `root` (a worktree) that match: some glob, no
// exclude, and `contains` (when set) somewhere in their content. The `.git`
// directory and the paths in `skip` (the job's listed files) are left out.
// FAILED_PRECONDITION when more than max_files (or the default) match,
// with the count; INVALID_ARGUMENT for a bad selection.
absl::StatusOr<std::vector<SelectedFile>> SelectFiles(
    const std::string& root, const kiln::v1::FileSelection& select,
    const std::set<std::string>& skip = {});

// The selected files as file specs of `job`: mode EDIT, the content's
// digest and size, and an expected output size from the file's format.
std::vector<kiln::v1::FileSpec> SelectedFileSpecs(const kiln::v1::JobSpec& job,
                                                  const std::vector<SelectedFile>& files);

}  // namespace kiln

#endif  // KILN_EDIT_SELECT_H_
