// How the simulated model edits an existing file: realistic edits of real
// code in the format the prompt asks for. The instructions' rewrites
// ("replace `A` with `B`", "`A` -> `B`", "rename `A` to `B`") are applied
// to every line that has them; the reply is either the whole edited file
// or SEARCH/REPLACE blocks around the changed regions (a line of context
// each side, more where that is not unique), so every other byte of the
// file stays as it was. With no rewrite to apply, the edit is a comment
// stating the instruction at the top of the file (none for JSON).
//
// A first attempt at a file SimInjectsDefect picks carries a defect: a
// block whose SEARCH has a typo (it matches nothing), or a changed line
// left unbalanced ("((") so the language's check rejects it. A repair
// prompt gets the blocks still needed (the applied ones are in the current
// content already) and the defect's line fixed. Deterministic.
#ifndef KILN_LLM_SIM_EDIT_SIM_H_
#define KILN_LLM_SIM_EDIT_SIM_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "llm/prompt.h"
#include "llm/sim/codegen.h"

namespace kiln {

// The rewrites the instructions ask for, longest first.
std::vector<std::pair<std::string, std::string>> RewriteRules(absl::string_view instructions);

// The reply to an edit prompt (facts.edit).
std::string SimEditReply(const PromptFacts& facts, const CodegenOptions& options);

}  // namespace kiln

#endif  // KILN_LLM_SIM_EDIT_SIM_H_
