#include "llm/sse.h"

#include <vector>

#include "gtest/gtest.h"

namespace kiln {
namespace {

std::vector<SseEvent> ParseInPieces(const std::string& wire, size_t piece) {
  SseParser p;
  std::vector<SseEvent> out;
  for (size_t i = 0; i < wire.size(); i += piece) {
    p.Feed(absl::string_view(wire).substr(i, piece),
           [&](SseEvent e) { out.push_back(std::move(e)); });
  }
  return out;
}

TEST(SseParser, EventsSplitAnywhere) {
  const std::string wire =
      ": keep-alive\n\n"
      "event: message_start\r\ndata: {\"a\":1}\r\n\r\n"
      "data: line one\rdata:line two\r\r"
      "id: 7\nevent: ping\ndata: {}\n\n"
      "data: [DONE]\n\n";
  for (size_t piece : {1, 2, 3, 7, 1000}) {
    const std::vector<SseEvent> ev = ParseInPieces(wire, piece);
    ASSERT_EQ(ev.size(), 4u) << piece;
    EXPECT_EQ(ev[0].event, "message_start");
    EXPECT_EQ(ev[0].data, "{\"a\":1}");
    EXPECT_EQ(ev[1].event, "");
    EXPECT_EQ(ev[1].data, "line one\nline two");
    EXPECT_EQ(ev[2].event, "ping");
    EXPECT_EQ(ev[2].id, "7");
    EXPECT_EQ(ev[3].data, "[DONE]");
  }
}

TEST(SseParser, EventWithoutDataIsNotDispatched) {
  EXPECT_TRUE(ParseInPieces("event: x\n\n", 100).empty());
}

TEST(FormatSse, RoundTrips) {
  const std::string wire = FormatSse("content_block_delta", "{\"x\":\n\"y\"}") +
                           FormatSse("", "[DONE]");
  EXPECT_EQ(wire.substr(0, 26), "event: content_block_delta");
  const std::vector<SseEvent> ev = ParseInPieces(wire, 5);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].data, "{\"x\":\n\"y\"}");
  EXPECT_EQ(ev[1].data, "[DONE]");
}

}  // namespace
}  // namespace kiln
