#include "common/tracer.h"

#include "common/fake_span_sink.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

using opentelemetry::proto::trace::v1::Status;

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

TEST(TracerTest, ChildSpansShareTheTraceAndNameTheirParent) {
  FakeSpanSink sink;
  Tracer tracer("kiln-test", &sink, 1.0);
  Span root = tracer.StartRootSpan("batch", kT0);
  ASSERT_TRUE(root.recording());
  Span child = tracer.StartSpan("job", root.context(), kT0 + absl::Seconds(1),
                                SpanKind::kClient);
  child.SetString("kiln.job.name", "api").SetInt("kiln.files", 41)
      .SetDouble("kiln.cost_usd", 0.25).SetBool("kiln.cache_hit", true);
  child.SetInt("kiln.files", 42);  // replaces
  child.End(kT0 + absl::Seconds(3));
  root.End(kT0 + absl::Seconds(4));
  child.End(kT0 + absl::Seconds(9));  // once only

  ASSERT_EQ(sink.spans().size(), 2u);
  const otlp::Span job = sink.Named("job")[0];
  const otlp::Span batch = sink.Named("batch")[0];
  EXPECT_EQ(job.trace_id(), batch.trace_id());
  EXPECT_EQ(job.trace_id().size(), 16u);
  EXPECT_EQ(job.parent_span_id(), batch.span_id());
  EXPECT_TRUE(batch.parent_span_id().empty());
  EXPECT_EQ(job.kind(), otlp::Span::SPAN_KIND_CLIENT);
  EXPECT_EQ(job.start_time_unix_nano(), UnixNanos(kT0 + absl::Seconds(1)));
  EXPECT_EQ(job.end_time_unix_nano(), UnixNanos(kT0 + absl::Seconds(3)));
  EXPECT_EQ(AttrText(job, "kiln.job.name"), "api");
  EXPECT_EQ(AttrInt(job, "kiln.files"), 42);
  EXPECT_EQ(AttrText(job, "kiln.cost_usd"), "0.25");
  EXPECT_EQ(AttrText(job, "kiln.cache_hit"), "true");
  EXPECT_EQ(job.attributes_size(), 4);
}

TEST(TracerTest, AnErrorIsAStatusAndAnExceptionEvent) {
  FakeSpanSink sink;
  Tracer tracer("kiln-test", &sink, 1.0);
  Span s = tracer.StartRootSpan("check", kT0);
  s.SetError("CHECK_FAILED", "exit 1: SyntaxError", kT0 + absl::Seconds(2));
  s.End(kT0 + absl::Seconds(2));
  const otlp::Span got = sink.spans().at(0);
  EXPECT_EQ(got.status().code(), Status::STATUS_CODE_ERROR);
  EXPECT_EQ(got.status().message(), "exit 1: SyntaxError");
  ASSERT_EQ(got.events_size(), 1);
  EXPECT_EQ(got.events(0).name(), "exception");
  EXPECT_EQ(got.events(0).time_unix_nano(), UnixNanos(kT0 + absl::Seconds(2)));
  EXPECT_EQ(got.events(0).attributes(0).value().string_value(), "CHECK_FAILED");
}

TEST(TracerTest, AnUnsampledTraceRecordsNothingButPropagates) {
  FakeSpanSink sink;
  Tracer tracer("kiln-test", &sink, 1.0);
  TraceContext parent = *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  Span s = tracer.StartSpan("task", parent, kT0);
  EXPECT_FALSE(s.recording());
  EXPECT_EQ(s.context().trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_TRUE(s.context().has_span());
  EXPECT_FALSE(s.context().sampled);
  s.SetString("k", "v").End(kT0);
  EXPECT_TRUE(sink.spans().empty());
}

TEST(TracerTest, ADisabledTracerPassesARemoteContextOn) {
  Tracer off;
  EXPECT_FALSE(off.NewTrace().valid());
  EXPECT_FALSE(off.StartRootSpan("batch", kT0).context().valid());
  TraceContext parent = *ParseTraceparent(
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span s = off.StartSpan("task", parent, kT0);
  EXPECT_FALSE(s.recording());
  EXPECT_EQ(s.context().trace_id, parent.trace_id);
  EXPECT_TRUE(s.context().sampled);
}

TEST(TracerTest, RatioZeroSamplesNoNewTrace) {
  FakeSpanSink sink;
  Tracer tracer("kiln-test", &sink, 0.0);
  Span s = tracer.StartRootSpan("batch", kT0);
  EXPECT_TRUE(s.context().valid());
  EXPECT_FALSE(s.recording());
  s.End(kT0);
  EXPECT_TRUE(sink.spans().empty());
}

TEST(TracerTest, NoParentNoSpan) {
  FakeSpanSink sink;
  Tracer tracer("kiln-worker", &sink, 1.0);
  Span s = tracer.StartSpan("llm.request", TraceContext(), kT0);
  EXPECT_FALSE(s.recording());
  EXPECT_FALSE(s.context().valid());
}

TEST(TracerTest, DerivedIdsAreUsedAsGiven) {
  FakeSpanSink sink;
  Tracer tracer("kiln-test", &sink, 1.0);
  TraceContext trace = tracer.NewTrace();
  const SpanId id = DerivedSpanId(trace.trace_id, "b1/j0");
  tracer.StartSpanWithId("job", trace, id, kT0).End(kT0);
  EXPECT_EQ(sink.spans().at(0).span_id(), Bytes(id));
  EXPECT_TRUE(sink.spans().at(0).parent_span_id().empty());
}

}  // namespace
}  // namespace kiln
