// Reads job and batch specs from YAML into kiln.v1.BatchSpec, remembering
// where every field came from so that later validation errors name file:line.
//
// Two shapes are accepted (docs/spec.md documents every field):
//   - a job file: a mapping with the fields of one job (name, repo, files...);
//   - a batch file: a mapping with `jobs:` and/or `matrix:` plus `policy:`.
#ifndef KILN_SPEC_SPEC_PARSER_H_
#define KILN_SPEC_SPEC_PARSER_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kiln/v1/spec.pb.h"

namespace kiln {

// Dotted field path ("jobs[0].files[2].deps[1]") -> where its value is.
using SpecLocations = std::map<std::string, kiln::v1::SourceLocation>;

struct ParsedSpec {
  kiln::v1::BatchSpec batch;
  SpecLocations locations;
  // The file held one job (now batch.jobs(0)); errors then name its fields
  // without the "jobs[0]." prefix.
  bool single_job = false;
  // The file name as given, for messages.
  std::string file;
};

// Parses `yaml`. INVALID_ARGUMENT lists every syntax, shape and type problem
// (unknown fields, wrong types, bad durations), one per line as
// "file:line:column: field: message". Semantic checks (deps, cycles, models,
// paths) are ValidateBatch's (spec_validator.h).
absl::StatusOr<ParsedSpec> ParseSpecYaml(absl::string_view yaml,
                                         absl::string_view filename);

// A field path as the user sees it: in a job file (single_job) the job's
// fields are named without their "jobs[0]." prefix.
std::string DisplayField(const std::string& field, bool single_job);

// Reads and parses a file. NOT_FOUND when it does not exist,
// PERMISSION_DENIED / INTERNAL when it cannot be read.
absl::StatusOr<ParsedSpec> ReadSpecFile(const std::string& path);

}  // namespace kiln

#endif  // KILN_SPEC_SPEC_PARSER_H_
