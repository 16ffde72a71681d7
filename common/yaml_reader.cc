#include "common/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/utf8.h"
#include "yaml-cpp/depthguard.h"

namespace kiln {
namespace {

// Levenshtein distance, for "did you mean" suggestions.
size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

const char* KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "an undefined value";
  }
}

}  // namespace

std::string ClosestName(absl::string_view name,
                        const std::vector<absl::string_view>& known) {
  absl::string_view best;
  size_t best_distance = std::numeric_limits<size_t>::max();
  for (absl::string_view k : known) {
    const size_t d = EditDistance(name, k);
    if (d < best_distance) {
      best_distance = d;
      best = k;
    }
  }
  if (best.empty() || best_distance > std::max<size_t>(2, name.size() / 3)) return "";
  return std::string(best);
}

std::string InputProblem::ToString() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line);
  if (line > 0 && column > 0) absl::StrAppend(&out, ":", column);
  if (!out.empty()) out += ": ";
  if (!field.empty()) absl::StrAppend(&out, field, ": ");
  out += message;
  return out;
}

absl::Status ProblemsToStatus(std::vector<InputProblem> problems) {
  if (problems.empty()) return absl::OkStatus();
  // In file order; problems without a line keep their order, at the end.
  std::stable_sort(problems.begin(), problems.end(),
                   [](const InputProblem& a, const InputProblem& b) {
                     return std::make_tuple(a.line == 0, a.line, a.column) <
                            std::make_tuple(b.line == 0, b.line, b.column);
                   });
  return absl::InvalidArgumentError(absl::StrJoin(
      problems, "\n", [](std::string* out, const InputProblem& p) {
        out->append(p.ToString());
      }));
}

std::string FieldPath(absl::string_view parent, absl::string_view child) {
  if (parent.empty()) return std::string(child);
  return absl::StrCat(parent, ".", child);
}

std::string FieldPath(absl::string_view parent, int index) {
  return absl::StrCat(parent, "[", index, "]");
}

absl::optional<YAML::Node> YamlReader::Load(absl::string_view text) {
  // yaml-cpp takes bytes as they come: a value that is not UTF-8 would pass
  // here and fail far away (protobuf refuses such strings).
  if (absl::optional<Utf8Error> bad = FindInvalidUtf8(text)) {
    ProblemAt(bad->line, bad->column, "", bad->Message());
    return absl::nullopt;
  }
  try {
    YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsDefined() || root.IsNull()) {
      ProblemAt(0, 0, "", "the document is empty");
      return absl::nullopt;
    }
    return root;
  } catch (const YAML::DeepRecursion& e) {
    ProblemAt(e.mark.is_null() ? 0 : e.mark.line + 1,
              e.mark.is_null() ? 0 : e.mark.column + 1, "",
              absl::StrCat("invalid YAML: nested deeper than ", e.depth() - 1,
                           " levels (the parser's limit)"));
    return absl::nullopt;
  } catch (const YAML::Exception& e) {
    ProblemAt(e.mark.is_null() ? 0 : e.mark.line + 1,
              e.mark.is_null() ? 0 : e.mark.column + 1, "",
              absl::StrCat("invalid YAML: ", e.msg));
    return absl::nullopt;
  }
}

void YamlReader::Problem(const YAML::Node& at, absl::string_view field,
                         std::string message) {
  const YAML::Mark mark = at.IsDefined() ? at.Mark() : YAML::Mark::null_mark();
  ProblemAt(mark.is_null() ? 0 : mark.line + 1,
            mark.is_null() ? 0 : mark.column + 1, field, std::move(message));
}

void YamlReader::ProblemAt(int line, int column, absl::string_view field,
                           std::string message) {
  problems_.push_back(InputProblem{file_, line, column, std::string(field),
                                   std::move(message)});
}

bool YamlReader::ExpectMap(const YAML::Node& node, absl::string_view field) {
  if (node.IsMap()) return true;
  Problem(node, field, absl::StrCat("want a mapping, got ", KindName(node)));
  return false;
}

bool YamlReader::ExpectSeq(const YAML::Node& node, absl::string_view field) {
  if (node.IsSequence()) return true;
  Problem(node, field, absl::StrCat("want a list, got ", KindName(node)));
  return false;
}

bool YamlReader::ExpectScalar(const YAML::Node& node,
                              absl::string_view field) {
  if (node.IsScalar()) return true;
  Problem(node, field, absl::StrCat("want a value, got ", KindName(node)));
  return false;
}

void YamlReader::CheckKeys(const YAML::Node& node, absl::string_view field,
                           std::initializer_list<absl::string_view> allowed) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      Problem(kv.first, field, "keys must be plain names");
      continue;
    }
    const std::string key = kv.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
      continue;
    }
    std::string message = absl::StrCat("unknown field '", key, "'");
    const std::string best =
        ClosestName(key, std::vector<absl::string_view>(allowed.begin(), allowed.end()));
    if (!best.empty()) {
      absl::StrAppend(&message, " (did you mean '", best, "'?)");
    } else {
      absl::StrAppend(&message, "; known fields: ", absl::StrJoin(allowed, ", "));
    }
    Problem(kv.first, FieldPath(field, key), std::move(message));
  }
}

std::string YamlReader::String(const YAML::Node& node,
                               absl::string_view field) {
  if (!ExpectScalar(node, field)) return "";
  return node.Scalar();
}

int64_t YamlReader::Int(const YAML::Node& node, absl::string_view field,
                        int64_t min, int64_t max) {
  if (!ExpectScalar(node, field)) return 0;
  int64_t v = 0;
  if (!absl::SimpleAtoi(node.Scalar(), &v)) {
    Problem(node, field,
            absl::StrCat("want a whole number, got '", node.Scalar(), "'"));
    return 0;
  }
  if (v < min || v > max) {
    Problem(node, field,
            absl::StrCat("must be between ", min, " and ", max, ", got ", v));
    return std::clamp(v, min, max);
  }
  return v;
}

double YamlReader::Double(const YAML::Node& node, absl::string_view field,
                          double min, double max) {
  if (!ExpectScalar(node, field)) return 0;
  double v = 0;
  if (!absl::SimpleAtod(node.Scalar(), &v) || !std::isfinite(v)) {
    Problem(node, field,
            absl::StrCat("want a number, got '", node.Scalar(), "'"));
    return 0;
  }
  if (v < min || v > max) {
    Problem(node, field,
            absl::StrCat("must be between ", min, " and ", max, ", got ",
                         node.Scalar()));
    return std::clamp(v, min, max);
  }
  return v;
}

bool YamlReader::Bool(const YAML::Node& node, absl::string_view field) {
  if (!ExpectScalar(node, field)) return false;
  const std::string v = absl::AsciiStrToLower(node.Scalar());
  if (v == "true" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "no" || v == "off") return false;
  Problem(node, field,
          absl::StrCat("want true or false, got '", node.Scalar(), "'"));
  return false;
}

absl::Duration YamlReader::Duration(const YAML::Node& node,
                                    absl::string_view field) {
  if (!ExpectScalar(node, field)) return absl::ZeroDuration();
  absl::Duration d;
  const std::string& text = node.Scalar();
  // absl::ParseDuration accepts a bare "0" and "inf"; demand units otherwise.
  const bool has_unit = !text.empty() && absl::ascii_isalpha(text.back());
  if (!has_unit || text == "inf" || !absl::ParseDuration(text, &d)) {
    Problem(node, field,
            absl::StrCat("want a duration like 90s, 5m or 1h30m, got '", text,
                         "'"));
    return absl::ZeroDuration();
  }
  if (d < absl::ZeroDuration()) {
    Problem(node, field, absl::StrCat("must not be negative, got '", text, "'"));
    return absl::ZeroDuration();
  }
  return d;
}

std::vector<std::string> YamlReader::StringList(const YAML::Node& node,
                                                absl::string_view field) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!ExpectSeq(node, field)) return out;
  int i = 0;
  for (const auto& item : node) {
    out.push_back(String(item, FieldPath(field, i++)));
  }
  return out;
}

}  // namespace kiln
