// The picture: one self-contained SVG (no scripts, fonts or links), so it opens in any browser.
// Top: each class's contention as a bar against the budget line (red bars are over it). Below:
// each class's total wait and hold time. Last: the split and "too many locks" candidates.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "smplock/detail/svg_util.hpp"
#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

constexpr int kWidth = 960;
constexpr int kLabelX = 16;       // class names
constexpr int kBarX = 250;        // bars start
constexpr int kBarW = 560;        // longest contention bar
constexpr int kTimeW = 400;       // longest wait/hold bar (room for the values after it)
constexpr int kRow = 22;          // one class
constexpr std::size_t kMaxRows = 40;
constexpr const char* kOver = "#d62728";    // over budget, and the budget line
constexpr const char* kUnder = "#1f77b4";   // within budget
constexpr const char* kWait = "#ff7f0e";
constexpr const char* kHold = "#2ca02c";

using svg_util::escape;

std::string class_label(const ClassStats& c) {
  std::string name = c.name.size() > 24 ? c.name.substr(0, 23) + "~" : c.name;
  if (name == level_name(c.level)) return escape(name);  // "PM", not "PM (PM)"
  if (c.level == Level::Null) return escape(name);  // no lock lives at Null: a trace's class has no level yet
  return escape(fmt::format("{} ({})", name, level_name(c.level)));
}

// One snapshot's drawing, from y = 0 down; returns its height.
int draw(const Snapshot& s, const ReportOptions& options, std::string_view title, std::string& body) {
  const Analysis a = analyze(s, options);
  const std::size_t rows = std::min(a.classes.size(), kMaxRows);
  int y = 20;
  const auto text = [&](int x, int ty, std::string_view cls, std::string_view t) {
    body += fmt::format("<text x=\"{}\" y=\"{}\" class=\"{}\">{}</text>\n", x, ty, cls, t);
  };

  text(kLabelX, y += 12, "title", escape(title));
  text(kLabelX, y += 20, "note",
       escape(fmt::format("window {}, {} CPUs ({} processors); contention = wait time / (window x CPUs); "
                          "budget {:.2f}% per class",
                          format_ns(static_cast<double>(s.window_ns())), s.cpus, s.processors,
                          options.budget_percent)));

  // --- contention per class against the budget ----------------------------------------------------
  double top = 2 * options.budget_percent;
  for (std::size_t i = 0; i < rows; ++i) top = std::max(top, a.classes[i].contention_percent * 1.15);
  const auto px = [&](double percent) { return kBarX + static_cast<int>(std::lround(percent / top * kBarW)); };
  text(kLabelX, y += 34, "head", "Contention per lock class (% of CPU time spent waiting)");
  y += 10;
  const int chart_top = y;
  for (std::size_t i = 0; i < rows; ++i) {
    const ClassVerdict& v = a.classes[i];
    const int ry = chart_top + static_cast<int>(i) * kRow;
    text(kLabelX, ry + 15, "label", class_label(*v.cls));
    const int w = std::max(1, px(v.contention_percent) - kBarX);
    body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", kBarX, ry + 3, w,
                        kRow - 6, v.split ? kOver : kUnder);
    text(kBarX + w + 6, ry + 15, "value", fmt::format("{:.3f}%", v.contention_percent));
  }
  if (rows == 0) text(kBarX, chart_top + 15, "value", "no lock was taken in the window");
  const int chart_h = static_cast<int>(std::max<std::size_t>(rows, 1)) * kRow;
  body += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#444\" stroke-width=\"1\"/>\n", kBarX,
                      chart_top, chart_top + chart_h);
  const int bx = px(options.budget_percent);
  body += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"3\" stroke-dasharray=\"8 4\"/>\n",
      bx, chart_top - 6, chart_top + chart_h + 6, kOver);
  text(bx + 4, chart_top + chart_h + 20, "budget", fmt::format("{:.2f}% budget", options.budget_percent));
  y = chart_top + chart_h + 30;

  // --- wait and hold time per class -------------------------------------------------------------------
  text(kLabelX, y += 30, "head", "Total wait and hold time per lock class");
  body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", kBarX + 300, y - 11, kWait);
  text(kBarX + 316, y, "value", "wait");
  body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", kBarX + 370, y - 11, kHold);
  text(kBarX + 386, y, "value", s.hold_timing ? "hold" : "hold (hold timing off)");
  y += 10;
  double longest = 1;
  for (std::size_t i = 0; i < rows; ++i)
    longest = std::max({longest, static_cast<double>(a.classes[i].cls->counters.wait_ns),
                        estimated_hold_ns(a.classes[i].cls->counters)});
  const int times_top = y;
  for (std::size_t i = 0; i < rows; ++i) {
    const Counters& c = a.classes[i].cls->counters;
    const int ry = times_top + static_cast<int>(i) * kRow;
    text(kLabelX, ry + 15, "label", class_label(*a.classes[i].cls));
    const int ww = std::max(1, static_cast<int>(std::lround(static_cast<double>(c.wait_ns) / longest * kTimeW)));
    const int hw = std::max(1, static_cast<int>(std::lround(estimated_hold_ns(c) / longest * kTimeW)));
    body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"8\" fill=\"{}\"/>\n", kBarX, ry + 3, ww, kWait);
    body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"8\" fill=\"{}\"/>\n", kBarX, ry + 11, hw, kHold);
    text(kBarX + std::max(ww, hw) + 6, ry + 15, "value",
         escape(fmt::format("wait {} (max {}), hold {}", format_ns(static_cast<double>(c.wait_ns)),
                            format_ns(static_cast<double>(c.max_wait_ns)),
                            c.hold_samples != 0 ? format_ns(estimated_hold_ns(c)) : std::string("-"))));
  }
  y = times_top + static_cast<int>(std::max<std::size_t>(rows, 1)) * kRow + 10;
  if (a.classes.size() > rows)
    text(kLabelX, y += 16, "note", fmt::format("{} more classes with less contention are not drawn", a.classes.size() - rows));

  // --- verdicts -------------------------------------------------------------------------------------
  text(kLabelX, y += 30, "head", "Which lock to split, which locks are too many");
  if (a.split.empty()) text(kLabelX, y += 20, "value", "Split candidates: none, every class is within the budget.");
  for (const ClassVerdict& v : a.split)
    text(kLabelX, y += 20, "over",
         escape(fmt::format("Split {}: {:.3f}% of CPU time waiting", class_label(*v.cls), v.contention_percent)));
  if (options.from_trace)
    text(kLabelX, y += 20, "value", "Too many locks: judged from the order edges by `smplock levels --infer`.");
  else if (a.too_many.empty())
    text(kLabelX, y += 20, "value", "Too many locks: none found.");
  for (const ClassVerdict& v : a.too_many)
    text(kLabelX, y += 20, "value",
         escape(fmt::format("Too many: {} is taken inside {} ({}) in {:.0f}% of samples", v.cls->name,
                            v.usual_parent->name, level_name(v.usual_parent->level), 100 * v.parent_share)));
  return y + 20;
}

std::string document(int height, const std::string& body) {
  return svg_util::document(kWidth, height,
                            fmt::format(".head {{ font-size: 15px; font-weight: bold; }}\n"
                                        ".value {{ paint-order: stroke; stroke: #fff; stroke-width: 3px; }}\n"
                                        ".budget, .over {{ fill: {}; font-weight: bold; }}\n",
                                        kOver),
                            body);
}

}  // namespace

std::string to_svg(const Snapshot& s, const ReportOptions& options) {
  std::string body;
  const int height = draw(s, options, "smplock contention report", body);
  return document(height, body);
}

std::string to_svg(const std::vector<NamedSnapshot>& sets, const ReportOptions& options) {
  if (sets.size() == 1 && sets.front().name.empty()) return to_svg(sets.front().snapshot, options);
  std::string body;
  int height = 0;
  for (const NamedSnapshot& n : sets) {
    std::string part;
    const int h = draw(n.snapshot, options, fmt::format("smplock contention report: {}", n.name), part);
    body += fmt::format("<g transform=\"translate(0,{})\">\n{}</g>\n", height, part);
    height += h;
    body += fmt::format("<line x1=\"0\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#bbb\" stroke-width=\"1\"/>\n", height,
                        kWidth);
  }
  return document(height, body);
}

void report_svg(const Snapshot& s, std::FILE* out, const ReportOptions& options) {
  const std::string svg = to_svg(s, options);
  std::fwrite(svg.data(), 1, svg.size(), out);
}

}  // namespace smplock::stats
