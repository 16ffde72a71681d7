#include "cli/html_report.h"

#include <algorithm>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/format.h"
#include "cli/render.h"
#include "common/proto_time.h"
#include "common/usage.h"

namespace kiln {
namespace cli {
namespace {

const char* KindColor(kiln::v1::TaskKind k) {
  switch (k) {
    case kiln::v1::TASK_KIND_PLAN:
      return "#8e6bbf";
    case kiln::v1::TASK_KIND_GENERATE:
      return "#3b7dd8";
    case kiln::v1::TASK_KIND_REPAIR:
      return "#e0913a";
    case kiln::v1::TASK_KIND_BUILD:
      return "#3aa76d";
    case kiln::v1::TASK_KIND_SELECT:
      return "#6b8e8e";
    case kiln::v1::TASK_KIND_LAND:
      return "#b05f8e";
    default:
      return "#888888";
  }
}

const char* StateFill(kiln::v1::TaskState s) {
  switch (s) {
    case kiln::v1::TASK_STATE_SUCCEEDED:
      return "#e6f4ea";
    case kiln::v1::TASK_STATE_FAILED:
      return "#fde7e7";
    case kiln::v1::TASK_STATE_CANCELLED:
      return "#eeeeee";
    default:
      return "#fff8e1";
  }
}

std::string Label(const kiln::v1::TaskReport& t) {
  std::string l = t.path().empty() ? Name(t.kind()) : t.path();
  if (t.kind() == kiln::v1::TASK_KIND_REPAIR) l = "repair " + l;
  return l;
}

std::string Short(const std::string& s, size_t n) {
  return s.size() <= n ? s : "\u2026" + s.substr(s.size() - (n - 1));
}

// Layered drawing: a task's column is its longest chain of dependencies.
std::string DagSvg(const kiln::v1::Report& r) {
  const int n = std::min(r.tasks_size(), kMaxGraphTasks);
  std::map<std::string, int> index;
  for (int i = 0; i < n; ++i) index[r.tasks(i).task_id()] = i;
  std::vector<int> layer(n, -1);
  // Tasks are in start order, which need not be topological for tasks that
  // never ran; iterate to a fixed point (bounded by n passes).
  for (int pass = 0; pass < n; ++pass) {
    bool changed = false;
    for (int i = 0; i < n; ++i) {
      int l = 0;
      for (const auto& d : r.tasks(i).deps()) {
        auto it = index.find(d);
        if (it != index.end()) l = std::max(l, layer[it->second] + 1);
      }
      if (l != layer[i]) {
        layer[i] = l;
        changed = true;
      }
    }
    if (!changed) break;
  }
  std::map<int, int> rows_in_layer;
  std::vector<int> row(n);
  for (int i = 0; i < n; ++i) row[i] = rows_in_layer[layer[i]]++;
  int max_rows = 1, max_layer = 0;
  for (const auto& [l, c] : rows_in_layer) {
    max_rows = std::max(max_rows, c);
    max_layer = std::max(max_layer, l);
  }
  constexpr int kW = 190, kH = 26, kGapX = 60, kGapY = 10, kPad = 10;
  auto x = [&](int i) { return kPad + layer[i] * (kW + kGapX); };
  auto y = [&](int i) { return kPad + row[i] * (kH + kGapY); };
  const int width = kPad * 2 + (max_layer + 1) * (kW + kGapX) - kGapX;
  const int height = kPad * 2 + max_rows * (kH + kGapY) - kGapY;
  std::string out = absl::StrFormat(
      "<svg class=\"dag\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      width, height, width, height);
  for (int i = 0; i < n; ++i) {
    for (const auto& d : r.tasks(i).deps()) {
      auto it = index.find(d);
      if (it == index.end()) continue;
      const int j = it->second;
      const bool hot = r.tasks(i).on_critical_path() && r.tasks(j).on_critical_path();
      const int x1 = x(j) + kW, y1 = y(j) + kH / 2, x2 = x(i), y2 = y(i) + kH / 2;
      absl::StrAppendFormat(&out,
                            "<path class=\"edge%s\" d=\"M%d %d C%d %d %d %d %d %d\"/>\n",
                            hot ? " critical" : "", x1, y1, (x1 + x2) / 2, y1, (x1 + x2) / 2,
                            y2, x2, y2);
    }
  }
  for (int i = 0; i < n; ++i) {
    const auto& t = r.tasks(i);
    absl::StrAppendFormat(
        &out,
        "<g class=\"node%s\"><title>%s</title><rect x=\"%d\" y=\"%d\" width=\"%d\" "
        "height=\"%d\" rx=\"4\" fill=\"%s\" stroke=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text></g>\n",
        t.on_critical_path() ? " critical" : "",
        HtmlEscape(absl::StrCat(t.job_name(), " ", Name(t.kind()), " ", t.path(), " (",
                                Name(t.state()), ")")),
        x(i), y(i), kW, kH, StateFill(t.state()), KindColor(t.kind()), x(i) + 6, y(i) + 17,
        HtmlEscape(Short(Label(t), 28)));
  }
  out += "</svg>\n";
  return out;
}

std::string GanttSvg(const kiln::v1::Report& r) {
  const int n = std::min(r.tasks_size(), kMaxGraphTasks);
  absl::Time begin = absl::InfiniteFuture(), end = absl::InfinitePast();
  for (int i = 0; i < n; ++i) {
    const auto& t = r.tasks(i);
    if (t.has_ready_time()) begin = std::min(begin, TimeFromProto(t.ready_time()));
    if (t.has_start_time()) begin = std::min(begin, TimeFromProto(t.start_time()));
    if (t.has_end_time()) end = std::max(end, TimeFromProto(t.end_time()));
  }
  if (begin >= end) return "<p>No task has run yet.</p>\n";
  const double span = absl::ToDoubleSeconds(end - begin);
  constexpr int kLabel = 260, kChart = 900, kRow = 18, kTop = 24;
  const int height = kTop + n * kRow + 8;
  auto px = [&](const google::protobuf::Timestamp& t) {
    return kLabel + static_cast<int>(kChart * absl::ToDoubleSeconds(TimeFromProto(t) - begin) /
                                     span);
  };
  std::string out = absl::StrFormat(
      "<svg class=\"gantt\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\">\n",
      kLabel + kChart + 20, height, kLabel + kChart + 20, height);
  // Axis: ten ticks.
  for (int k = 0; k <= 10; ++k) {
    const int xx = kLabel + kChart * k / 10;
    absl::StrAppendFormat(&out,
                          "<line class=\"tick\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                          "<text class=\"axis\" x=\"%d\" y=\"14\">%s</text>\n",
                          xx, kTop - 4, xx, height, xx - 10,
                          Seconds(absl::Seconds(span * k / 10)));
  }
  for (int i = 0; i < n; ++i) {
    const auto& t = r.tasks(i);
    const int yy = kTop + i * kRow;
    absl::StrAppendFormat(&out, "<text class=\"label\" x=\"4\" y=\"%d\">%s</text>\n", yy + 13,
                          HtmlEscape(Short(absl::StrCat(t.job_name(), " ", Label(t)), 40)));
    if (!t.has_start_time()) continue;
    if (t.has_ready_time()) {
      const int x0 = px(t.ready_time()), x1 = px(t.start_time());
      if (x1 > x0) {
        absl::StrAppendFormat(&out,
                              "<rect class=\"wait\" x=\"%d\" y=\"%d\" width=\"%d\" "
                              "height=\"%d\"><title>waiting for a worker</title></rect>\n",
                              x0, yy + 6, x1 - x0, kRow - 12);
      }
    }
    const int x0 = px(t.start_time());
    const int x1 = t.has_end_time() ? px(t.end_time()) : kLabel + kChart;
    absl::StrAppendFormat(
        &out,
        "<rect class=\"bar%s\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\">"
        "<title>%s: %s, %d attempts, %s</title></rect>\n",
        t.on_critical_path() ? " critical" : "", x0, yy + 3, std::max(2, x1 - x0), kRow - 6,
        KindColor(t.kind()), HtmlEscape(Label(t)), Name(t.state()), t.attempts(),
        Usd(t.cost_usd()));
    if (t.has_first_token_time()) {
      const int xf = px(t.first_token_time());
      absl::StrAppendFormat(&out,
                            "<line class=\"ttft\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\">"
                            "<title>first token</title></line>\n",
                            xf, yy + 2, xf, yy + kRow - 2);
    }
  }
  out += "</svg>\n";
  return out;
}

constexpr char kStyle[] = R"(body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
pre.summary{background:#f6f8fa;padding:12px;border-radius:6px}
.scroll{overflow:auto;border:1px solid #ddd;border-radius:6px;padding:6px}
svg text{font:11px monospace}svg .axis{fill:#666}
.edge{fill:none;stroke:#aaa;stroke-width:1.2}.edge.critical{stroke:#d33;stroke-width:2.2}
.node.critical rect{stroke-width:3}
.tick{stroke:#eee}.wait{fill:#ddd}.bar.critical{stroke:#d33;stroke-width:2}
.ttft{stroke:#111;stroke-width:2}
table{border-collapse:collapse;font:12px monospace}
td,th{border-bottom:1px solid #eee;padding:3px 8px;text-align:right}
td.l,th.l{text-align:left}tr.critical td{background:#fff3f3}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;color:#fff;border-radius:3px}
)";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HtmlReport(const kiln::v1::Report& r, const kiln::v1::Batch& b) {
  const std::string title = absl::StrCat(
      "Kiln report: ", b.spec().name().empty() ? r.batch_id() : b.spec().name());
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>",
      HtmlEscape(title), "</title>\n<style>", kStyle, "</style></head><body>\n<h1>",
      HtmlEscape(title), "</h1>\n<pre class=\"summary\">", HtmlEscape(FormatReport(r, b)),
      "</pre>\n");
  // Per repository: where its change stands.
  const std::vector<std::vector<std::string>> landing = LandingRows(b);
  if (!landing.empty()) {
    absl::StrAppend(&out, "<h2>Repositories</h2>\n<p>", HtmlEscape(LandingCounts(b)),
                    "</p>\n<table>");
    for (size_t i = 0; i < landing.size(); ++i) {
      out += "<tr>";
      for (size_t k = 0; k < landing[i].size(); ++k) {
        const std::string& cell = landing[i][k];
        const bool link = i > 0 && k + 1 == landing[i].size() &&
                          (cell.rfind("https://", 0) == 0 || cell.rfind("http://", 0) == 0);
        absl::StrAppend(&out, i == 0 ? "<th class=\"l\">" : "<td class=\"l\">",
                        link ? absl::StrCat("<a href=\"", HtmlEscape(cell), "\">",
                                            HtmlEscape(cell), "</a>")
                             : HtmlEscape(cell),
                        i == 0 ? "</th>" : "</td>");
      }
      out += "</tr>\n";
    }
    out += "</table>\n";
  }
  const std::string cut =
      r.tasks_size() > kMaxGraphTasks
          ? absl::StrCat("<p>Showing the first ", kMaxGraphTasks, " of ", r.tasks_size(),
                         " tasks.</p>\n")
          : "";
  absl::StrAppend(&out,
                  "<p class=\"legend\"><span style=\"background:#8e6bbf\">PLAN</span>"
                  "<span style=\"background:#3b7dd8\">GENERATE</span>"
                  "<span style=\"background:#e0913a\">REPAIR</span>"
                  "<span style=\"background:#3aa76d\">BUILD</span>"
                  "<span style=\"background:#6b8e8e\">SELECT</span>"
                  "<span style=\"background:#b05f8e\">LAND</span> red outline: critical "
                  "path</p>\n");
  absl::StrAppend(&out, "<h2>Dependency graph</h2>\n", cut, "<div class=\"scroll\">",
                  DagSvg(r), "</div>\n");
  absl::StrAppend(&out,
                  "<h2>Timeline</h2>\n<p>Grey: ready and waiting for a worker; bar: leased "
                  "until done; black tick: first token.</p>\n",
                  cut, "<div class=\"scroll\">", GanttSvg(r), "</div>\n");
  absl::StrAppend(&out,
                  "<h2>Tasks</h2>\n<table><tr><th class=\"l\">job</th><th class=\"l\">kind</th>"
                  "<th class=\"l\">path</th><th class=\"l\">state</th><th class=\"l\">model</th>"
                  "<th>attempts</th><th class=\"l\">worker</th><th>prompt full</th>"
                  "<th>cache read</th><th>cache write</th><th>output</th><th>cache hit</th>"
                  "<th>cost</th><th>time</th></tr>\n");
  for (const auto& t : r.tasks()) {
    absl::StrAppend(
        &out, "<tr", t.on_critical_path() ? " class=\"critical\"" : "", "><td class=\"l\">",
        HtmlEscape(t.job_name()), "</td><td class=\"l\">", Name(t.kind()),
        "</td><td class=\"l\">", HtmlEscape(t.path()), "</td><td class=\"l\">",
        Name(t.state()), "</td><td class=\"l\">", HtmlEscape(t.model()), "</td><td>",
        t.attempts(), "</td><td class=\"l\">", HtmlEscape(t.worker_id()), "</td><td>",
        Grouped(t.usage().input_tokens()), "</td><td>", Grouped(t.usage().cache_read_tokens()),
        "</td><td>", Grouped(t.usage().cache_write_tokens()), "</td><td>",
        Grouped(t.usage().output_tokens()), "</td><td>",
        Percent(t.usage().cache_read_tokens(), PromptTokens(t.usage())), "</td><td>",
        Usd(t.cost_usd()), "</td><td>", TaskTime(t), "</td></tr>\n");
  }
  out += "</table>\n</body></html>\n";
  return out;
}

}  // namespace cli
}  // namespace kiln
