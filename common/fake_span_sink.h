// A SpanSink that keeps every ended span, for tests of what is traced.
#ifndef KILN_COMMON_FAKE_SPAN_SINK_H_
#define KILN_COMMON_FAKE_SPAN_SINK_H_

#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/tracer.h"

namespace kiln {

class FakeSpanSink : public SpanSink {
 public:
  void OnEnd(std::shared_ptr<const otlp::Resource> resource,
             otlp::Span span) override;

  std::vector<otlp::Span> spans() const;
  // The spans named `name`, in the order they ended.
  std::vector<otlp::Span> Named(const std::string& name) const;

 private:
  mutable Mutex mu_;
  std::vector<otlp::Span> spans_ ABSL_GUARDED_BY(mu_);
};

// The value of attribute `key` of `span` as text ("" when absent); ints and
// doubles in decimal, bools as true/false.
std::string AttrText(const otlp::Span& span, const std::string& key);
// The int value of attribute `key` (0 when absent or not an int).
int64_t AttrInt(const otlp::Span& span, const std::string& key);

}  // namespace kiln

#endif  // KILN_COMMON_FAKE_SPAN_SINK_H_
