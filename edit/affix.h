// The common head and tail of two sequences (characters of two lines,
// lines of two files): what a comparison can skip.
#ifndef KILN_EDIT_AFFIX_H_
#define KILN_EDIT_AFFIX_H_

#include <cstddef>
#include <utility>

namespace kiln {

// The length of the longest common prefix of `a` and `b`, and of the
// longest common suffix of what follows it.
template <typename Seq>
std::pair<size_t, size_t> CommonHeadTail(const Seq& a, const Seq& b) {
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head &&
         a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) {
    ++tail;
  }
  return {head, tail};
}

}  // namespace kiln

#endif  // KILN_EDIT_AFFIX_H_
