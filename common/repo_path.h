// Lexical checks and matching of repo-relative paths.
#ifndef KILN_COMMON_REPO_PATH_H_
#define KILN_COMMON_REPO_PATH_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kiln {

// OK when `path` is a clean, repo-relative, '/'-separated path that cannot
// leave the repository by its spelling: not empty, not absolute, no drive
// letter, no backslash, NUL or other control character, no "." / ".." /
// empty segment, at most 4096 bytes and 255 per segment. INVALID_ARGUMENT
// says which rule failed. (Symlinks are the writer's concern: see the
// worker's worktree.)
absl::Status CheckRepoPath(absl::string_view path);

// Glob match of a repo-relative path. `*` matches within one segment, `?` one
// character other than '/', `**` any number of segments ("web/**",
// "**/test_*.py"). A pattern without '/' matches the last segment only, so
// "*.css" matches "web/site.css".
bool GlobMatch(absl::string_view pattern, absl::string_view path);

// OK when `pattern` is a glob GlobMatch understands: not empty, relative,
// '/'-separated, no "." or ".." segment, `**` only as a whole segment, and
// none of the classes or braces other tools accept ('[', ']', '{', '}').
// INVALID_ARGUMENT says what is wrong.
absl::Status CheckGlob(absl::string_view pattern);

}  // namespace kiln

#endif  // KILN_COMMON_REPO_PATH_H_
