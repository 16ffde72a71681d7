// Reads one HTTP response of a provider's streaming API into what the call
// driver needs: text as it streams, then exactly one of a summary or an
// error, with the provider's request ids, the `x-should-retry` advice and
// what the failed request had been billed. It holds no I/O: HttpProvider's
// transport feeds it, and tests feed it recorded responses split anywhere.
//
// Not thread-safe: one transport thread at a time.
#ifndef KILN_LLM_RESPONSE_READER_H_
#define KILN_LLM_RESPONSE_READER_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "llm/call_driver.h"
#include "common/secret.h"
#include "llm/sse.h"
#include "llm/wire.h"

namespace kiln {

class ResponseReader {
 public:
  // None of the pointers is owned; `wire` and `key` must outlive the reader.
  // `model_note` is appended to a 404's message (it names the profile and
  // the id sent); the key is scrubbed from every message.
  ResponseReader(const WireProtocol* wire, const Secret* key, AttemptSink* sink,
                 std::string model_note = "");

  // The status line and headers (names lower-cased); `now` reads an HTTP
  // date in Retry-After.
  void OnResponse(int status, const std::map<std::string, std::string>& headers,
                  absl::Time now);
  // Bytes of the body. False once the attempt has failed (an error event in
  // the stream): the caller stops the transfer; later calls do nothing.
  bool OnBody(absl::string_view bytes);
  // The transfer ended: OK when the whole response arrived. Reports the
  // attempt's end to the sink unless it already failed.
  void OnDone(const absl::Status& transport_status);

 private:
  void Fail(AttemptError e);
  // The error's ids and what the stream had billed so far.
  void Annotate(AttemptError* e) const;

  const WireProtocol* wire_;
  const Secret* key_;
  AttemptSink* sink_;
  const std::string model_note_;
  std::unique_ptr<StreamDecoder> decoder_;
  SseParser parser_;
  int status_ = 0;
  absl::Duration retry_after_ = absl::Seconds(-1);
  std::string should_retry_;
  std::string request_id_;
  std::string error_body_;
  bool failed_ = false;
};

}  // namespace kiln

#endif  // KILN_LLM_RESPONSE_READER_H_
