// API keys: loaded from an environment variable or a secrets file, held in a
// type that never prints its value. Keys must never reach a log, an error, a
// trace or storage: only the adapters' request headers read them.
#ifndef KILN_COMMON_SECRET_H_
#define KILN_COMMON_SECRET_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  // The key, for a request header. Nothing else should call this.
  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  // `text` with every occurrence of the key replaced by "[redacted]"
  // (providers sometimes echo a key in their error messages).
  std::string Scrub(absl::string_view text) const;

  friend std::ostream& operator<<(std::ostream& os, const Secret& s) {
    return os << (s.empty() ? "[unset]" : "[redacted]");
  }

 private:
  std::string value_;
};

// The key named `name`: from the secrets file when `secrets_file` is given
// (lines "NAME=value"; blank lines and #-comments ignored), otherwise from
// the environment. NOT_FOUND names where it looked, never a value.
absl::StatusOr<Secret> LoadSecret(absl::string_view name,
                                  absl::string_view secrets_file = "");

}  // namespace kiln

#endif  // KILN_COMMON_SECRET_H_
