#include "cli/flags.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/yaml_reader.h"

namespace kiln {
namespace cli {
namespace {

const Option* Find(const Command& command, const std::vector<Option>& shared,
                   const std::string& name) {
  for (const auto* list : {&command.options, &shared}) {
    for (const Option& o : *list) {
      if (o.name == name) return &o;
    }
  }
  return nullptr;
}

// Appends `text` wrapped to `width` columns, every line indented by `indent`
// (the first line too unless `first_indented` is false).
void Wrap(std::string* out, const std::string& text, size_t indent, size_t width,
          bool first_indented = true) {
  size_t col = 0;
  bool line_start = true;
  if (first_indented) out->append(indent, ' ');
  col = indent;
  for (absl::string_view word : absl::StrSplit(text, absl::ByAnyChar(" \n"), absl::SkipEmpty())) {
    if (!line_start && col + 1 + word.size() > width) {
      out->append("\n");
      out->append(indent, ' ');
      col = indent;
      line_start = true;
    }
    if (!line_start) {
      out->append(" ");
      ++col;
    }
    absl::StrAppend(out, word);
    col += word.size();
    line_start = false;
  }
  out->append("\n");
}

void AppendOptions(std::string* out, const std::vector<Option>& options) {
  for (const Option& o : options) {
    std::string head = absl::StrCat("  --", o.name);
    if (!o.value_name.empty()) absl::StrAppend(&head, "=", o.value_name);
    std::string help = o.help;
    if (!o.default_text.empty()) absl::StrAppend(&help, " (default: ", o.default_text, ")");
    constexpr size_t kCol = 26;
    if (head.size() + 2 > kCol) {
      absl::StrAppend(out, head, "\n");
      Wrap(out, help, kCol, 80);
    } else {
      head.append(kCol - head.size(), ' ');
      out->append(head);
      Wrap(out, help, kCol, 80, /*first_indented=*/false);
    }
  }
}

}  // namespace

std::string Args::Get(const std::string& name, const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

bool Args::Flag(const std::string& name) const { return Get(name, "false") == "true"; }

absl::StatusOr<Args> ParseArgs(const Command& command, const std::vector<Option>& shared,
                               const std::vector<std::string>& argv) {
  Args args;
  const std::string who = absl::StrCat("kiln ", command.name);
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      args.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h" || a == "--help") {
      args.help = true;
      continue;
    }
    if (a[1] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": unknown option ", a, " (options are spelled --name)"));
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const Option* o = Find(command, shared, name);
    bool negated = false;
    if (o == nullptr && absl::StartsWith(name, "no-")) {
      o = Find(command, shared, name.substr(3));
      if (o != nullptr && o->value_name.empty()) {
        negated = true;
        name = name.substr(3);
      } else {
        o = nullptr;
      }
    }
    if (o == nullptr) {
      std::vector<std::string> names;
      for (const auto* list : {&command.options, &shared}) {
        for (const Option& k : *list) names.push_back(k.name);
      }
      std::string message = absl::StrCat(who, ": unknown flag --", name);
      const std::string best =
          ClosestName(name, std::vector<absl::string_view>(names.begin(), names.end()));
      if (!best.empty()) absl::StrAppend(&message, " (did you mean --", best, "?)");
      absl::StrAppend(&message, "; see kiln help ", command.name);
      return absl::InvalidArgumentError(message);
    }
    if (o->value_name.empty()) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            who, ": --", name, " takes no value (got \"", value, "\")"));
      }
      args.values[name] = negated ? "false" : (has_value ? value : "true");
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(who, ": --", name, " needs a value (", o->value_name, ")"));
      }
      value = argv[++i];
    }
    args.values[name] = value;
  }
  if (args.help) return args;
  const int n = static_cast<int>(args.positional.size());
  if (n < command.min_args || n > command.max_args) {
    std::string want = command.args.empty() ? "no arguments" : command.args;
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": expected ", want,
        n == 0 ? "" : absl::StrCat(", got \"", absl::StrJoin(args.positional, " "), "\""),
        "; see kiln help ", command.name));
  }
  return args;
}

std::string CommandHelp(const Command& command, const std::vector<Option>& shared,
                        const std::string& shared_title) {
  std::string out = absl::StrCat("usage: kiln ", command.name,
                                 command.options.empty() && shared.empty() ? "" : " [options]",
                                 command.args.empty() ? "" : " ", command.args, "\n\n");
  Wrap(&out, command.summary, 0, 80);
  if (!command.details.empty()) {
    for (absl::string_view para : absl::StrSplit(command.details, "\n\n")) {
      out.append("\n");
      if (absl::StartsWith(para, "  ")) {  // an example: kept as written
        absl::StrAppend(&out, para, "\n");
      } else {
        Wrap(&out, std::string(para), 0, 80);
      }
    }
  }
  if (!command.options.empty()) {
    out.append("\noptions:\n");
    AppendOptions(&out, command.options);
  }
  if (!shared.empty()) {
    absl::StrAppend(&out, "\n", shared_title, ":\n");
    AppendOptions(&out, shared);
  }
  return out;
}

}  // namespace cli
}  // namespace kiln
