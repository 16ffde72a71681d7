#include "llm/sse.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kiln {

void SseParser::Feed(absl::string_view bytes,
                     const std::function<void(SseEvent)>& on_event) {
  for (char c : bytes) {
    if (c == '\n' && last_was_cr_) {  // the \n of a \r\n
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c == '\n' || c == '\r') {
      Line(partial_, on_event);
      partial_.clear();
    } else {
      partial_ += c;
    }
  }
}

void SseParser::Line(absl::string_view line,
                     const std::function<void(SseEvent)>& on_event) {
  if (line.empty()) {
    if (has_data_) on_event(std::move(current_));
    current_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment
  const size_t colon = line.find(':');
  absl::string_view field = line.substr(0, colon);
  absl::string_view value;
  if (colon != absl::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    current_.event = std::string(value);
  } else if (field == "data") {
    if (has_data_) current_.data += '\n';
    current_.data.append(value.data(), value.size());
    has_data_ = true;
  } else if (field == "id") {
    current_.id = std::string(value);
  }
}

std::string FormatSse(absl::string_view event, absl::string_view data) {
  std::string out;
  if (!event.empty()) absl::StrAppend(&out, "event: ", event, "\n");
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    absl::StrAppend(&out, "data: ", line, "\n");
  }
  out += "\n";
  return out;
}

}  // namespace kiln
