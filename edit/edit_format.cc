#include "edit/edit_format.h"

#include <algorithm>

namespace kiln {

kiln::v1::EditFormat ResolveEditFormat(kiln::v1::EditFormat file_format,
                                       kiln::v1::EditFormat job_format,
                                       int64_t bytes) {
  kiln::v1::EditFormat f = file_format;
  if (f == kiln::v1::EDIT_FORMAT_UNSPECIFIED || f == kiln::v1::EDIT_FORMAT_AUTO) {
    f = job_format;
  }
  if (f == kiln::v1::EDIT_FORMAT_WHOLE || f == kiln::v1::EDIT_FORMAT_SEARCH_REPLACE) return f;
  return bytes <= kWholeFileMaxBytes ? kiln::v1::EDIT_FORMAT_WHOLE
                                     : kiln::v1::EDIT_FORMAT_SEARCH_REPLACE;
}

int64_t ExpectedEditTokens(int64_t bytes, kiln::v1::EditFormat format) {
  const int64_t whole = (bytes + 3) / 4 + 32;
  const int64_t expected = format != kiln::v1::EDIT_FORMAT_SEARCH_REPLACE
                               ? whole
                               : std::min(whole, std::max<int64_t>(256, whole / 5));
  return std::min(expected, kMaxExpectedEditTokens);
}

const char* EditFormatName(kiln::v1::EditFormat format) {
  return format == kiln::v1::EDIT_FORMAT_SEARCH_REPLACE ? "search_replace" : "whole";
}

}  // namespace kiln
