// The verdicts: which class to split (over the budget) and which classes are one lock too many
// (nearly always taken directly inside the same other class, so they serialise nothing the outer
// lock does not already serialise). Also the number formats every form of the report shares.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "smplock/report.hpp"

namespace smplock::stats {

double estimated_hold_ns(const Counters& c) {
  if (c.hold_samples == 0) return 0;
  return static_cast<double>(c.hold_ns) / static_cast<double>(c.hold_samples) *
         static_cast<double>(std::max(c.acquisitions, c.hold_samples));
}

Analysis analyze(const Snapshot& s, const ReportOptions& options) {
  Analysis a;
  for (const ClassStats& c : s.classes) {
    if (!options.show_idle && c.counters.acquisitions == 0 && c.counters.contended == 0) continue;
    ClassVerdict v;
    v.cls = &c;
    v.contention_percent = s.contention_percent(c.counters);
    a.total_percent += v.contention_percent;
    v.split = v.contention_percent > options.budget_percent;
    if (!c.parents.empty() && c.counters.nest_samples > 0) {
      v.usual_parent = &c.parents.front();
      v.parent_share = static_cast<double>(v.usual_parent->samples) / static_cast<double>(c.counters.nest_samples);
      // An interrupt line's lock is taken by its handler inside whatever the CPU was holding when
      // the interrupt came: nested, but not by anyone's design, so never "one lock too many".
      v.too_many = c.counters.nest_samples >= options.min_nest_samples && v.parent_share >= options.nested_share &&
                   irq_of_level(c.level) < 0;
    }
    a.classes.push_back(v);
  }
  std::stable_sort(a.classes.begin(), a.classes.end(), [](const ClassVerdict& x, const ClassVerdict& y) {
    if (x.contention_percent != y.contention_percent) return x.contention_percent > y.contention_percent;
    return x.cls->counters.acquisitions > y.cls->counters.acquisitions;
  });
  for (const ClassVerdict& v : a.classes) {
    if (v.split) a.split.push_back(v);
    if (v.too_many) a.too_many.push_back(v);
  }
  return a;
}

std::string format_ns(double ns) {
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e6) return fmt::format("{:.3g} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.3g} ms", ns / 1e6);
  return fmt::format("{:.3g} s", ns / 1e9);
}

std::string format_count(std::uint64_t n) {
  if (n < 10'000) return fmt::format("{}", n);
  const double d = static_cast<double>(n);
  if (n < 10'000'000) return fmt::format("{:.1f}k", d / 1e3);
  if (n < 10'000'000'000ull) return fmt::format("{:.1f}M", d / 1e6);
  return fmt::format("{:.1f}G", d / 1e9);
}

bool report_now(std::FILE* out, const std::string& json_path, const ReportOptions& options) {
  Snapshot s = snapshot();
  symbolize(s);
  if (out != nullptr) report_text(s, out, options);
  if (json_path.empty()) return true;
  std::FILE* f = std::fopen(json_path.c_str(), "w");
  if (f == nullptr) return false;
  report_json(s, f);
  return std::fclose(f) == 0;
}

}  // namespace smplock::stats
