#include "common/fake_span_sink.h"

#include "absl/strings/str_cat.h"

namespace kiln {

void FakeSpanSink::OnEnd(std::shared_ptr<const otlp::Resource>, otlp::Span span) {
  MutexLock l(&mu_);
  spans_.push_back(std::move(span));
}

std::vector<otlp::Span> FakeSpanSink::spans() const {
  MutexLock l(&mu_);
  return spans_;
}

std::vector<otlp::Span> FakeSpanSink::Named(const std::string& name) const {
  MutexLock l(&mu_);
  std::vector<otlp::Span> out;
  for (const auto& s : spans_) {
    if (s.name() == name) out.push_back(s);
  }
  return out;
}

std::string AttrText(const otlp::Span& span, const std::string& key) {
  for (const auto& kv : span.attributes()) {
    if (kv.key() != key) continue;
    const auto& v = kv.value();
    switch (v.value_case()) {
      case opentelemetry::proto::common::v1::AnyValue::kStringValue:
        return v.string_value();
      case opentelemetry::proto::common::v1::AnyValue::kIntValue:
        return absl::StrCat(v.int_value());
      case opentelemetry::proto::common::v1::AnyValue::kDoubleValue:
        return absl::StrCat(v.double_value());
      case opentelemetry::proto::common::v1::AnyValue::kBoolValue:
        return v.bool_value() ? "true" : "false";
      default:
        return "";
    }
  }
  return "";
}

int64_t AttrInt(const otlp::Span& span, const std::string& key) {
  for (const auto& kv : span.attributes()) {
    if (kv.key() == key) return kv.value().int_value();
  }
  return 0;
}

}  // namespace kiln
