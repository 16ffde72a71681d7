// The start and stop every Kiln server binary shares (kiln_coordinator,
// kiln_worker): the usage text and flag parsing, one-line fatal errors named
// after the program, the bearer token from its environment variable or
// secrets file, telemetry from --otlp_endpoint (telemetry_flags.h), and the
// wait for SIGINT or SIGTERM.
//
// For main() only: not thread-safe.
#ifndef KILN_COMMON_BINARY_H_
#define KILN_COMMON_BINARY_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/telemetry.h"

namespace kiln {

class Binary {
 public:
  // Sets the usage text and parses the command line.
  Binary(std::string name, const char* usage, int argc, char** argv);
  // Flushes the spans still queued (up to 10 s).
  ~Binary();

  // Prints "<name>: <message>" on stderr; returns the exit code 2.
  int Fail(absl::string_view message) const;
  int Fail(const absl::Status& status) const { return Fail(status.message()); }

  // The secret in `env`, else in `secrets_file`'s NAME=value lines; empty
  // when neither has it.
  std::string Token(const std::string& env, const std::string& secrets_file) const;

  // Starts the exporter of --otlp_endpoint (off without one). The error
  // names the flag.
  absl::Status StartTelemetry();
  // Valid after StartTelemetry succeeded.
  Telemetry& telemetry() { return *telemetry_; }

  // Blocks until SIGINT or SIGTERM.
  void WaitForStop() const;

  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  std::unique_ptr<Telemetry> telemetry_;
};

}  // namespace kiln

#endif  // KILN_COMMON_BINARY_H_
