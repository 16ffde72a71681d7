// Which edit format a file gets and what its reply costs (docs/llm.md,
// "Edit formats"): the whole file for small files, SEARCH/REPLACE blocks
// for larger ones.
#ifndef KILN_EDIT_EDIT_FORMAT_H_
#define KILN_EDIT_EDIT_FORMAT_H_

#include <cstdint>

#include "kiln/v1/spec.pb.h"

namespace kiln {

// `auto` writes files up to this size whole, larger ones by blocks.
inline constexpr int64_t kWholeFileMaxBytes = 4096;

// The file's format (its own, else the job's), with AUTO resolved by the
// size of the file being edited: WHOLE or SEARCH_REPLACE.
kiln::v1::EditFormat ResolveEditFormat(kiln::v1::EditFormat file_format,
                                       kiln::v1::EditFormat job_format,
                                       int64_t bytes);

// Expected output tokens of an edit of a `bytes`-byte file: the whole file,
// or the blocks (about a fifth of the file, at least 256 tokens, never more
// than the whole file); at most kMaxExpectedEditTokens, so the output cap
// the DAG derives from it stays within a model's output limit.
inline constexpr int64_t kMaxExpectedEditTokens = 32000;
int64_t ExpectedEditTokens(int64_t bytes, kiln::v1::EditFormat format);

// "whole" / "search_replace".
const char* EditFormatName(kiln::v1::EditFormat format);

}  // namespace kiln

#endif  // KILN_EDIT_EDIT_FORMAT_H_
