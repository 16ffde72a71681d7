#include "common/trace_context.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"

namespace kiln {

namespace {

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& a) {
  return std::all_of(a.begin(), a.end(), [](uint8_t b) { return b == 0; });
}

template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& a) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(a.data()), N));
}

bool IsLowerHex(absl::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> FromHex(absl::string_view hex,
                                               absl::string_view what) {
  if (hex.size() != 2 * N || !IsLowerHex(hex)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be ", 2 * N, " lowercase hex digits, got \"", hex, "\""));
  }
  const std::string bytes = absl::HexStringToBytes(hex);
  std::array<uint8_t, N> out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  if (AllZero(out)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must not be all zero"));
  }
  return out;
}

}  // namespace

bool TraceContext::valid() const { return !AllZero(trace_id); }
bool TraceContext::has_span() const { return !AllZero(span_id); }
std::string TraceContext::trace_id_hex() const { return ToHex(trace_id); }
std::string TraceContext::span_id_hex() const { return ToHex(span_id); }

bool IsZero(const TraceId& id) { return AllZero(id); }
bool IsZero(const SpanId& id) { return AllZero(id); }
std::string Hex(const TraceId& id) { return ToHex(id); }
std::string Hex(const SpanId& id) { return ToHex(id); }
std::string Bytes(const TraceId& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}
std::string Bytes(const SpanId& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), id.size());
}

absl::StatusOr<TraceId> ParseTraceId(absl::string_view hex) {
  return FromHex<16>(hex, "trace id");
}

absl::StatusOr<SpanId> ParseSpanId(absl::string_view hex) {
  return FromHex<8>(hex, "span id");
}

absl::StatusOr<TraceContext> ParseTraceparent(absl::string_view header) {
  std::vector<absl::string_view> parts = absl::StrSplit(header, '-');
  if (parts.size() < 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "traceparent \"", header, "\" must be version-traceid-spanid-flags"));
  }
  const absl::string_view version = parts[0];
  if (version.size() != 2 || !IsLowerHex(version)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "traceparent version must be 2 lowercase hex digits, got \"", version, "\""));
  }
  if (version == "ff") {
    return absl::InvalidArgumentError("traceparent version ff is forbidden");
  }
  if (version == "00" && parts.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(
        "traceparent \"", header, "\" of version 00 has more than 4 fields"));
  }
  TraceContext ctx;
  absl::StatusOr<TraceId> trace = ParseTraceId(parts[1]);
  if (!trace.ok()) return trace.status();
  absl::StatusOr<SpanId> span = ParseSpanId(parts[2]);
  if (!span.ok()) return span.status();
  if (parts[3].size() != 2 || !IsLowerHex(parts[3])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "traceparent flags must be 2 lowercase hex digits, got \"", parts[3], "\""));
  }
  ctx.trace_id = *trace;
  ctx.span_id = *span;
  const std::string flags = absl::HexStringToBytes(parts[3]);
  ctx.sampled = (static_cast<uint8_t>(flags[0]) & 0x01) != 0;
  return ctx;
}

std::string FormatTraceparent(const TraceContext& ctx) {
  return absl::StrCat("00-", ctx.trace_id_hex(), "-", ctx.span_id_hex(),
                      ctx.sampled ? "-01" : "-00");
}

SpanId DerivedSpanId(const TraceId& trace, absl::string_view name) {
  const std::string digest =
      absl::HexStringToBytes(Sha256Hex(absl::StrCat(Hex(trace), "/", name)));
  SpanId id;
  std::copy(digest.begin(), digest.begin() + id.size(), id.begin());
  if (AllZero(id)) id[7] = 1;
  return id;
}

bool SampledByRatio(const TraceId& trace, double ratio) {
  if (!(ratio > 0)) return false;
  if (ratio >= 1) return true;
  // The trace id's last 8 bytes (random in every id Kiln makes), against
  // the ratio scaled to 2^64.
  uint64_t x = 0;
  for (size_t i = 8; i < 16; ++i) x = (x << 8) | trace[i];
  const double bound = std::ldexp(ratio, 64);
  return static_cast<double>(x) < bound;
}

}  // namespace kiln
