// SEARCH/REPLACE edit blocks, the edit format of the best coding agents: a
// model changes a large file by quoting the lines to change and what
// replaces them, with no line numbers and no code inside JSON.
//
//   <<<<<<< SEARCH
//   lines of the file as they are
//   =======
//   the lines that replace them
//   >>>>>>> REPLACE
//
// SEARCH is whole lines. A block applies where its SEARCH lines occur in
// the file exactly once: exactly, else ignoring trailing whitespace, else
// ignoring indentation (the REPLACE lines are then re-indented by the
// difference). An empty SEARCH appends REPLACE to the end of the file; an
// empty REPLACE deletes the lines. Every block is located in the original
// text, so their order does not matter; two blocks over the same lines
// conflict. A block that matches nothing, matches more than once or
// overlaps another fails alone: the rest apply, and the diagnostics name
// each failed block and quote the file's closest lines.
#ifndef KILN_EDIT_SEARCH_REPLACE_H_
#define KILN_EDIT_SEARCH_REPLACE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

struct EditBlock {
  std::string search;   // whole lines, each ending in "\n"; empty: append
  std::string replace;  // the same; empty: delete
  int reply_line = 0;   // 1-based line of its SEARCH marker in the reply
};

// Whether `reply` uses the format at all (has a SEARCH, divider or REPLACE
// marker line).
bool HasEditMarkers(absl::string_view reply);

// The blocks of a model's reply, in order. Text outside blocks (a file
// name, fences, prose) is ignored. A reply without any marker has no
// blocks (it changes nothing). INVALID_ARGUMENT for a block without its
// divider or end marker, naming the reply line.
absl::StatusOr<std::vector<EditBlock>> ParseEditBlocks(absl::string_view reply);

// The blocks as the model would write them.
std::string FormatEditBlocks(const std::vector<EditBlock>& blocks);

struct BlockFailure {
  int block = 0;  // 0-based index into the blocks
  enum Kind { kNoMatch, kAmbiguous, kOverlap } kind = kNoMatch;
  std::vector<int> match_lines;  // kAmbiguous: 1-based first lines
  int overlaps = -1;             // kOverlap: the block it conflicts with
  // kNoMatch: the file's lines most like SEARCH, numbered, and the first one.
  std::string closest;
  int closest_line = 0;
};

struct EditOutcome {
  std::string text;  // the file with every block that applied
  int applied = 0;
  int tolerant = 0;  // of them, matched only with whitespace tolerance
  std::vector<BlockFailure> failed;
};

// Applies `blocks` to `text` (LF line endings).
EditOutcome ApplyEditBlocks(absl::string_view text,
                            const std::vector<EditBlock>& blocks);

// How DescribeFailures starts (a repair prompt tells block failures from a
// failed check by it).
inline constexpr absl::string_view kBlocksFailedMarker = "SEARCH/REPLACE blocks for `";

// What went wrong, for the user and for the repair prompt: one paragraph
// per failed block, with the block itself and the closest lines.
std::string DescribeFailures(absl::string_view path,
                             const std::vector<EditBlock>& blocks,
                             const EditOutcome& outcome);

}  // namespace kiln

#endif  // KILN_EDIT_SEARCH_REPLACE_H_
