// Typed reading of YAML documents (yaml-cpp) that collects every problem
// with its file, line and field instead of stopping at the first.
#ifndef KILN_COMMON_YAML_READER_H_
#define KILN_COMMON_YAML_READER_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "yaml-cpp/yaml.h"

namespace kiln {

// One problem in an input file.
struct InputProblem {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string field;  // dotted path, e.g. "jobs[0].files[2].deps[1]"
  std::string message;

  // "file:line:column: field: message" (parts that are unknown left out).
  std::string ToString() const;
};

// The name in `known` closest to `name` (Levenshtein), for "did you mean"
// hints; "" when none is within max(2, |name| / 3) edits.
std::string ClosestName(absl::string_view name,
                        const std::vector<absl::string_view>& known);

// INVALID_ARGUMENT whose message lists `problems`, one per line in the order
// of their position in the file; OK when there are none.
absl::Status ProblemsToStatus(std::vector<InputProblem> problems);

// Reads one YAML document. Every accessor records a problem (and returns a
// default) when the value has the wrong type or is out of range, so a caller
// reads the whole document and reports all problems at once.
//
// Not thread-safe; one reader per document.
class YamlReader {
 public:
  explicit YamlReader(std::string filename) : file_(std::move(filename)) {}

  // Parses `text`. On a syntax error records it (with its line) and returns
  // nullopt. An empty document is a problem too.
  absl::optional<YAML::Node> Load(absl::string_view text);

  // Records a problem located at `at`.
  void Problem(const YAML::Node& at, absl::string_view field,
               std::string message);
  // Records a problem with an explicit location.
  void ProblemAt(int line, int column, absl::string_view field,
                 std::string message);

  // True when `node` is a map (records "want a mapping" otherwise).
  bool ExpectMap(const YAML::Node& node, absl::string_view field);
  // True when `node` is a sequence (records "want a list" otherwise).
  bool ExpectSeq(const YAML::Node& node, absl::string_view field);

  // Records "unknown field" for every key of the map `node` not in
  // `allowed`, suggesting the closest allowed name.
  void CheckKeys(const YAML::Node& node, absl::string_view field,
                 std::initializer_list<absl::string_view> allowed);

  // Scalars. `field` names the value for errors.
  std::string String(const YAML::Node& node, absl::string_view field);
  int64_t Int(const YAML::Node& node, absl::string_view field, int64_t min,
              int64_t max);
  double Double(const YAML::Node& node, absl::string_view field, double min,
                double max);
  bool Bool(const YAML::Node& node, absl::string_view field);
  // A Go-style duration with units: "500ms", "30s", "5m", "1h30m".
  // Must not be negative.
  absl::Duration Duration(const YAML::Node& node, absl::string_view field);
  // A scalar or a list of scalars.
  std::vector<std::string> StringList(const YAML::Node& node,
                                      absl::string_view field);

  const std::string& file() const { return file_; }
  const std::vector<InputProblem>& problems() const { return problems_; }
  bool ok() const { return problems_.empty(); }

 private:
  bool ExpectScalar(const YAML::Node& node, absl::string_view field);

  std::string file_;
  std::vector<InputProblem> problems_;
};

// "a.b" joined, or "a[3]"; empty parents are left out.
std::string FieldPath(absl::string_view parent, absl::string_view child);
std::string FieldPath(absl::string_view parent, int index);

}  // namespace kiln

#endif  // KILN_COMMON_YAML_READER_H_
