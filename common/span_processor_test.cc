#include "common/span_processor.h"

#include <deque>
#include <vector>

#include "common/mutex.h"
#include "gtest/gtest.h"

namespace kiln {
namespace {

// Answers exports with scripted statuses (then OK) and keeps the accepted
// requests.
class ScriptedExporter : public SpanExporter {
 public:
  explicit ScriptedExporter(std::deque<absl::Status> script = {})
      : script_(std::move(script)) {}

  absl::Status Export(const ExportTraceServiceRequest& request,
                      absl::Duration) override {
    MutexLock l(&mu_);
    calls_++;
    if (!script_.empty()) {
      absl::Status s = script_.front();
      script_.pop_front();
      if (!s.ok()) return s;
    }
    accepted_.push_back(request);
    return absl::OkStatus();
  }

  std::vector<ExportTraceServiceRequest> accepted() const {
    MutexLock l(&mu_);
    return accepted_;
  }
  int calls() const {
    MutexLock l(&mu_);
    return calls_;
  }

 private:
  mutable Mutex mu_;
  std::deque<absl::Status> script_ ABSL_GUARDED_BY(mu_);
  std::vector<ExportTraceServiceRequest> accepted_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

otlp::Span NamedSpan(const std::string& name) {
  otlp::Span s;
  s.set_name(name);
  return s;
}

std::shared_ptr<const otlp::Resource> Service(const std::string& name) {
  auto r = std::make_shared<otlp::Resource>();
  *r->add_attributes() = StringAttr("service.name", name);
  return r;
}

int SpansIn(const std::vector<ExportTraceServiceRequest>& requests) {
  int n = 0;
  for (const auto& r : requests) {
    for (const auto& rs : r.resource_spans()) {
      for (const auto& ss : rs.scope_spans()) n += ss.spans_size();
    }
  }
  return n;
}

// Only Flush and Shutdown send: batches never fill and the delay is long.
BatchSpanProcessorOptions Manual() {
  BatchSpanProcessorOptions o;
  o.schedule_delay = absl::Hours(1);
  o.max_export_batch = 1000;
  o.initial_backoff = absl::Milliseconds(1);
  o.max_backoff = absl::Milliseconds(4);
  return o;
}

TEST(BatchSpanProcessorTest, FlushSendsOneRequestGroupedByResource) {
  ScriptedExporter exporter;
  BatchSpanProcessor p(&exporter, Manual());
  auto coordinator = Service("kiln-coordinator");
  auto worker = Service("kiln-worker");
  p.OnEnd(coordinator, NamedSpan("batch"));
  p.OnEnd(worker, NamedSpan("attempt"));
  p.OnEnd(coordinator, NamedSpan("task"));
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  auto got = exporter.accepted();
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].resource_spans_size(), 2);
  const auto& first = got[0].resource_spans(0);
  EXPECT_EQ(first.resource().attributes(0).value().string_value(), "kiln-coordinator");
  ASSERT_EQ(first.scope_spans(0).spans_size(), 2);
  EXPECT_EQ(first.scope_spans(0).spans(1).name(), "task");
  EXPECT_EQ(first.scope_spans(0).scope().name(), "kiln");
  EXPECT_EQ(p.stats().exported, 3);
}

TEST(BatchSpanProcessorTest, AFullQueueDropsAndCounts) {
  ScriptedExporter exporter;
  BatchSpanProcessorOptions o = Manual();
  o.max_queue_size = 4;
  BatchSpanProcessor p(&exporter, o);
  auto r = Service("kiln-worker");
  for (int i = 0; i < 10; ++i) p.OnEnd(r, NamedSpan("check"));
  EXPECT_EQ(p.stats().dropped, 6);
  EXPECT_EQ(p.stats().queued, 4);
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  EXPECT_EQ(SpansIn(exporter.accepted()), 4);
}

TEST(BatchSpanProcessorTest, AFullBatchGoesWithoutAFlush) {
  ScriptedExporter exporter;
  BatchSpanProcessorOptions o = Manual();
  o.max_export_batch = 3;
  BatchSpanProcessor p(&exporter, o);
  auto r = Service("kiln-worker");
  for (int i = 0; i < 7; ++i) p.OnEnd(r, NamedSpan("check"));
  // Two full batches go on their own; the seventh span waits for the flush.
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  auto got = exporter.accepted();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(SpansIn({got[0]}), 3);
  EXPECT_EQ(SpansIn({got[1]}), 3);
  EXPECT_EQ(SpansIn({got[2]}), 1);
}

TEST(BatchSpanProcessorTest, UnavailableIsRetriedUntilAccepted) {
  ScriptedExporter exporter({absl::UnavailableError("connection refused"),
                             absl::UnavailableError("connection refused")});
  BatchSpanProcessor p(&exporter, Manual());
  p.OnEnd(Service("kiln-cli"), NamedSpan("kiln run"));
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  EXPECT_EQ(exporter.calls(), 3);
  EXPECT_EQ(SpansIn(exporter.accepted()), 1);
  EXPECT_EQ(p.stats().retries, 2);
  EXPECT_EQ(p.stats().exported, 1);
  EXPECT_EQ(p.stats().failed, 0);
}

TEST(BatchSpanProcessorTest, APermanentErrorIsNotRetried) {
  ScriptedExporter exporter({absl::InvalidArgumentError("bad span")});
  BatchSpanProcessor p(&exporter, Manual());
  p.OnEnd(Service("kiln-cli"), NamedSpan("kiln run"));
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  EXPECT_EQ(exporter.calls(), 1);
  EXPECT_EQ(p.stats().failed, 1);
}

TEST(BatchSpanProcessorTest, RetriesStopAfterTheLastAttempt) {
  std::deque<absl::Status> script(10, absl::UnavailableError("down"));
  ScriptedExporter exporter(script);
  BatchSpanProcessorOptions o = Manual();
  o.max_export_attempts = 3;
  BatchSpanProcessor p(&exporter, o);
  p.OnEnd(Service("kiln-cli"), NamedSpan("kiln run"));
  ASSERT_TRUE(p.Flush(absl::Seconds(30)));
  EXPECT_EQ(exporter.calls(), 3);
  EXPECT_EQ(p.stats().failed, 1);
}

TEST(BatchSpanProcessorTest, ShutdownExportsWhatIsQueuedThenDrops) {
  ScriptedExporter exporter;
  BatchSpanProcessor p(&exporter, Manual());
  auto r = Service("kiln-worker");
  for (int i = 0; i < 5; ++i) p.OnEnd(r, NamedSpan("llm.request"));
  p.Shutdown(absl::Seconds(30));
  EXPECT_EQ(SpansIn(exporter.accepted()), 5);
  p.OnEnd(r, NamedSpan("late"));
  EXPECT_EQ(p.stats().dropped, 1);
  p.Shutdown(absl::Seconds(1));  // idempotent
}

TEST(BatchSpanProcessorTest, ShutdownGivesUpRetryingAtItsDeadline) {
  std::deque<absl::Status> script(1000, absl::UnavailableError("down"));
  ScriptedExporter exporter(script);
  BatchSpanProcessorOptions o = Manual();
  o.max_export_attempts = 1000;
  o.initial_backoff = absl::Milliseconds(50);
  o.max_backoff = absl::Milliseconds(50);
  BatchSpanProcessor p(&exporter, o);
  p.OnEnd(Service("kiln-cli"), NamedSpan("kiln run"));
  p.Shutdown(absl::Milliseconds(200));
  EXPECT_EQ(p.stats().failed, 1);
  EXPECT_LT(exporter.calls(), 1000);
}

}  // namespace
}  // namespace kiln
