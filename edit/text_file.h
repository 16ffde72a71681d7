// The text of a file that Kiln edits, as the model sees it and as it goes
// back into the repository: refused when it is not text (a NUL byte,
// invalid UTF-8) or too large; CRLF line endings and a missing final newline
// are taken off for the model and put back on the edited text, so an edit
// never changes them; and what an edit changed, in lines.
#ifndef KILN_EDIT_TEXT_FILE_H_
#define KILN_EDIT_TEXT_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kiln {

// Files larger than this are not edited unless a job's
// limits.max_file_bytes says otherwise.
inline constexpr int64_t kDefaultMaxEditBytes = int64_t{1} << 20;

// OK when `content` (the file `path` of `repo`) can be edited: at most
// `max_bytes`, no NUL byte, valid UTF-8. FAILED_PRECONDITION otherwise,
// naming the repo, the path and the reason.
absl::Status CheckEditable(absl::string_view repo, absl::string_view path,
                           absl::string_view content, int64_t max_bytes);

// How a file ends its lines.
struct LineEndings {
  // Every line break is "\r\n" (a file with mixed endings counts as CRLF
  // when most of its breaks are).
  bool crlf = false;
  // The last line ends with a line break (true for an empty file).
  bool final_newline = true;
};

// The file's endings, and its text with "\r\n" turned into "\n".
LineEndings EndingsOf(absl::string_view content);
std::string ToLf(absl::string_view content);

// `edited` (LF text, as the model wrote it) with the original's endings: a
// final newline added or removed to match, then "\n" -> "\r\n" for a CRLF
// file. An empty result stays empty.
std::string WithEndings(absl::string_view edited, const LineEndings& endings);

// Lines added and removed between two texts (a shortest line diff).
struct LineDelta {
  int64_t added = 0;
  int64_t removed = 0;
};
LineDelta CountLineChanges(absl::string_view before, absl::string_view after);

}  // namespace kiln

#endif  // KILN_EDIT_TEXT_FILE_H_
