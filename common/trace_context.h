// W3C Trace Context (https://www.w3.org/TR/trace-context/): the ids that tie
// the spans of a batch into one trace across processes, and the
// `traceparent` text form they travel in (gRPC metadata, the Assignment
// message, HTTP headers to LLM providers).
#ifndef KILN_COMMON_TRACE_CONTEXT_H_
#define KILN_COMMON_TRACE_CONTEXT_H_

#include <array>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// Where a new span goes: its trace, its parent span (all zero for the root
// of the trace) and whether the trace is sampled (recorded and exported).
struct TraceContext {
  TraceId trace_id{};
  SpanId span_id{};
  bool sampled = false;

  // A trace id is set (a span id may be zero: "the root of this trace").
  bool valid() const;
  bool has_span() const;
  std::string trace_id_hex() const;
  std::string span_id_hex() const;
};

bool IsZero(const TraceId& id);
bool IsZero(const SpanId& id);
std::string Hex(const TraceId& id);
std::string Hex(const SpanId& id);
// The raw bytes, as OTLP carries them.
std::string Bytes(const TraceId& id);
std::string Bytes(const SpanId& id);
// Lowercase hex of the right length and not all zero; INVALID_ARGUMENT
// otherwise.
absl::StatusOr<TraceId> ParseTraceId(absl::string_view hex);
absl::StatusOr<SpanId> ParseSpanId(absl::string_view hex);

// "00-<trace id>-<span id>-<flags>". INVALID_ARGUMENT names what is wrong:
// a bad length or character, an all-zero id, the forbidden version ff.
// Versions above 00 are read as 00 (their extra fields ignored), as the
// specification asks.
absl::StatusOr<TraceContext> ParseTraceparent(absl::string_view header);
// The traceparent of `ctx`, which must have a trace and a span id.
std::string FormatTraceparent(const TraceContext& ctx);

// A span id derived from the trace and a name ("batch", a job or task id):
// the same on every call, so a process that restarts (or another one)
// names the same span without storing its id. Never all zero.
SpanId DerivedSpanId(const TraceId& trace, absl::string_view name);

// Sampling by trace id (OpenTelemetry's TraceIdRatioBased): the same trace
// gets the same answer in every process. `ratio` is clamped to [0, 1].
bool SampledByRatio(const TraceId& trace, double ratio);

}  // namespace kiln

#endif  // KILN_COMMON_TRACE_CONTEXT_H_
