#include "common/trace_context.h"

#include "gtest/gtest.h"

namespace kiln {
namespace {

constexpr char kExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, RoundTripsTheSpecificationsExample) {
  absl::StatusOr<TraceContext> ctx = ParseTraceparent(kExample);
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_EQ(ctx->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ctx->span_id_hex(), "00f067aa0ba902b7");
  EXPECT_TRUE(ctx->sampled);
  EXPECT_EQ(FormatTraceparent(*ctx), kExample);
  ctx->sampled = false;
  EXPECT_EQ(FormatTraceparent(*ctx),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TraceparentTest, RejectsMalformedHeadersNamingThePart) {
  struct Case {
    const char* header;
    const char* says;
  } cases[] = {
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "version-traceid"},
      {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ff"},
      {"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace id"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "span id"},
      {"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "lowercase"},
      {"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "32"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "flags"},
      {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx", "more than 4"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<TraceContext> ctx = ParseTraceparent(c.header);
    ASSERT_FALSE(ctx.ok()) << c.header;
    EXPECT_NE(ctx.status().message().find(c.says), std::string::npos)
        << c.header << ": " << ctx.status();
  }
}

TEST(TraceparentTest, ReadsAFutureVersionAsVersion00) {
  absl::StatusOr<TraceContext> ctx = ParseTraceparent(
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-extra");
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_TRUE(ctx->sampled);
}

TEST(DerivedSpanIdTest, IsStablePerNameAndDiffersAcrossNamesAndTraces) {
  TraceId a = *ParseTraceId("4bf92f3577b34da6a3ce929d0e0e4736");
  TraceId b = *ParseTraceId("4bf92f3577b34da6a3ce929d0e0e4737");
  EXPECT_EQ(DerivedSpanId(a, "b1/j0/t3"), DerivedSpanId(a, "b1/j0/t3"));
  EXPECT_NE(DerivedSpanId(a, "b1/j0/t3"), DerivedSpanId(a, "b1/j0/t4"));
  EXPECT_NE(DerivedSpanId(a, "batch"), DerivedSpanId(b, "batch"));
  EXPECT_FALSE(IsZero(DerivedSpanId(a, "batch")));
}

TEST(SamplingTest, RatioDecidesByTraceIdAlone) {
  TraceId low = *ParseTraceId("ffffffffffffffff0000000000000001");
  TraceId high = *ParseTraceId("0000000000000001ffffffffffffff00");
  EXPECT_TRUE(SampledByRatio(low, 0.5));
  EXPECT_FALSE(SampledByRatio(high, 0.5));
  EXPECT_TRUE(SampledByRatio(high, 1.0));
  EXPECT_FALSE(SampledByRatio(low, 0.0));
  // About the ratio over many ids.
  int sampled = 0;
  for (uint32_t i = 0; i < 10000; ++i) {
    TraceId id{};
    uint64_t x = (uint64_t{i} * 0x9e3779b97f4a7c15ULL);
    for (int k = 0; k < 8; ++k) id[8 + k] = (x >> (56 - 8 * k)) & 0xff;
    id[0] = 1;
    sampled += SampledByRatio(id, 0.25) ? 1 : 0;
  }
  EXPECT_NEAR(sampled, 2500, 150);
}

}  // namespace
}  // namespace kiln
