// Spans (DESIGN.md, "Observability"): a Tracer starts them, a Span collects
// attributes, events and a status, and End hands the finished span to a
// SpanSink (the BatchSpanProcessor of span_processor.h, which exports over
// OTLP/gRPC; FakeSpanSink in tests).
//
// Spans are OTLP messages from the start: no second span model to convert.
// A Span whose trace is not sampled, or made by a disabled Tracer, records
// nothing and costs no allocation, but still carries its context, so a
// process that does not export still passes the trace on.
//
// Times are explicit: the coordinator builds a task's span when the task
// ends, from its stored record (its start may predate a restart); live code
// passes its clock's Now().
#ifndef KILN_COMMON_TRACER_H_
#define KILN_COMMON_TRACER_H_

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/mutex.h"
#include "common/trace_context.h"
#include "opentelemetry/proto/common/v1/common.pb.h"
#include "opentelemetry/proto/resource/v1/resource.pb.h"
#include "opentelemetry/proto/trace/v1/trace.pb.h"

namespace kiln {

namespace otlp {
using KeyValue = opentelemetry::proto::common::v1::KeyValue;
using Resource = opentelemetry::proto::resource::v1::Resource;
using Span = opentelemetry::proto::trace::v1::Span;
}  // namespace otlp

// Attribute builders (for events; spans have setters).
otlp::KeyValue StringAttr(absl::string_view key, absl::string_view value);
otlp::KeyValue IntAttr(absl::string_view key, int64_t value);
otlp::KeyValue DoubleAttr(absl::string_view key, double value);
otlp::KeyValue BoolAttr(absl::string_view key, bool value);

uint64_t UnixNanos(absl::Time t);

// Receives ended spans. Thread-safe; must not block.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void OnEnd(std::shared_ptr<const otlp::Resource> resource,
                     otlp::Span span) = 0;
};

enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3 };

class Span {
 public:
  // A span that records nothing and has no context.
  Span() = default;
  Span(Span&&) = default;
  Span& operator=(Span&&) = default;
  // An unended recording span is dropped, not exported: End it.
  ~Span() = default;

  bool recording() const { return proto_ != nullptr; }
  // This span's context: the parent of its children, what goes on the wire.
  const TraceContext& context() const { return ctx_; }

  // Setters replace an attribute of the same key. No-ops unless recording.
  Span& SetString(absl::string_view key, absl::string_view value);
  Span& SetInt(absl::string_view key, int64_t value);
  Span& SetDouble(absl::string_view key, double value);
  Span& SetBool(absl::string_view key, bool value);
  Span& AddEvent(absl::string_view name, absl::Time at,
                 std::vector<otlp::KeyValue> attributes = {});
  // Status ERROR with `message`, and an "exception" event at `at` carrying
  // exception.type and exception.message (OpenTelemetry's convention).
  Span& SetError(absl::string_view type, absl::string_view message, absl::Time at);
  Span& SetOk();

  // Ends the span at `end` and hands it to the sink. Later calls do nothing.
  void End(absl::Time end);

 private:
  friend class Tracer;
  otlp::KeyValue* Attr(absl::string_view key);

  TraceContext ctx_;
  SpanSink* sink_ = nullptr;
  std::shared_ptr<const otlp::Resource> resource_;
  std::unique_ptr<otlp::Span> proto_;
};

class Tracer {
 public:
  // A disabled tracer: its spans record nothing, and it starts no traces.
  Tracer() = default;
  // Spans of `service_name` (the resource's service.name, with host.name
  // and process.pid) go to `sink` (not owned). New traces are sampled with
  // probability `sample_ratio`; a span under a remote parent follows the
  // parent's decision.
  Tracer(std::string service_name, SpanSink* sink, double sample_ratio);
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  bool enabled() const { return sink_ != nullptr; }

  // A new trace (random id; no span yet), sampled by the ratio; an invalid
  // context when the tracer is disabled.
  TraceContext NewTrace();

  // The root span of a new trace (NewTrace). Records when the tracer is
  // enabled and the trace sampled.
  Span StartRootSpan(absl::string_view name, absl::Time start,
                     SpanKind kind = SpanKind::kInternal);
  // A span under `parent` (its trace and span). Records when the tracer is
  // enabled and the trace sampled; with an invalid parent (the work is not
  // traced) it records nothing and has no context.
  Span StartSpan(absl::string_view name, const TraceContext& parent,
                 absl::Time start, SpanKind kind = SpanKind::kInternal);
  // The same with a given span id (DerivedSpanId), for spans the
  // coordinator names before it builds them.
  Span StartSpanWithId(absl::string_view name, const TraceContext& parent,
                       const SpanId& id, absl::Time start,
                       SpanKind kind = SpanKind::kInternal);

 private:
  SpanId RandomSpanId();

  SpanSink* sink_ = nullptr;
  double sample_ratio_ = 0;
  std::shared_ptr<const otlp::Resource> resource_;
  Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kiln

#endif  // KILN_COMMON_TRACER_H_
