// Telemetry end to end inside one process: tracers of two services, the
// batch processor and the OTLP/gRPC exporter, against a real gRPC receiver
// on loopback; and traceparent through gRPC metadata.
#include "common/telemetry.h"

#include "common/fake_otlp_receiver.h"
#include "common/fake_span_sink.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

TelemetryOptions To(const FakeOtlpReceiver& receiver) {
  TelemetryOptions o;
  o.otlp_endpoint = receiver.endpoint();
  o.processor.schedule_delay = absl::Hours(1);
  o.processor.initial_backoff = absl::Milliseconds(1);
  return o;
}

TEST(TelemetryTest, SpansOfTwoServicesReachTheReceiver) {
  FakeOtlpReceiver receiver;
  auto t = Telemetry::Start(To(receiver));
  ASSERT_TRUE(t.ok()) << t.status();
  Tracer* coordinator = (*t)->NewTracer("kiln-coordinator");
  Tracer* worker = (*t)->NewTracer("kiln-worker");
  Span task = coordinator->StartRootSpan("task", kT0);
  Span attempt = worker->StartSpan("attempt", task.context(), kT0);
  attempt.SetString("gen_ai.request.model", "kimi-k2").End(kT0 + absl::Seconds(1));
  task.End(kT0 + absl::Seconds(2));
  (*t)->Shutdown(absl::Seconds(30));

  auto spans = receiver.spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].service, "kiln-worker");
  EXPECT_EQ(spans[0].span.name(), "attempt");
  EXPECT_EQ(AttrText(spans[0].span, "gen_ai.request.model"), "kimi-k2");
  EXPECT_EQ(spans[1].service, "kiln-coordinator");
  EXPECT_EQ(spans[0].span.parent_span_id(), spans[1].span.span_id());
  EXPECT_EQ((*t)->stats().exported, 2);
}

TEST(TelemetryTest, AnUnavailableReceiverIsRetried) {
  FakeOtlpReceiver receiver;
  receiver.FailNext(2, grpc::StatusCode::UNAVAILABLE);
  auto t = Telemetry::Start(To(receiver));
  ASSERT_TRUE(t.ok()) << t.status();
  (*t)->NewTracer("kiln-cli")->StartRootSpan("kiln run", kT0).End(kT0);
  (*t)->Shutdown(absl::Seconds(30));
  EXPECT_EQ(receiver.exports(), 3);
  EXPECT_EQ(receiver.spans().size(), 1u);
  EXPECT_EQ((*t)->stats().retries, 2);
}

TEST(TelemetryTest, OffWithoutAnEndpoint) {
  auto t = Telemetry::Start({});
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE((*t)->enabled());
  EXPECT_FALSE((*t)->NewTracer("kiln-cli")->enabled());
}

TEST(TelemetryTest, BadOptionsNameTheSetting) {
  TelemetryOptions o;
  o.otlp_endpoint = "jaeger";
  auto t = Telemetry::Start(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("otlp_endpoint"), std::string::npos);
  o.otlp_endpoint = "http://jaeger:4317";
  o.sample_ratio = 1.5;
  t = Telemetry::Start(o);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("trace_sample_ratio"), std::string::npos);
  o.sample_ratio = 0.5;
  EXPECT_TRUE(Telemetry::Start(o).ok());
}

}  // namespace
}  // namespace kiln
