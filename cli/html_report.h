// `kiln report --html`: one self-contained page (no scripts, no external
// files) with the batch's summary, its DAG, a Gantt chart of the run and a
// per-task table of tokens, cache and cost.
#ifndef KILN_CLI_HTML_REPORT_H_
#define KILN_CLI_HTML_REPORT_H_

#include <string>

#include "kiln/v1/batch.pb.h"

namespace kiln {
namespace cli {

// Graphs with more tasks than this show only their first tasks (the table
// always has every task).
inline constexpr int kMaxGraphTasks = 400;

// The page. `batch` (FULL view) names the batch and its jobs.
std::string HtmlReport(const kiln::v1::Report& report, const kiln::v1::Batch& batch);

// `text` with &, <, >, " and ' escaped.
std::string HtmlEscape(const std::string& text);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_HTML_REPORT_H_
