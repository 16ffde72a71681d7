#include "coordinator/store_keys.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

TEST(StoreKeys, SequenceKeysSortBySequenceWithinTheirBatch) {
  EXPECT_LT(SeqKey("b1", 9), SeqKey("b1", 10));
  EXPECT_LT(SeqKey("b1", 255), SeqKey("b1", 256));
  EXPECT_EQ(SeqOf(SeqKey("b1", 4242), "b1"), 4242);
  // A batch's keys share its prefix; another batch's never do.
  EXPECT_EQ(SeqKey("b1", 1).rfind(SeqPrefix("b1"), 0), 0u);
  EXPECT_NE(SeqKey("b10", 1).rfind(SeqPrefix("b1"), 0), 0u);
}

TEST(StoreKeys, PrefixedKeys) {
  EXPECT_EQ(LeaseKey("b/j/1"), "lease/b/j/1");
  EXPECT_EQ(RequestKey("r-1"), "req/r-1");
  EXPECT_EQ(KeySuffix(RequestKey("r-1"), kRequestPrefix), "r-1");
  EXPECT_EQ(SemaphoreLeaseKey("compile", "L7"), "lease/compile/L7");
  EXPECT_EQ(SemaphoreHistoryKey("compile", 12), "history/compile/00000000000000000012");
  EXPECT_LT(SemaphoreHistoryKey("compile", 9), SemaphoreHistoryKey("compile", 10));
  EXPECT_EQ(BlobChunkKey("ab", 1).size(), 2u + 8u);
}

}  // namespace
}  // namespace kiln
