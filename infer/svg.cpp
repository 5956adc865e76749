// The order graph drawn in its levels: one self-contained SVG (no scripts, fonts or links). Each
// layer of the proposed table is a row, the first-taken at the top, its level at the left; the
// classes with no level sit in a last row, outlined in red. An edge runs from the class held to the
// class taken inside it; its width grows with its count (logarithmically). Edges on a cycle that can
// deadlock are red, edges on a cycle that cannot are dashed red, edges left out of the order are
// dashed grey, and the rest dark grey. Within a row the classes are ordered by the mean position of
// the classes above them, so most edges run straight down.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "internal.hpp"
#include "smplock/detail/svg_util.hpp"

namespace smplock::infer {
namespace {

constexpr int kMinWidth = 960;
constexpr int kLeft = 90;        // level labels
constexpr int kBoxW = 176;
constexpr int kBoxH = 40;
constexpr int kGapX = 24;
constexpr int kRowH = 110;
constexpr int kTop = 150;        // title and legend
constexpr std::size_t kPerRow = 10;
constexpr const char* kRed = "#d62728";
constexpr const char* kBlue = "#1f77b4";
constexpr const char* kGrey = "#555555";
constexpr const char* kLight = "#aaaaaa";

using svg_util::escape;

std::string shorten(const std::string& s, std::size_t n) { return s.size() <= n ? s : s.substr(0, n - 1) + "~"; }

// Long class names differ at their ends as often as at their starts ("lib.so+0x15eb18"): keep both.
std::string shorten_middle(const std::string& s, std::size_t n) {
  if (s.size() <= n) return s;
  const std::size_t tail = n / 2 - 1;
  return s.substr(0, n - 1 - tail) + "~" + s.substr(s.size() - tail);
}

struct Place {
  double x = 0, y = 0;  // centre
  bool placed = false;
};

}  // namespace

std::string to_svg(const Graph& g, const Result& r) {
  const std::size_t n = g.classes.size();
  // Rows: one per layer, then the unleveled classes.
  std::vector<std::vector<std::size_t>> rows(r.layers + (r.unleveled.empty() ? 0 : 1));
  std::vector<std::string> row_label(rows.size());
  for (const LevelEntry& l : r.levels) {
    rows[l.layer].push_back(l.cls);
    row_label[l.layer] = detail::hex_level(l.level);
  }
  if (!r.unleveled.empty()) {
    for (const Unleveled& u : r.unleveled) rows.back().push_back(u.cls);
    row_label.back() = "no level";
  }

  // Order within rows: by name first, then by the mean x of the classes held around them.
  std::vector<std::vector<std::size_t>> preds(n);
  for (const EdgeInfo& e : g.edges) preds[e.to].push_back(e.from);
  std::vector<Place> at(n);
  std::size_t widest = 1;
  int y = kTop;
  std::vector<int> row_y(rows.size());
  for (std::size_t ri = 0; ri < rows.size(); ++ri) {
    std::vector<std::size_t>& row = rows[ri];
    std::sort(row.begin(), row.end(), [&](std::size_t a, std::size_t b) { return g.classes[a].name < g.classes[b].name; });
    std::vector<double> key(n, 0);
    for (std::size_t k : row) {
      double sum = 0;
      int count = 0;
      for (std::size_t p : preds[k])
        if (at[p].placed) sum += at[p].x, ++count;
      key[k] = count != 0 ? sum / count : 1e9;  // no placed class above: keep name order, at the end
    }
    std::stable_sort(row.begin(), row.end(), [&](std::size_t a, std::size_t b) { return key[a] < key[b]; });
    if (ri + 1 == rows.size() && !r.unleveled.empty()) {
      // The classes with no level: each cycle's classes side by side, so its arcs stay short.
      std::vector<std::size_t> grouped;
      for (const Cycle& c : r.cycles)
        for (std::size_t k : c.classes)
          if (std::find(row.begin(), row.end(), k) != row.end() &&
              std::find(grouped.begin(), grouped.end(), k) == grouped.end())
            grouped.push_back(k);
      for (std::size_t k : row)
        if (std::find(grouped.begin(), grouped.end(), k) == grouped.end()) grouped.push_back(k);
      row = grouped;
    }
    row_y[ri] = y;
    for (std::size_t i = 0; i < row.size(); ++i) {
      const std::size_t col = i % kPerRow, sub = i / kPerRow;
      at[row[i]] = {static_cast<double>(kLeft + kBoxW / 2 + static_cast<int>(col) * (kBoxW + kGapX)),
                    static_cast<double>(y + kBoxH / 2 + static_cast<int>(sub) * (kBoxH + 30)), true};
    }
    widest = std::max(widest, std::min(row.size(), kPerRow));
    y += kRowH + static_cast<int>((std::max<std::size_t>(row.size(), 1) - 1) / kPerRow) * (kBoxH + 30);
  }
  const int width = std::max(kMinWidth, kLeft + static_cast<int>(widest) * (kBoxW + kGapX) + 20);
  const int height = std::max(y + 20, kTop + 80);

  // Edge styles.
  std::vector<int> on_cycle(g.edges.size(), 0);  // 2: a cycle that can deadlock, 1: one that cannot
  for (const Cycle& c : r.cycles)
    for (std::size_t e : c.edges) on_cycle[e] = std::max(on_cycle[e], c.real() ? 2 : 1);
  std::vector<bool> dropped(g.edges.size(), false);
  for (const DroppedEdge& d : r.dropped_edges) dropped[d.edge] = true;
  std::uint64_t most = 1;
  for (const EdgeInfo& e : g.edges) most = std::max(most, e.count);

  std::string body;
  const auto text = [&](double x, double ty, std::string_view cls, const std::string& t, const char* anchor = "start") {
    body += fmt::format("<text x=\"{:.0f}\" y=\"{:.0f}\" class=\"{}\" text-anchor=\"{}\">{}</text>\n", x, ty, cls,
                        anchor, escape(t));
  };
  // The programs by file name, at most three, so the line fits the picture.
  std::map<std::string, std::size_t> programs;
  for (const Source& s : g.sources) {
    const std::size_t slash = s.program.rfind('/');
    ++programs[s.program.empty() ? std::string("?") : slash == std::string::npos ? s.program : s.program.substr(slash + 1)];
  }
  std::string progs;
  std::size_t listed = 0;
  for (const auto& [p, count] : programs)
    if (listed++ < 3) progs += (progs.empty() ? "" : ", ") + shorten(p, 30);
  if (programs.size() > 3) progs += fmt::format(" and {} more", programs.size() - 3);
  std::size_t real = 0;
  for (const Cycle& c : r.cycles) real += c.real() ? 1 : 0;
  text(16, 32, "title", "Lock order and proposed levels");
  text(16, 54, "note",
       fmt::format("{}: {} trace{}, {} classes, {} order edges; {} cycle{}, {} can deadlock; {} classes without a level",
                   progs, g.sources.size(), g.sources.size() == 1 ? "" : "s", n, g.edges.size(), r.cycles.size(),
                   r.cycles.size() == 1 ? "" : "s", real, r.unleveled.size()));
  // Legend.
  const auto legend = [&](int x, const char* colour, const char* dash, const std::string& what) {
    body += fmt::format("<line x1=\"{}\" y1=\"84\" x2=\"{}\" y2=\"84\" stroke=\"{}\" stroke-width=\"3\"{}/>\n", x,
                        x + 40, colour, dash);
    text(x + 48, 88, "note", what);
  };
  legend(16, kGrey, "", "taken inside (held -> taken)");
  legend(250, kRed, "", "on a cycle that can deadlock");
  legend(480, kRed, " stroke-dasharray=\"7 4\"", "on a cycle that cannot");
  legend(690, kLight, " stroke-dasharray=\"7 4\"", "left out of the order");
  text(16, 112, "note", "Layers top to bottom: a class is taken inside the classes above it. Line width grows with the count.");

  for (std::size_t ri = 0; ri < rows.size(); ++ri) {
    text(16, row_y[ri] + kBoxH / 2 + 5, ri + 1 == rows.size() && !r.unleveled.empty() ? "bad" : "level", row_label[ri]);
    body += fmt::format("<line x1=\"16\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#eeeeee\" stroke-width=\"1\"/>\n",
                        row_y[ri] - 18, width - 16);
  }

  // Edges under the boxes.
  for (std::size_t e = 0; e < g.edges.size(); ++e) {
    const EdgeInfo& x = g.edges[e];
    const Place a = at[x.from], b = at[x.to];
    if (!a.placed || !b.placed) continue;
    const char* colour = on_cycle[e] != 0 ? kRed : dropped[e] ? kLight : kGrey;
    const char* marker = on_cycle[e] != 0 ? "red" : dropped[e] ? "light" : "grey";
    const bool dashed = on_cycle[e] == 1 || (on_cycle[e] == 0 && dropped[e]);
    double w = 1.0 + 5.0 * std::log(static_cast<double>(x.count)) / std::log(static_cast<double>(std::max<std::uint64_t>(most, 2)));
    if (on_cycle[e] != 0) w = std::max(w, 2.0);  // a cycle stays visible however rare its edges
    // Ends spread along the box edges towards the other class, so edges that share a class part.
    const double lean = std::clamp((b.x - a.x) * 0.2, -kBoxW / 2.0 + 14, kBoxW / 2.0 - 14);
    std::string path;
    if (b.y > a.y + 1) {  // down: bottom of the held class to the top of the taken one
      const double y1 = a.y + kBoxH / 2.0, y2 = b.y - kBoxH / 2.0 - 4, mid = (y2 - y1) / 2;
      path = fmt::format("M {:.1f} {:.1f} C {:.1f} {:.1f} {:.1f} {:.1f} {:.1f} {:.1f}", a.x + lean - 6, y1,
                         a.x + lean - 6, y1 + mid, b.x - lean - 6, y2 - mid, b.x - lean - 6, y2);
    } else if (b.y < a.y - 1) {  // up (against the levels): right of centre, so it never hides a down edge
      const double y1 = a.y - kBoxH / 2.0, y2 = b.y + kBoxH / 2.0 + 4, mid = (y1 - y2) / 2;
      path = fmt::format("M {:.1f} {:.1f} C {:.1f} {:.1f} {:.1f} {:.1f} {:.1f} {:.1f}", a.x + lean + 6, y1,
                         a.x + lean + 36, y1 - mid, b.x - lean + 36, y2 + mid, b.x - lean + 6, y2);
    } else {  // same row: rightwards arcs over the top, leftwards under the bottom, so A->B and B->A both show
      const bool right = b.x > a.x;
      const double side = right ? -1 : 1;
      const double x1 = a.x + (right ? 0.25 : -0.25) * kBoxW, x2 = b.x + (right ? -0.25 : 0.25) * kBoxW;
      const double y1 = a.y + side * kBoxH / 2.0, y2 = b.y + side * (kBoxH / 2.0 + 4);
      const double lift = 26 + 0.08 * std::abs(x2 - x1);
      path = fmt::format("M {:.1f} {:.1f} C {:.1f} {:.1f} {:.1f} {:.1f} {:.1f} {:.1f}", x1, y1, x1, y1 + side * lift, x2,
                         y2 + side * lift, x2, y2);
    }
    body += fmt::format(
        "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{:.1f}\"{} marker-end=\"url(#arrow-{})\">"
        "<title>{}</title></path>\n",
        path, colour, w, dashed ? " stroke-dasharray=\"7 4\"" : "", marker,
        escape(fmt::format("{} -> {}: {} times, {}", g.classes[x.from].name, g.classes[x.to].name, x.count,
                           detail::thread_list(g, x.threads, x.thread_count, x.more_threads))));
  }

  // The classes.
  for (std::size_t k = 0; k < n; ++k) {
    if (!at[k].placed) continue;
    const ClassInfo& c = g.classes[k];
    const bool leveled = r.level_of(k) != nullptr;
    body += fmt::format(
        "<rect x=\"{:.0f}\" y=\"{:.0f}\" width=\"{}\" height=\"{}\" rx=\"6\" fill=\"{}\" stroke=\"{}\" stroke-width=\"{}\">"
        "<title>{}</title></rect>\n",
        at[k].x - kBoxW / 2.0, at[k].y - kBoxH / 2.0, kBoxW, kBoxH, leveled ? "#dbe9f6" : "#fbe3e3",
        leveled ? kBlue : kRed, leveled ? 1.5 : 2.5, escape(c.key + " (made at " + describe(c.site) + ")"));
    text(at[k].x, at[k].y - 3, "name", shorten_middle(c.name, 23), "middle");
    const LevelEntry* l = r.level_of(k);
    text(at[k].x, at[k].y + 13, "small",
         fmt::format("{} {}", l != nullptr ? detail::hex_level(l->level) : std::string("no level"), c.kind), "middle");
  }

  std::string defs;
  for (const auto& [id, colour] : {std::pair{"grey", kGrey}, std::pair{"red", kRed}, std::pair{"light", kLight}})
    defs += fmt::format(
        "<marker id=\"arrow-{}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"11\" markerHeight=\"11\" "
        "markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{}\"/></marker>\n",
        id, colour);
  return svg_util::document(width, height,
                            fmt::format(".level {{ font-size: 14px; font-weight: bold; fill: {}; }}\n"
                                        ".bad {{ font-size: 13px; font-weight: bold; fill: {}; }}\n"
                                        ".name {{ font-weight: bold; font-size: 11.5px; }}\n"
                                        ".small {{ font-size: 11px; fill: #444; }}\n",
                                        kBlue, kRed),
                            body, defs);
}

}  // namespace smplock::infer
