// The story as a picture (one self-contained SVG: no scripts, fonts or links). Top: the steps side
// by side on one common scale: throughput (median bar, the lowest and highest round as a whisker),
// then contention stacked by lock class with the 1% budget line. Below: each step's classes as
// bars on one log scale shared by every step, the budget line through all of them. Last: the
// verdict of each step and what the machine took.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "smplock/detail/svg_util.hpp"
#include "smplock/pound_story.hpp"

namespace smplock::pound {
namespace {

constexpr int kWidth = 1000;
constexpr int kLeft = 60;          // the axes
constexpr int kColumn = 182;       // one step's column
constexpr int kBar = 84;
constexpr const char* kBudget = "#d62728";
constexpr const char* kOver = "#d62728";
constexpr const char* kUnder = "#1f77b4";
constexpr const char* kThroughput = "#4c72b0";

using svg_util::escape;

std::string percent(double p) {
  if (p >= 9.995) return fmt::format("{:.1f}%", p);
  if (p >= 0.0995) return fmt::format("{:.2f}%", p);
  return fmt::format("{:.3f}%", p);
}

// A colour per lock class, the same in every step: the classes the story splits get the strong
// colours; the rest share quieter ones.
std::string colour(const std::string& name) {
  static const std::map<std::string, std::string> kFixed = {
      {"GIANT", "#7f3c8d"}, {"NP", "#e17c05"}, {"QU", "#f2b701"}, {"TS", "#11a579"}, {"PS", "#3969ac"},
      {"TF", "#80ba5a"},    {"EV", "#008695"}, {"TP", "#a5aa99"}, {"TC", "#cf1c90"}, {"PM", "#e73f74"},
      {"CP", "#f97b72"},    {"HT", "#4b4b8f"}, {"PR", "#c5b0d5"}, {"SE", "#8c564b"}, {"VL", "#9edae5"},
      {"CN", "#bcbd22"},    {"DV", "#7f7f7f"}, {"PT", "#17becf"}};
  const auto it = kFixed.find(name);
  if (it != kFixed.end()) return it->second;
  return "#b0b0b0";  // IRQ lines and anything else
}

struct Svg {
  std::string body;
  void text(double x, double y, std::string_view cls, std::string_view t, std::string_view anchor = "start") {
    body += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"{}\" text-anchor=\"{}\">{}</text>\n", x, y, cls,
                        anchor, escape(t));
  }
  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view title = {}) {
    body += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\">", x, y,
                        std::max(w, 0.0), std::max(h, 0.0), fill);
    if (!title.empty()) body += fmt::format("<title>{}</title>", escape(title));
    body += "</rect>\n";
  }
  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
            std::string_view dash = {}) {
    body += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"{}\"",
                        x1, y1, x2, y2, stroke, width);
    if (!dash.empty()) body += fmt::format(" stroke-dasharray=\"{}\"", dash);
    body += "/>\n";
  }
};

double column_x(std::size_t i) { return kLeft + 10 + static_cast<double>(i) * kColumn; }

// A "nice" top for an axis: 1, 2 or 5 times a power of ten, at least `v`.
double nice_top(double v) {
  if (v <= 0) return 1;
  const double p = std::pow(10.0, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= v) return m * p;
  return 10 * p;
}

}  // namespace

std::string story_svg(const Story& s) {
  Svg g;
  const std::size_t n = s.steps.size();
  const bool sorted = busy(s);
  double y = 34;
  g.text(16, y, "title", "smplock pound: the seed's story, step by step");
  y += 22;
  g.text(16, y, "note",
         fmt::format("{} CPUs, {} rounds of {:.2f} s per step (medians; whiskers: lowest and highest round); "
                     "{:.0f} ns of user mode after each system call",
                     s.cpus, s.rounds, s.seconds_per_round, s.user_ns));
  y += 16;
  g.text(16, y, "note",
         fmt::format("{}, {} processors; contention = time waiting for a lock / (window x CPUs){}", s.cpu_model,
                     s.processors, sorted ? "; behind running holders only (a busy machine)" : ""));

  // --- throughput, every step on one scale ------------------------------------------------------
  y += 40;
  g.text(16, y, "head", "Throughput, million operations per second (one scale for every step)");
  const double chart_top = y + 20, chart_h = 190;
  double top = 0;
  for (const StepFigures& f : s.steps) top = std::max(top, f.ops_per_second.high);
  top = nice_top(top / 1e6 * 1.05);
  const auto ty = [&](double mops) { return chart_top + chart_h - mops / top * chart_h; };
  for (int k = 0; k <= 4; ++k) {
    const double v = top * k / 4;
    g.line(kLeft, ty(v), kLeft + 10 + kColumn * static_cast<double>(n), ty(v), "#e5e5e5", 1);
    g.text(kLeft - 6, ty(v) + 4, "axis", fmt::format("{:g}", v), "end");
  }
  for (std::size_t i = 0; i < n; ++i) {
    const StepFigures& f = s.steps[i];
    const double x = column_x(i) + (kColumn - kBar) / 2.0;
    const double m = f.ops_per_second.median / 1e6;
    g.rect(x, ty(m), kBar, chart_top + chart_h - ty(m), kThroughput, fmt::format("{}: {:.2f} M ops/s", f.name, m));
    const double cx = x + kBar / 2.0;
    g.line(cx, ty(f.ops_per_second.low / 1e6), cx, ty(f.ops_per_second.high / 1e6), "#222", 2);
    g.line(cx - 8, ty(f.ops_per_second.low / 1e6), cx + 8, ty(f.ops_per_second.low / 1e6), "#222", 2);
    g.line(cx - 8, ty(f.ops_per_second.high / 1e6), cx + 8, ty(f.ops_per_second.high / 1e6), "#222", 2);
    g.text(cx + 12, ty(f.ops_per_second.high / 1e6) - 4, "value", fmt::format("{:.2f} M", m));
  }
  g.line(kLeft, chart_top + chart_h, kLeft + 10 + kColumn * static_cast<double>(n), chart_top + chart_h, "#444", 1);
  y = chart_top + chart_h + 18;
  for (std::size_t i = 0; i < n; ++i) {
    g.text(column_x(i) + kColumn / 2.0, y, "step", fmt::format("{}. {}", i + 1, s.steps[i].name), "middle");
    const std::string what = s.steps[i].split.empty() ? "one lock" : "split " + s.steps[i].split;
    g.text(column_x(i) + kColumn / 2.0, y + 15, "note", what, "middle");
  }

  // --- contention stacked by class, every step on one scale ----------------------------------------
  y += 60;
  g.text(16, y, "head", "Contention, % of CPU time waiting, stacked by lock class (one scale for every step)");
  const double stack_top = y + 20, stack_h = 220;
  double most = s.budget_percent * 2;
  for (const StepFigures& f : s.steps) {
    double sum = 0;
    for (const ClassFigure& c : f.classes) sum += shown_contention(s, f, c);
    most = std::max(most, sum);
  }
  most = nice_top(most * 1.05);
  const auto cy = [&](double p) { return stack_top + stack_h - p / most * stack_h; };
  for (int k = 0; k <= 4; ++k) {
    const double v = most * k / 4;
    g.line(kLeft, cy(v), kLeft + 10 + kColumn * static_cast<double>(n), cy(v), "#e5e5e5", 1);
    g.text(kLeft - 6, cy(v) + 4, "axis", fmt::format("{:g}%", v), "end");
  }
  std::vector<std::string> legend;
  for (std::size_t i = 0; i < n; ++i) {
    const StepFigures& f = s.steps[i];
    const double x = column_x(i) + (kColumn - kBar) / 2.0;
    double base = 0;
    std::vector<const ClassFigure*> order;
    for (const ClassFigure& c : f.classes) order.push_back(&c);
    std::sort(order.begin(), order.end(), [&](const ClassFigure* a, const ClassFigure* b) {
      return shown_contention(s, f, *a) > shown_contention(s, f, *b);
    });
    for (const ClassFigure* c : order) {
      const double v = shown_contention(s, f, *c);
      if (v <= 0) continue;
      g.rect(x, cy(base + v), kBar, cy(base) - cy(base + v), colour(c->name), fmt::format("{} {}: {}", f.name, c->name, percent(v)));
      // Name the slices tall enough to carry a label.
      if (cy(base) - cy(base + v) >= 13)
        g.text(x + kBar / 2.0, (cy(base) + cy(base + v)) / 2 + 4, "slice", fmt::format("{} {}", c->name, percent(v)),
               "middle");
      base += v;
      if (std::find(legend.begin(), legend.end(), c->name) == legend.end() && v >= 0.05) legend.push_back(c->name);
    }
    g.text(x + kBar / 2.0, cy(base) - 6, "value", percent(base), "middle");
  }
  g.line(kLeft, stack_top + stack_h, kLeft + 10 + kColumn * static_cast<double>(n), stack_top + stack_h, "#444", 1);
  const double budget_y = cy(s.budget_percent);
  g.line(kLeft, budget_y, kLeft + 10 + kColumn * static_cast<double>(n), budget_y, kBudget, 2, "8 4");
  g.text(kLeft + 4, budget_y - 5, "budget", fmt::format("{:g}% budget", s.budget_percent));
  y = stack_top + stack_h + 18;
  for (std::size_t i = 0; i < n; ++i)
    g.text(column_x(i) + kColumn / 2.0, y, "step", fmt::format("{}. {}", i + 1, s.steps[i].name), "middle");
  // The legend: every class drawn, in its colour.
  y += 22;
  double lx = kLeft;
  for (const std::string& name : legend) {
    if (lx > kWidth - 90) {
      lx = kLeft;
      y += 18;
    }
    g.rect(lx, y - 10, 12, 12, colour(name));
    g.text(lx + 16, y, "axis", name);
    lx += 28 + 8.0 * static_cast<double>(name.size());
  }

  // --- each step's classes on one log scale ---------------------------------------------------------
  y += 44;
  g.text(16, y, "head", "Each step's lock classes, % of CPU time waiting (log scale, shared by every step)");
  constexpr std::size_t kRows = 8;
  constexpr double kRow = 20;
  const double panel_top = y + 16;
  const double lo = 0.01, hi = 100;
  const double label_w = 44, bar_w = kColumn - label_w - 46;  // room for the value after the bar
  const auto lx_of = [&](std::size_t i, double p) {
    const double v = std::clamp(p, lo, hi);
    return column_x(i) + label_w + (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * bar_w;
  };
  std::size_t rows = 1;
  for (std::size_t i = 0; i < n; ++i) {
    const StepFigures& f = s.steps[i];
    g.text(column_x(i) + 4, panel_top, "step", fmt::format("{}. {}", i + 1, f.name));
    std::vector<const ClassFigure*> order;
    for (const ClassFigure& c : f.classes) order.push_back(&c);
    std::sort(order.begin(), order.end(), [&](const ClassFigure* a, const ClassFigure* b) {
      return shown_contention(s, f, *a) > shown_contention(s, f, *b);
    });
    if (order.size() > kRows) order.resize(kRows);
    rows = std::max(rows, order.size());
    for (std::size_t r = 0; r < order.size(); ++r) {
      const double v = shown_contention(s, f, *order[r]);
      const double ry = panel_top + 10 + static_cast<double>(r) * kRow;
      g.text(column_x(i) + 4, ry + 13, "label", order[r]->name.substr(0, 6));
      const double x0 = column_x(i) + label_w;
      g.rect(x0, ry + 3, std::max(1.0, lx_of(i, v) - x0), kRow - 6, v > s.budget_percent ? kOver : kUnder,
             fmt::format("{} {}: {}", f.name, order[r]->name, percent(v)));
      g.text(std::max(lx_of(i, v), x0 + 1) + 3, ry + 13, "small", percent(v));
    }
  }
  const double panel_bottom = panel_top + 10 + static_cast<double>(rows) * kRow;
  for (std::size_t i = 0; i < n; ++i) {
    g.line(column_x(i) + label_w, panel_top + 8, column_x(i) + label_w, panel_bottom, "#444", 1);
    const double bx = lx_of(i, s.budget_percent);
    g.line(bx, panel_top + 6, bx, panel_bottom + 4, kBudget, 2, "6 3");
    for (double tick : {0.01, 0.1, 1.0, 10.0, 100.0})
      g.text(lx_of(i, tick), panel_bottom + 16, "tiny", fmt::format("{:g}", tick), "middle");
  }
  y = panel_bottom + 30;

  // --- verdicts -------------------------------------------------------------------------------------
  y += 16;
  g.text(16, y, "head", "What each step did");
  for (std::size_t i = 0; i < n; ++i) {
    y += 19;
    g.text(16, y, "label", fmt::format("{}. {}:", i + 1, s.steps[i].name));
    g.text(110, y, "value", verdict(s, i));
  }
  std::string why;
  y += 24;
  const Fairness fair = fairness(s);
  if (n > 1) {
    const bool holds = story_holds(s, &why, fair.fair);
    std::string line = holds ? "The story holds: each split lock falls under the budget, throughput rises or stays level."
                             : "Out of order: " + why;
    if (!fair.fair)
      line = holds ? "In contention behind running holders the story holds (throughput not judged: an unfair run)."
                   : "In contention behind running holders, out of order: " + why;
    g.text(16, y, holds ? "good" : "over", line);
  }
  std::size_t start = 0;
  while (start < fair.line.size()) {
    std::size_t end = fair.line.find('\n', start);
    if (end == std::string::npos) end = fair.line.size();
    y += 18;
    g.text(16, y, fair.fair ? "note" : "over", fair.line.substr(start, end - start));
    start = end + 1;
  }
  const int height = static_cast<int>(y + 24);

  return svg_util::document(kWidth, height,
                            fmt::format(".head {{ font-size: 15px; font-weight: bold; }}\n"
                                        ".step {{ font-weight: bold; }}\n"
                                        ".axis {{ fill: #555; font-size: 11px; }}\n"
                                        ".small {{ font-size: 10px; }}\n"
                                        ".tiny {{ font-size: 9px; fill: #777; }}\n"
                                        ".slice {{ font-size: 10px; fill: #fff; }}\n"
                                        ".value {{ paint-order: stroke; stroke: #fff; stroke-width: 3px; }}\n"
                                        ".budget, .over {{ fill: {}; font-weight: bold; }}\n"
                                        ".good {{ fill: #2ca02c; font-weight: bold; }}\n",
                                        kBudget),
                            g.body);
}

}  // namespace smplock::pound
