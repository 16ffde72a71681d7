#include "common/tracer.h"

#include <unistd.h>

#include <utility>

namespace kiln {

namespace {

using opentelemetry::proto::trace::v1::Status;

otlp::KeyValue Named(absl::string_view key) {
  otlp::KeyValue kv;
  kv.set_key(std::string(key));
  return kv;
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

}  // namespace

otlp::KeyValue StringAttr(absl::string_view key, absl::string_view value) {
  otlp::KeyValue kv = Named(key);
  kv.mutable_value()->set_string_value(std::string(value));
  return kv;
}

otlp::KeyValue IntAttr(absl::string_view key, int64_t value) {
  otlp::KeyValue kv = Named(key);
  kv.mutable_value()->set_int_value(value);
  return kv;
}

otlp::KeyValue DoubleAttr(absl::string_view key, double value) {
  otlp::KeyValue kv = Named(key);
  kv.mutable_value()->set_double_value(value);
  return kv;
}

otlp::KeyValue BoolAttr(absl::string_view key, bool value) {
  otlp::KeyValue kv = Named(key);
  kv.mutable_value()->set_bool_value(value);
  return kv;
}

uint64_t UnixNanos(absl::Time t) {
  const int64_t ns = absl::ToUnixNanos(t);
  return ns < 0 ? 0 : static_cast<uint64_t>(ns);
}

// ---------------------------------------------------------------- Span

otlp::KeyValue* Span::Attr(absl::string_view key) {
  for (otlp::KeyValue& kv : *proto_->mutable_attributes()) {
    if (kv.key() == key) return &kv;
  }
  otlp::KeyValue* kv = proto_->add_attributes();
  kv->set_key(std::string(key));
  return kv;
}

Span& Span::SetString(absl::string_view key, absl::string_view value) {
  if (proto_) Attr(key)->mutable_value()->set_string_value(std::string(value));
  return *this;
}

Span& Span::SetInt(absl::string_view key, int64_t value) {
  if (proto_) Attr(key)->mutable_value()->set_int_value(value);
  return *this;
}

Span& Span::SetDouble(absl::string_view key, double value) {
  if (proto_) Attr(key)->mutable_value()->set_double_value(value);
  return *this;
}

Span& Span::SetBool(absl::string_view key, bool value) {
  if (proto_) Attr(key)->mutable_value()->set_bool_value(value);
  return *this;
}

Span& Span::AddEvent(absl::string_view name, absl::Time at,
                     std::vector<otlp::KeyValue> attributes) {
  if (!proto_) return *this;
  otlp::Span::Event* e = proto_->add_events();
  e->set_time_unix_nano(UnixNanos(at));
  e->set_name(std::string(name));
  for (otlp::KeyValue& kv : attributes) *e->add_attributes() = std::move(kv);
  return *this;
}

Span& Span::SetError(absl::string_view type, absl::string_view message,
                     absl::Time at) {
  if (!proto_) return *this;
  proto_->mutable_status()->set_code(Status::STATUS_CODE_ERROR);
  proto_->mutable_status()->set_message(std::string(message));
  return AddEvent("exception", at,
                  {StringAttr("exception.type", type),
                   StringAttr("exception.message", message)});
}

Span& Span::SetOk() {
  if (proto_) proto_->mutable_status()->set_code(Status::STATUS_CODE_OK);
  return *this;
}

void Span::End(absl::Time end) {
  if (!proto_) return;
  const uint64_t ns = UnixNanos(end);
  proto_->set_end_time_unix_nano(std::max(ns, proto_->start_time_unix_nano()));
  SpanSink* sink = sink_;
  std::unique_ptr<otlp::Span> proto = std::move(proto_);
  sink->OnEnd(std::move(resource_), std::move(*proto));
}

// ---------------------------------------------------------------- Tracer

Tracer::Tracer(std::string service_name, SpanSink* sink, double sample_ratio)
    : sink_(sink), sample_ratio_(sample_ratio), rng_(std::random_device{}()) {
  auto resource = std::make_shared<otlp::Resource>();
  *resource->add_attributes() = StringAttr("service.name", service_name);
  *resource->add_attributes() = StringAttr("host.name", HostName());
  *resource->add_attributes() = IntAttr("process.pid", getpid());
  *resource->add_attributes() = StringAttr("telemetry.sdk.name", "kiln");
  *resource->add_attributes() = StringAttr("telemetry.sdk.language", "cpp");
  resource_ = std::move(resource);
}

TraceContext Tracer::NewTrace() {
  TraceContext ctx;
  if (!enabled()) return ctx;
  {
    MutexLock l(&mu_);
    for (int half = 0; half < 2; ++half) {
      uint64_t x = rng_();
      for (int i = 0; i < 8; ++i) ctx.trace_id[half * 8 + i] = (x >> (8 * i)) & 0xff;
    }
  }
  if (IsZero(ctx.trace_id)) ctx.trace_id[15] = 1;
  ctx.sampled = SampledByRatio(ctx.trace_id, sample_ratio_);
  return ctx;
}

SpanId Tracer::RandomSpanId() {
  SpanId id;
  {
    MutexLock l(&mu_);
    uint64_t x = rng_();
    for (int i = 0; i < 8; ++i) id[i] = (x >> (8 * i)) & 0xff;
  }
  if (IsZero(id)) id[7] = 1;
  return id;
}

Span Tracer::StartRootSpan(absl::string_view name, absl::Time start, SpanKind kind) {
  const TraceContext trace = NewTrace();
  if (!trace.valid()) return Span();
  return StartSpanWithId(name, trace, RandomSpanId(), start, kind);
}

Span Tracer::StartSpan(absl::string_view name, const TraceContext& parent,
                       absl::Time start, SpanKind kind) {
  if (!parent.valid()) return Span();
  return StartSpanWithId(name, parent, RandomSpanId(), start, kind);
}

Span Tracer::StartSpanWithId(absl::string_view name, const TraceContext& parent,
                             const SpanId& id, absl::Time start, SpanKind kind) {
  Span span;
  if (!parent.valid()) return span;
  span.ctx_.trace_id = parent.trace_id;
  span.ctx_.span_id = id;
  span.ctx_.sampled = parent.sampled;
  if (!enabled() || !parent.sampled) return span;
  span.sink_ = sink_;
  span.resource_ = resource_;
  span.proto_ = std::make_unique<otlp::Span>();
  otlp::Span& p = *span.proto_;
  p.set_trace_id(Bytes(parent.trace_id));
  p.set_span_id(Bytes(id));
  if (parent.has_span()) p.set_parent_span_id(Bytes(parent.span_id));
  p.set_name(std::string(name));
  p.set_kind(static_cast<otlp::Span::SpanKind>(kind));
  p.set_start_time_unix_nano(UnixNanos(start));
  p.set_flags(0x01);  // sampled
  return span;
}

}  // namespace kiln
