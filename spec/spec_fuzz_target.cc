// libFuzzer entry point for the spec parser and validator. Built as a fuzzer
// by bench/fuzz_spec_parser (clang, -fsanitize=fuzzer); replayed over the
// kept corpus by spec_fuzz_corpus_test in every test run.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/base/internal/raw_logging.h"
#include "spec/spec_validator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const kiln::ModelCatalog* const models =
      new kiln::ModelCatalog(kiln::ModelCatalog::Builtin());
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = kiln::ParseAndValidate(text, "fuzz.yaml", *models);
  if (!parsed.ok()) {
    // Bad input must be reported as INVALID_ARGUMENT with a message.
    ABSL_RAW_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument,
                   "parse error with a code other than INVALID_ARGUMENT");
    ABSL_RAW_CHECK(!parsed.status().message().empty(), "empty error message");
    return 0;
  }
  // A valid spec expands, and its jobs stay valid one by one.
  const auto jobs = kiln::ExpandJobs(parsed->batch);
  kiln::v1::BatchSpec flat;
  for (const auto& j : jobs) *flat.add_jobs() = j;
  const auto problems = kiln::ValidateBatch(flat, *models, {}, {});
  ABSL_RAW_CHECK(problems.empty(), "an expanded valid batch is invalid");
  return 0;
}
