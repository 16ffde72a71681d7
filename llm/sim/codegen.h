// What the simulated model writes: real, checkable code for the file a
// prompt asks for (C++, C, JavaScript, TypeScript, Python, HTML, CSS, JSON;
// prose for anything else), whose imports and calls line up with what the
// declared deps export, and whose size follows the expected token count.
// PLAN prompts get a YAML plan; edit prompts an edit of the file they quote
// (llm/sim/edit_sim.h). A configured share of first attempts carries
// a defect the language's checker rejects (g++ -fsyntax-only, node --check,
// python3 -m py_compile); a prompt with a failed check's diagnostics gets
// the file without it. Deterministic for a seed.
#ifndef KILN_LLM_SIM_CODEGEN_H_
#define KILN_LLM_SIM_CODEGEN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "llm/prompt.h"

namespace kiln {

struct CodegenOptions {
  uint64_t seed = 1;
  // Share of first attempts (prompts without diagnostics) with a defect.
  double defect_rate = 0;
};

// The model's whole reply to a prompt with these facts: the file in one
// fenced block (or the plan), as a real model would answer.
std::string SimReply(const PromptFacts& facts, const CodegenOptions& options);

// Whether a first attempt at `path` carries a defect under `options`.
bool SimInjectsDefect(absl::string_view path, const CodegenOptions& options);

// The names `content` (a file at `path`) exports: C/C++ function
// declarations and definitions, JavaScript/TypeScript `export function`,
// Python top-level `def`, CSS class selectors.
std::vector<std::string> ExportedSymbols(absl::string_view path,
                                         absl::string_view content);

// `to` relative to the directory of `from` (both repo-relative), e.g.
// ("web/app.js", "lib/util.js") -> "../lib/util.js".
std::string RelativePath(absl::string_view from, absl::string_view to);

}  // namespace kiln

#endif  // KILN_LLM_SIM_CODEGEN_H_
