#include "cli/format.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kiln {
namespace cli {
std::string Seconds(absl::Duration d) {
  const double s = absl::ToDoubleSeconds(d);
  if (s < 60) return absl::StrFormat("%.1fs", s);
  const int64_t total = static_cast<int64_t>(std::llround(s));
  if (total < 3600) return absl::StrFormat("%dm%02ds", total / 60, total % 60);
  return absl::StrFormat("%dh%02dm", total / 3600, (total % 3600) / 60);
}

std::string Compact(int64_t n) {
  if (n < 1000) return absl::StrCat(n);
  if (n < 1000000) return absl::StrFormat("%.1fk", n / 1e3);
  if (n < 1000000000) return absl::StrFormat("%.2fM", n / 1e6);
  return absl::StrFormat("%.2fG", n / 1e9);
}

std::string Grouped(int64_t n) {
  std::string digits = absl::StrCat(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string Usd(double usd) {
  return std::fabs(usd) < 1 ? absl::StrFormat("$%.4f", usd) : absl::StrFormat("$%.2f", usd);
}

std::string Percent(double numerator, double denominator) {
  if (denominator <= 0) return "-";
  return absl::StrFormat("%.1f%%", 100.0 * numerator / denominator);
}

std::string TaskLabel(kiln::v1::TaskKind kind, const std::string& path) {
  if (kind == kiln::v1::TASK_KIND_SELECT) return "checkout";
  return path.empty() ? Name(kind) : path;
}

}  // namespace cli
}  // namespace kiln
