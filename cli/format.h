// Numbers as the CLI prints them: durations, token counts, dollars, states.
#ifndef KILN_CLI_FORMAT_H_
#define KILN_CLI_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "common/states.h"
#include "kiln/v1/batch.pb.h"
#include "kiln/v1/task.pb.h"

namespace kiln {
namespace cli {

// "0.4s", "12.3s", "4m05s", "1h02m".
std::string Seconds(absl::Duration d);
// "950", "12.3k", "4.56M".
std::string Compact(int64_t n);
// "1,234,567".
std::string Grouped(int64_t n);
// "$0.0123" below a dollar, "$12.35" above.
std::string Usd(double usd);
// "81.2%"; "-" when the denominator is 0.
std::string Percent(double numerator, double denominator);
// "SUCCEEDED", "GENERATING", "GENERATE" (the enum names without prefix).
using ::kiln::Name;
// A task as tables and critical paths name it: its file, "checkout" for a
// SELECT, else its kind ("BUILD", "LAND").
std::string TaskLabel(kiln::v1::TaskKind kind, const std::string& path);

}  // namespace cli
}  // namespace kiln

#endif  // KILN_CLI_FORMAT_H_
