// Prompt assembly, cache-friendly by construction (DESIGN.md, "Prompt
// assembly"): a prompt is an ordered list of blocks, the stable ones (system,
// shared instructions, repo context) first, then the variable ones (deps'
// generated code, the file's instructions, repair turns). Provider adapters
// map the stable blocks to their cache mechanism.
//
// The block texts follow fixed conventions ("Generated file `a.h`:", "Write
// the file `a.cc` (cpp, about 800 tokens)."). Real models read them as
// instructions; the simulator reads them back with ReadPromptFacts, so the
// simulator behind HTTP needs nothing but the prompt.
#ifndef KILN_LLM_PROMPT_H_
#define KILN_LLM_PROMPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kiln/v1/task.pb.h"

namespace kiln {

// Tokens in `text` as providers count them, estimated at 4 bytes per token
// (rounded up). Used for budgets, the cost model and the simulator's usage.
int64_t EstimateTokens(absl::string_view text);

// "cpp", "javascript", "python", "html", "css", "json", "markdown", ... from
// a path's extension; "text" when unknown.
std::string LanguageForPath(absl::string_view path);

// A file quoted in a prompt.
struct QuotedFile {
  std::string path;
  std::string content;
};

// One earlier attempt of a repair conversation: what the model wrote and
// what the check said about it.
struct RepairTurn {
  std::string reply;
  std::string diagnostics;  // already filtered (FilterDiagnostics)
};

// Token budgets per category. A file that does not fit is cut to its head
// and tail; one that does not fit at all is left out. Both are reported.
struct PromptBudget {
  int64_t context_tokens = 60000;  // repo context files
  int64_t deps_tokens = 40000;     // deps' generated code
  int repair_window = 2;           // repair turns kept (the latest ones)
};

// What to ask for.
struct PromptInputs {
  std::string model;
  // Stable: identical for every task of a job (of a cache group).
  std::string system;
  std::string instructions;
  std::vector<QuotedFile> context;
  // Variable.
  std::vector<QuotedFile> deps;
  // A GENERATE or REPAIR prompt names the file; a PLAN prompt names a task.
  std::string path;
  std::string language;  // empty: from the path
  std::string file_instructions;
  int64_t expected_tokens = 0;
  std::string plan_task;  // non-empty: a PLAN prompt
  // An edit of an existing file: its current content (LF line endings),
  // quoted after every stable block, and the reply's format (SEARCH/REPLACE
  // blocks, else the whole edited file).
  bool edit = false;
  std::string current;
  bool search_replace = false;
  std::vector<RepairTurn> repairs;  // oldest first
  kiln::v1::SamplingParams sampling;
  int32_t max_output_tokens = 0;
  PromptBudget budget;
};

// What assembly left out or cut.
struct PromptStats {
  int64_t stable_tokens = 0;
  int64_t variable_tokens = 0;
  std::vector<std::string> truncated;    // paths cut to head and tail
  std::vector<std::string> omitted;      // paths left out (over budget)
  std::vector<std::string> deduplicated; // paths dropped as repeats
  int dropped_repair_turns = 0;
};

// Assembles the prompt. Context files are deduplicated by path and by
// content (the first occurrence stays). INVALID_ARGUMENT when neither a path
// nor a plan task is given. `prefix_key` is set from the stable blocks and
// the model.
absl::StatusOr<kiln::v1::Prompt> BuildPrompt(const PromptInputs& in,
                                             PromptStats* stats = nullptr);

// The indices of the blocks after which a provider with explicit breakpoints
// (Anthropic cache_control) should cache: the last stable block of each
// kind, at most `max_breakpoints` (the latest ones; the last stable block is
// always among them).
std::vector<int> CacheBreakpoints(const kiln::v1::Prompt& prompt,
                                  int max_breakpoints = 4);

// Compiler or checker output cut to what concerns `target_path`: the
// diagnostics whose location names it (gcc/clang "path:line:col:", node
// "path:line", Python 'File "path", line N'), with their continuation
// lines; the whole output when none does. Then, if still longer than
// `max_bytes`, its head and tail with the number of omitted lines between.
std::string FilterDiagnostics(absl::string_view output,
                              absl::string_view target_path,
                              size_t max_bytes = 8192);

// `text` cut to at most `max_bytes`: its head and tail on line boundaries
// with "[... N lines omitted ...]" between. Unchanged when it fits.
std::string HeadAndTail(absl::string_view text, size_t max_bytes);

// The contents of the first fenced code block of a model's reply; the whole
// reply (trimmed) when it has none.
std::string ExtractCode(absl::string_view reply);

// Continuing a reply cut off at its output cap. The continuation prompt is
// the original one, then the partial reply as an assistant block, then (for
// a provider without assistant prefill, such as OpenAI's Chat Completions)
// a user block with kContinueInstruction. With prefill (Anthropic), the
// model carries on from the partial text's last character, which therefore
// has no trailing whitespace (Anthropic answers 400 to it).
inline constexpr absl::string_view kContinueInstruction =
    "Your reply above was cut off at the output limit. Continue it from "
    "exactly where it stopped: no repetition of what you already wrote, no "
    "preamble, and no new code fence (the open one is still open).";
kiln::v1::Prompt ContinuationPrompt(const kiln::v1::Prompt& original,
                                    absl::string_view partial, bool prefill,
                                    int32_t max_output_tokens);
// The reply so far as ContinuationPrompt puts it (prefill: without its
// trailing whitespace).
std::string ContinuationPartial(absl::string_view partial, bool prefill);
// Whether `prompt` is a continuation; if so, the original prompt's blocks in
// `base` and the partial reply in `partial`.
bool SplitContinuation(const kiln::v1::Prompt& prompt, kiln::v1::Prompt* base,
                       std::string* partial);

// What the simulator reads from a prompt's text (all blocks concatenated).
struct PromptFacts {
  bool plan = false;
  std::string plan_task;
  std::string path;
  std::string language;
  int64_t expected_tokens = 0;
  std::vector<QuotedFile> deps;
  // The prompt carries a failed check's output, or edit blocks that did
  // not apply (a repair prompt).
  bool has_diagnostics = false;
  // An edit prompt: the file's instructions, its current content and
  // whether the reply is SEARCH/REPLACE blocks (else the whole file).
  bool edit = false;
  std::string instructions;
  std::string current;
  bool search_replace = false;
  // The repair is of blocks that did not apply (not of a failed check).
  bool blocks_failed = false;
};
PromptFacts ReadPromptFacts(absl::string_view text);

// The prompt's blocks concatenated, as ReadPromptFacts expects.
std::string PromptText(const kiln::v1::Prompt& prompt);

}  // namespace kiln

#endif  // KILN_LLM_PROMPT_H_
