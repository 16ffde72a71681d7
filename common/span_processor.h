// Export of ended spans in the background (OpenTelemetry's batch span
// processor): OnEnd only queues, so tracing never slows the code it
// observes; a thread sends the queue in batches to a SpanExporter.
//
// - The queue is bounded: a span that finds it full is dropped and counted
//   (stats().dropped), never waited for.
// - A batch goes out when max_export_batch spans are queued, when the
//   oldest has waited schedule_delay, on Flush and on Shutdown.
// - An export that fails with a transient code (UNAVAILABLE, and the other
//   codes OTLP calls retryable) is retried with exponential backoff, up to
//   max_export_attempts; then its spans are counted as failed.
// - Shutdown exports what is queued (retrying within its deadline), then
//   stops the thread; spans ended after it are dropped.
#ifndef KILN_COMMON_SPAN_PROCESSOR_H_
#define KILN_COMMON_SPAN_PROCESSOR_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/tracer.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace kiln {

using ExportTraceServiceRequest =
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;

// Sends one batch of spans. Called from the processor's thread only.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual absl::Status Export(const ExportTraceServiceRequest& request,
                              absl::Duration timeout) = 0;
};

// Whether an export that failed with `code` may succeed if sent again
// (OTLP/gRPC: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE,
// UNAVAILABLE, DATA_LOSS).
bool RetryableExportError(absl::StatusCode code);

struct BatchSpanProcessorOptions {
  size_t max_queue_size = 4096;
  size_t max_export_batch = 512;
  // The longest a queued span waits for a batch to fill.
  absl::Duration schedule_delay = absl::Seconds(2);
  absl::Duration export_timeout = absl::Seconds(10);
  int max_export_attempts = 6;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // Name and version of the instrumentation scope of every span.
  std::string scope_name = "kiln";
  std::string scope_version = "1";
};

class BatchSpanProcessor : public SpanSink {
 public:
  struct Stats {
    int64_t queued = 0;    // accepted into the queue
    int64_t dropped = 0;   // the queue was full, or after Shutdown
    int64_t exported = 0;  // accepted by the receiver
    int64_t failed = 0;    // given up on (permanent error or retries spent)
    int64_t export_calls = 0;
    int64_t retries = 0;
  };

  // `exporter` is not owned and must outlive the processor.
  BatchSpanProcessor(SpanExporter* exporter, BatchSpanProcessorOptions options = {});
  ~BatchSpanProcessor() override;  // Shutdown(export_timeout)
  BatchSpanProcessor(const BatchSpanProcessor&) = delete;
  BatchSpanProcessor& operator=(const BatchSpanProcessor&) = delete;

  void OnEnd(std::shared_ptr<const otlp::Resource> resource,
             otlp::Span span) override;

  // Exports every span queued before the call; false if that took longer
  // than `timeout` (the spans stay queued).
  bool Flush(absl::Duration timeout);
  // Flush, then stop. Idempotent.
  void Shutdown(absl::Duration timeout);

  Stats stats() const;

 private:
  using Entry = std::pair<std::shared_ptr<const otlp::Resource>, otlp::Span>;
  void Loop();
  // Sends `entries`, retrying transient errors (until the shutdown
  // deadline, once one is set); true if the receiver accepted them.
  bool ExportWithRetry(std::vector<Entry> entries);
  ExportTraceServiceRequest BuildRequest(std::vector<Entry>& entries) const;

  SpanExporter* const exporter_;
  const BatchSpanProcessorOptions options_;

  mutable Mutex mu_;
  CondVar cv_;        // work for the thread
  CondVar progress_;  // spans processed, for Flush
  std::deque<Entry> queue_ ABSL_GUARDED_BY(mu_);
  absl::Time oldest_ ABSL_GUARDED_BY(mu_);
  // Spans queued so far; spans exported or failed so far.
  int64_t enqueued_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t processed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t flush_target_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time stop_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace kiln

#endif  // KILN_COMMON_SPAN_PROCESSOR_H_
