// Server-sent events (the HTML living standard's event-stream format), as
// both OpenAI and Anthropic stream responses: an incremental parser for the
// adapters and a formatter for kiln_llmsim.
#ifndef KILN_LLM_SSE_H_
#define KILN_LLM_SSE_H_

#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace kiln {

struct SseEvent {
  std::string event;  // empty: the default type ("message")
  std::string data;   // data lines joined with '\n'
  std::string id;
};

// Feed bytes as they arrive, split anywhere; each complete event is passed
// to the callback. Handles \n, \r\n and \r line ends, comments (keep-alives)
// and multi-line data.
class SseParser {
 public:
  void Feed(absl::string_view bytes, const std::function<void(SseEvent)>& on_event);

 private:
  void Line(absl::string_view line, const std::function<void(SseEvent)>& on_event);

  std::string partial_;
  bool last_was_cr_ = false;
  SseEvent current_;
  bool has_data_ = false;
};

// One event on the wire: "event: <event>\n" (when non-empty), a "data:"
// line per line of `data`, then a blank line.
std::string FormatSse(absl::string_view event, absl::string_view data);

}  // namespace kiln

#endif  // KILN_LLM_SSE_H_
