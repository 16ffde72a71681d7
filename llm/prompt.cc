#include "llm/prompt.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"

namespace kiln {
namespace {

using kiln::v1::Prompt;
using kiln::v1::PromptBlock;

// The fixed phrases of the block texts; ReadPromptFacts looks for them.
constexpr absl::string_view kDepHeader = "Generated file `";
constexpr absl::string_view kContextHeader = "Repository file `";
constexpr absl::string_view kWriteHeader = "Write the file `";
constexpr absl::string_view kPlanHeader = "Plan the files for this task:";
constexpr absl::string_view kDiagHeader = "The check of `";
constexpr absl::string_view kPlanErrorsHeader = "That plan is not valid:";
constexpr absl::string_view kEditHeader = "Edit the file `";
constexpr absl::string_view kCurrentHeader = "The current content of `";
constexpr absl::string_view kBlocksHeader = "Your SEARCH/REPLACE blocks for `";
constexpr absl::string_view kReplyBlocks = "Reply with SEARCH/REPLACE blocks";
constexpr absl::string_view kReplyWholeEdit =
    "Reply with the complete edited file in one fenced code block and nothing "
    "else: every line the instructions do not change stays as it is.\n";
constexpr absl::string_view kBlocksHowTo =
    "Reply with SEARCH/REPLACE blocks and nothing else, one per region to change:\n"
    "<<<<<<< SEARCH\n"
    "lines copied exactly from the current content, enough to be unique\n"
    "=======\n"
    "the lines that replace them\n"
    ">>>>>>> REPLACE\n"
    "SEARCH is whole lines, copied exactly (no line numbers); an empty SEARCH "
    "appends to the end of the file, an empty REPLACE deletes. Change only what "
    "the instructions ask: every other line stays as it is.\n";

// A fence longer than any run of backticks in `content`.
std::string FenceFor(absl::string_view content) {
  size_t longest = 0, run = 0;
  for (char c : content) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

std::string Fenced(absl::string_view content, absl::string_view lang) {
  const std::string fence = FenceFor(content);
  std::string out = absl::StrCat(fence, lang, "\n", content);
  if (!content.empty() && content.back() != '\n') out += '\n';
  absl::StrAppend(&out, fence, "\n");
  return out;
}

std::string Quote(absl::string_view header, const QuotedFile& f,
                  absl::string_view lang) {
  return absl::StrCat(header, f.path, "`:\n", Fenced(f.content, lang));
}

void AddBlock(Prompt* p, PromptBlock::Kind kind, bool stable, std::string text,
              absl::string_view source_path = "") {
  PromptBlock* b = p->add_blocks();
  b->set_kind(kind);
  b->set_stable(stable);
  b->set_text(std::move(text));
  b->set_source_path(std::string(source_path));
}

// Quotes `files` as blocks of `kind` within `budget` tokens.
void AddFiles(const std::vector<QuotedFile>& files, absl::string_view header,
              bool with_lang, PromptBlock::Kind kind, bool stable,
              int64_t budget, Prompt* p, PromptStats* stats) {
  std::set<std::string> paths;
  std::set<std::string> digests;
  int64_t left = budget;
  for (const QuotedFile& f : files) {
    if (!paths.insert(f.path).second ||
        !digests.insert(Sha256Hex(f.content)).second) {
      stats->deduplicated.push_back(f.path);
      continue;
    }
    const std::string lang = with_lang ? LanguageForPath(f.path) : "";
    std::string text = Quote(header, f, lang);
    if (EstimateTokens(text) > left) {
      // Room for the header and fences, then as much content as fits.
      const int64_t overhead = EstimateTokens(Quote(header, {f.path, ""}, lang));
      const int64_t room = left - overhead - 16;
      if (room < 64) {
        stats->omitted.push_back(f.path);
        continue;
      }
      text = Quote(header,
                   {f.path, HeadAndTail(f.content, static_cast<size_t>(room) * 4)},
                   lang);
      stats->truncated.push_back(f.path);
    }
    left -= EstimateTokens(text);
    AddBlock(p, kind, stable, std::move(text), f.path);
  }
}

bool IsLocationHeader(absl::string_view line, std::string* file) {
  // Python: '  File "path", line N'
  absl::string_view t = absl::StripLeadingAsciiWhitespace(line);
  if (absl::ConsumePrefix(&t, "File \"")) {
    const size_t q = t.find('"');
    if (q == absl::string_view::npos) return false;
    *file = std::string(t.substr(0, q));
    return absl::StartsWith(t.substr(q), "\", line ");
  }
  // gcc/clang/node: 'path:line[:col][: ...]'
  const size_t colon = line.find(':');
  if (colon == 0 || colon == absl::string_view::npos) return false;
  absl::string_view rest = line.substr(colon + 1);
  // gcc's "path: In function 'f':" context line.
  const absl::string_view path = line.substr(0, colon);
  if (absl::StartsWith(rest, " In ") &&
      path.find_first_of("./") != absl::string_view::npos &&
      path.find(' ') == absl::string_view::npos) {
    *file = std::string(path);
    return true;
  }
  size_t digits = 0;
  while (digits < rest.size() && absl::ascii_isdigit(rest[digits])) ++digits;
  if (digits == 0) return false;
  if (digits < rest.size() && rest[digits] != ':') return false;
  if (line.substr(0, colon).find(' ') != absl::string_view::npos) return false;
  *file = std::string(line.substr(0, colon));
  return true;
}

bool SamePath(absl::string_view reported, absl::string_view target) {
  if (reported == target) return true;
  // Tools print absolute or ./-prefixed paths.
  return absl::EndsWith(reported, absl::StrCat("/", target));
}

// What a repair turn says about the last reply: a PLAN's validation
// errors, edit blocks that did not apply, or a failed check.
std::string RepairText(const PromptInputs& in, const RepairTurn& turn) {
  const std::string& diags = turn.diagnostics;
  if (!in.plan_task.empty()) {
    return absl::StrCat(kPlanErrorsHeader, "\n", Fenced(diags, ""),
                        "Reply with the corrected complete plan in one "
                        "fenced YAML block and nothing else.\n");
  }
  const absl::string_view first_line = absl::string_view(diags).substr(0, diags.find('\n'));
  if (in.edit && (absl::StrContains(first_line, "SEARCH/REPLACE blocks for `"))) {
    return absl::StrCat(kBlocksHeader, in.path, "` did not all apply:\n", Fenced(diags, ""),
                        kReplyBlocks,
                        " for the failed ones only, against the current content "
                        "above, and nothing else.\n");
  }
  std::string text =
      absl::StrCat(kDiagHeader, in.path, "` failed with this output:\n", Fenced(diags, ""));
  if (!in.edit) {
    absl::StrAppend(&text, "Reply with the corrected complete file in one "
                           "fenced code block and nothing else.\n");
  } else if (in.search_replace) {
    absl::StrAppend(&text, kReplyBlocks,
                    " that fix it, against the current content above, and nothing else.\n");
  } else {
    absl::StrAppend(&text, "Reply with the corrected complete file in one fenced "
                           "code block and nothing else.\n");
  }
  return text;
}

}  // namespace

int64_t EstimateTokens(absl::string_view text) {
  return static_cast<int64_t>((text.size() + 3) / 4);
}

std::string LanguageForPath(absl::string_view path) {
  const size_t dot = path.rfind('.');
  const size_t slash = path.rfind('/');
  if (dot == absl::string_view::npos ||
      (slash != absl::string_view::npos && dot < slash)) {
    return "text";
  }
  const std::string ext = absl::AsciiStrToLower(path.substr(dot + 1));
  static const std::pair<const char*, const char*> kByExt[] = {
      {"cc", "cpp"},         {"cpp", "cpp"},       {"cxx", "cpp"},
      {"h", "cpp"},          {"hh", "cpp"},        {"hpp", "cpp"},
      {"c", "c"},            {"js", "javascript"}, {"mjs", "javascript"},
      {"cjs", "javascript"}, {"ts", "typescript"}, {"py", "python"},
      {"html", "html"},      {"htm", "html"},      {"css", "css"},
      {"json", "json"},      {"md", "markdown"},   {"yaml", "yaml"},
      {"yml", "yaml"},       {"sh", "shell"},      {"go", "go"},
      {"rs", "rust"},        {"java", "java"},     {"sql", "sql"},
  };
  for (const auto& [e, lang] : kByExt) {
    if (ext == e) return lang;
  }
  return "text";
}

absl::StatusOr<Prompt> BuildPrompt(const PromptInputs& in, PromptStats* stats) {
  PromptStats local;
  if (stats == nullptr) stats = &local;
  *stats = PromptStats();
  if (in.path.empty() && in.plan_task.empty()) {
    return absl::InvalidArgumentError(
        "prompt: neither a file path nor a plan task was given");
  }
  Prompt p;
  p.set_model(in.model);
  *p.mutable_sampling() = in.sampling;
  p.set_max_output_tokens(in.max_output_tokens);

  if (!in.system.empty()) {
    AddBlock(&p, PromptBlock::KIND_SYSTEM, true, in.system);
  }
  if (!in.instructions.empty()) {
    AddBlock(&p, PromptBlock::KIND_INSTRUCTIONS, true, in.instructions);
  }
  AddFiles(in.context, kContextHeader, false, PromptBlock::KIND_REPO_CONTEXT,
           true, in.budget.context_tokens, &p, stats);
  AddFiles(in.deps, kDepHeader, true, PromptBlock::KIND_DEP_CODE, false,
           in.budget.deps_tokens, &p, stats);

  if (!in.plan_task.empty()) {
    AddBlock(&p, PromptBlock::KIND_FILE_INSTRUCTIONS, false,
             absl::StrCat(kPlanHeader, "\n\n", in.plan_task,
                          "\n\nReply with a YAML plan in one fenced code "
                          "block: a list `files` whose entries have `path`, "
                          "`instructions`, `expected_tokens` and optional "
                          "`deps` (paths of other planned files).\n"));
  } else if (in.edit) {
    const std::string lang =
        in.language.empty() ? LanguageForPath(in.path) : in.language;
    AddBlock(&p, PromptBlock::KIND_FILE_INSTRUCTIONS, false,
             absl::StrCat(kEditHeader, in.path, "` (", lang, ", ", in.current.size(),
                          " bytes).\n\n", in.file_instructions, "\n"),
             in.path);
    AddBlock(&p, PromptBlock::KIND_CURRENT_FILE, false,
             absl::StrCat(kCurrentHeader, in.path, "`:\n", Fenced(in.current, lang),
                          in.search_replace ? kBlocksHowTo : kReplyWholeEdit),
             in.path);
  } else {
    const std::string lang =
        in.language.empty() ? LanguageForPath(in.path) : in.language;
    std::string text = absl::StrCat(kWriteHeader, in.path, "` (", lang);
    if (in.expected_tokens > 0) {
      absl::StrAppend(&text, ", about ", in.expected_tokens, " tokens");
    }
    absl::StrAppend(&text, ").\n\n", in.file_instructions,
                    "\n\nReply with the complete file in one fenced code "
                    "block and nothing else.\n");
    AddBlock(&p, PromptBlock::KIND_FILE_INSTRUCTIONS, false, std::move(text),
             in.path);
  }

  // Repair conversation: the latest turns only.
  const int keep = std::max(0, in.budget.repair_window);
  const size_t first = in.repairs.size() > static_cast<size_t>(keep)
                           ? in.repairs.size() - keep
                           : 0;
  stats->dropped_repair_turns = static_cast<int>(first);
  for (size_t i = first; i < in.repairs.size(); ++i) {
    // An edit's turn shows the current content instead of the reply.
    if (!in.repairs[i].reply.empty()) {
      AddBlock(&p, PromptBlock::KIND_ASSISTANT, false, in.repairs[i].reply, in.path);
    }
    AddBlock(&p, PromptBlock::KIND_DIAGNOSTICS, false, RepairText(in, in.repairs[i]),
             in.path);
  }

  std::string prefix = in.model;
  for (const PromptBlock& b : p.blocks()) {
    const int64_t t = EstimateTokens(b.text());
    if (b.stable()) {
      stats->stable_tokens += t;
      absl::StrAppend(&prefix, "\x1f", b.kind(), "\x1f", b.text());
    } else {
      stats->variable_tokens += t;
    }
  }
  p.set_prefix_key(Sha256Hex(prefix));
  return p;
}

std::vector<int> CacheBreakpoints(const Prompt& prompt, int max_breakpoints) {
  std::vector<int> out;
  for (int i = 0; i < prompt.blocks_size(); ++i) {
    const PromptBlock& b = prompt.blocks(i);
    if (!b.stable()) continue;
    const bool last_of_kind = i + 1 == prompt.blocks_size() ||
                              !prompt.blocks(i + 1).stable() ||
                              prompt.blocks(i + 1).kind() != b.kind();
    if (last_of_kind) out.push_back(i);
  }
  if (max_breakpoints >= 0 && out.size() > static_cast<size_t>(max_breakpoints)) {
    out.erase(out.begin(), out.end() - max_breakpoints);
  }
  return out;
}

std::string HeadAndTail(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const size_t half = max_bytes / 2;
  size_t head_end = text.rfind('\n', half);
  head_end = head_end == absl::string_view::npos ? half : head_end + 1;
  size_t tail_start = text.find('\n', text.size() - half);
  tail_start = tail_start == absl::string_view::npos ? text.size() - half
                                                      : tail_start + 1;
  if (tail_start < head_end) tail_start = head_end;
  const absl::string_view middle =
      text.substr(head_end, tail_start - head_end);
  const int64_t omitted = std::count(middle.begin(), middle.end(), '\n');
  return absl::StrCat(text.substr(0, head_end), "[... ", omitted,
                      " lines omitted ...]\n", text.substr(tail_start));
}

std::string FilterDiagnostics(absl::string_view output,
                              absl::string_view target_path,
                              size_t max_bytes) {
  std::string kept;
  bool keeping = false;
  bool any = false;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    std::string file;
    if (IsLocationHeader(line, &file)) {
      keeping = SamePath(file, target_path);
      any = any || keeping;
    } else if (absl::StartsWith(line, "In file included from") ||
               absl::StartsWith(line, "In function") ||
               absl::StartsWith(line, "compilation terminated")) {
      // gcc's context lines belong to the next located diagnostic.
      keeping = false;
    }
    if (keeping) absl::StrAppend(&kept, line, "\n");
  }
  return HeadAndTail(any ? absl::string_view(kept) : output, max_bytes);
}

std::string ExtractCode(absl::string_view reply) {
  size_t pos = 0;
  while (pos < reply.size()) {
    size_t eol = reply.find('\n', pos);
    if (eol == absl::string_view::npos) eol = reply.size();
    absl::string_view line = reply.substr(pos, eol - pos);
    size_t ticks = 0;
    while (ticks < line.size() && line[ticks] == '`') ++ticks;
    if (ticks >= 3) {
      const std::string fence(ticks, '`');
      const size_t body = std::min(eol + 1, reply.size());
      // The closing fence: a line of exactly the opening's backticks.
      size_t search = body;
      while (search <= reply.size()) {
        size_t end = reply.find('\n', search);
        if (end == absl::string_view::npos) end = reply.size();
        if (absl::StripTrailingAsciiWhitespace(
                reply.substr(search, end - search)) == fence) {
          return std::string(reply.substr(body, search - body));
        }
        if (end == reply.size()) break;
        search = end + 1;
      }
      return std::string(reply.substr(body));  // unterminated: cut off
    }
    pos = eol + 1;
  }
  return std::string(absl::StripAsciiWhitespace(reply));
}

std::string ContinuationPartial(absl::string_view partial, bool prefill) {
  return std::string(prefill ? absl::StripTrailingAsciiWhitespace(partial) : partial);
}

Prompt ContinuationPrompt(const Prompt& original, absl::string_view partial,
                          bool prefill, int32_t max_output_tokens) {
  Prompt p = original;
  p.set_max_output_tokens(max_output_tokens);
  PromptBlock* said = p.add_blocks();
  said->set_kind(PromptBlock::KIND_ASSISTANT);
  said->set_text(ContinuationPartial(partial, prefill));
  if (!prefill) {
    PromptBlock* ask = p.add_blocks();
    ask->set_kind(PromptBlock::KIND_FILE_INSTRUCTIONS);
    ask->set_text(std::string(kContinueInstruction));
  }
  return p;
}

bool SplitContinuation(const Prompt& prompt, Prompt* base, std::string* partial) {
  const int n = prompt.blocks_size();
  int said = -1;
  if (n >= 2 && prompt.blocks(n - 1).kind() == PromptBlock::KIND_ASSISTANT) {
    said = n - 1;
  } else if (n >= 3 && prompt.blocks(n - 2).kind() == PromptBlock::KIND_ASSISTANT &&
             prompt.blocks(n - 1).text() == kContinueInstruction) {
    said = n - 2;
  }
  if (said < 0) return false;
  *base = prompt;
  base->mutable_blocks()->DeleteSubrange(said, n - said);
  *partial = prompt.blocks(said).text();
  return true;
}

std::string PromptText(const Prompt& prompt) {
  std::string out;
  for (const PromptBlock& b : prompt.blocks()) {
    absl::StrAppend(&out, b.text(), "\n");
  }
  return out;
}

PromptFacts ReadPromptFacts(absl::string_view text) {
  PromptFacts f;
  f.blocks_failed = absl::StrContains(text, kBlocksHeader);
  f.has_diagnostics = f.blocks_failed || absl::StrContains(text, kDiagHeader);
  if (size_t at = text.find(kEditHeader); at != absl::string_view::npos) {
    f.edit = true;
    absl::string_view rest = text.substr(at + kEditHeader.size());
    const size_t tick = rest.find('`');
    f.path = std::string(rest.substr(0, tick));
    absl::string_view meta = rest.substr(tick + 1);
    const size_t eol = meta.find('\n');
    absl::string_view head = meta.substr(0, eol);
    if (absl::ConsumePrefix(&head, " (")) f.language = std::string(head.substr(0, head.find(',')));
    if (f.language.empty()) f.language = LanguageForPath(f.path);
    absl::string_view body = eol == absl::string_view::npos ? "" : meta.substr(eol + 1);
    const size_t cur = body.find(kCurrentHeader);
    f.instructions = std::string(absl::StripAsciiWhitespace(body.substr(0, cur)));
    if (cur != absl::string_view::npos) {
      absl::string_view quoted = body.substr(cur + kCurrentHeader.size());
      const size_t colon = quoted.find("`:\n");
      if (colon != absl::string_view::npos) f.current = ExtractCode(quoted.substr(colon + 3));
      f.search_replace = absl::StrContains(quoted, kBlocksHowTo.substr(0, 40));
    }
    return f;
  }
  // The plan task: between the header and the reply instruction.
  if (size_t at = text.find(kPlanHeader); at != absl::string_view::npos) {
    f.plan = true;
    absl::string_view rest = text.substr(at + kPlanHeader.size());
    const size_t end = rest.find("\n\nReply with a YAML plan");
    f.plan_task = std::string(
        absl::StripAsciiWhitespace(rest.substr(0, end)));
  }
  if (size_t at = text.find(kWriteHeader); at != absl::string_view::npos) {
    absl::string_view rest = text.substr(at + kWriteHeader.size());
    const size_t tick = rest.find('`');
    f.path = std::string(rest.substr(0, tick));
    absl::string_view meta = rest.substr(tick + 1);
    meta = meta.substr(0, meta.find('\n'));
    if (absl::ConsumePrefix(&meta, " (")) {
      const size_t close = meta.find(')');
      absl::string_view inner = meta.substr(0, close);
      const size_t comma = inner.find(',');
      f.language = std::string(inner.substr(0, comma));
      if (comma != absl::string_view::npos) {
        absl::string_view n = inner.substr(comma + 1);
        absl::ConsumePrefix(&n, " about ");
        n = n.substr(0, n.find(' '));
        (void)absl::SimpleAtoi(n, &f.expected_tokens);
      }
    }
    if (f.language.empty()) f.language = LanguageForPath(f.path);
  }
  // Deps: every quoted generated file.
  size_t pos = 0;
  while ((pos = text.find(kDepHeader, pos)) != absl::string_view::npos) {
    absl::string_view rest = text.substr(pos + kDepHeader.size());
    const size_t tick = rest.find("`:\n");
    if (tick == absl::string_view::npos) break;
    QuotedFile dep;
    dep.path = std::string(rest.substr(0, tick));
    dep.content = ExtractCode(rest.substr(tick + 3));
    f.deps.push_back(std::move(dep));
    pos += kDepHeader.size() + tick;
  }
  return f;
}

}  // namespace kiln
