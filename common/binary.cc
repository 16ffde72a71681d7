#include "common/binary.h"

#include <cstdio>
#include <utility>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "common/process.h"
#include "common/secret.h"
#include "common/telemetry_flags.h"

namespace kiln {

Binary::Binary(std::string name, const char* usage, int argc, char** argv)
    : name_(std::move(name)) {
  absl::SetProgramUsageMessage(usage);
  absl::ParseCommandLine(argc, argv);
}

Binary::~Binary() {
  if (telemetry_) telemetry_->Shutdown(absl::Seconds(10));  // the last turns' spans
}

int Binary::Fail(absl::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\n", name_.c_str(), static_cast<int>(message.size()),
               message.data());
  return 2;
}

std::string Binary::Token(const std::string& env, const std::string& secrets_file) const {
  absl::StatusOr<Secret> token = LoadSecret(env, secrets_file);
  return token.ok() ? token->Reveal() : "";
}

absl::Status Binary::StartTelemetry() {
  absl::StatusOr<std::unique_ptr<Telemetry>> t = StartTelemetryFromFlags();
  if (!t.ok()) return absl::Status(t.status().code(), absl::StrCat("--", t.status().message()));
  telemetry_ = *std::move(t);
  return absl::OkStatus();
}

void Binary::WaitForStop() const { WaitForStopSignal(); }

}  // namespace kiln
