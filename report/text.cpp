// The text report: the table sorted by contention with the budget marked, the split and "too
// many locks" candidates, the per-level view (OZONE's smplevel[XX] dump) and every counter of each
// class, the last generated from the counter list. A snapshot read from a `smplock record` trace
// (ReportOptions::from_trace) shows "-" for what a trace does not count, and no per-level view.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <regex>
#include <string_view>

#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

std::string level_label(Level l) {
  return fmt::format("{:02X} {}", to_int(l), level_name(l));
}

// A trace's counter keys (the others are never filled from a trace).
bool in_trace(std::string_view key) {
  return std::find(std::begin(kTraceCounters), std::end(kTraceCounters), key) != std::end(kTraceCounters);
}

// "f<std::pair<int, long> >::g()" -> "f<>::g()": template arguments make names long and say little.
std::string without_template_arguments(const std::string& name) {
  std::string out;
  int depth = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    // "operator<", "operator<<" and "operator->" are names, not brackets.
    if (name.compare(i, 8, "operator") == 0) {
      std::size_t j = i + 8;
      while (j < name.size() && (name[j] == '<' || name[j] == '>' || name[j] == '-' || name[j] == '=')) ++j;
      if (depth == 0) out.append(name, i, j - i);
      i = j - 1;
      continue;
    }
    if (ch == '<') {
      if (depth++ == 0) out += '<';
    } else if (ch == '>' && depth > 0) {
      if (--depth == 0) out += '>';
    } else if (depth == 0) {
      out += ch;
    }
  }
  return out;
}

// The top-level (outside <> and ()) positions of `name`: where its parameter list opens and where
// the return type ends ("void ns::f(int) const" -> the '(' and the space after "void").
struct Shape {
  std::size_t params = std::string::npos;
  std::size_t name_begin = 0;
};
Shape shape_of(const std::string& name) {
  Shape sh;
  int depth = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char ch = name[i];
    if (name.compare(i, 8, "operator") == 0) {  // "operator<<", "operator()": a name, no brackets
      std::size_t j = i + 8;
      if (name.compare(j, 2, "()") == 0) j += 2;
      while (j < name.size() && std::string_view("<>=-!+*/%^&|~,[]").find(name[j]) != std::string_view::npos) ++j;
      i = j - 1;
      continue;
    }
    if (ch == '<' || ch == '(' || ch == '[' || ch == '{') {
      if (ch == '(' && depth == 0 && sh.params == std::string::npos) sh.params = i;
      ++depth;
    } else if ((ch == '>' || ch == ')' || ch == ']' || ch == '}') && depth > 0) {
      --depth;
    } else if (ch == ' ' && depth == 0 && sh.params == std::string::npos) {
      sh.name_begin = i + 1;
    }
  }
  return sh;
}

// A function's name for one line of the report, at most `width` characters: without its return type,
// template arguments and the namespaces of its parameters' types; when still too long, without the
// qualifiers but the innermost (namespaces), so the function itself stays; its parameters go only
// when that is not enough.
// "void smplock::pound::detail::{anonymous}::Kernel::copy_user_pages(smplock::pound::detail::Process&)"
// -> "Kernel::copy_user_pages(smplock::pound::detail::Process&)"; "(...)" for the parameters when
// even that is too long.
std::string short_function(const std::string& full, std::size_t width) {
  std::string name = without_template_arguments(full);
  // The demangler's "(anonymous namespace)" is a qualifier, not a parameter list.
  for (std::size_t at; (at = name.find("(anonymous namespace)")) != std::string::npos;)
    name.replace(at, 21, "{anonymous}");
  // A lambda's "<lambda()>" lost its inside with the template arguments: put the word back.
  for (std::size_t at; (at = name.find("::<>")) != std::string::npos;) name.replace(at, 4, "::<lambda>");
  Shape sh = shape_of(name);
  name.erase(0, sh.name_begin);
  // The parameters' types without their namespaces: "f(smplock::pound::detail::Thread&)" -> "f(Thread&)".
  sh = shape_of(name);
  if (sh.params != std::string::npos) {
    static const std::regex kQualifier("([A-Za-z_][A-Za-z_0-9]*|\\{anonymous\\})::");
    name = name.substr(0, sh.params) + std::regex_replace(name.substr(sh.params), kQualifier, "");
  }
  // Cuts the leftmost qualifier while more than `keep` remain.
  const auto cut_qualifier = [&](int keep) {
    sh = shape_of(name);
    const std::size_t end = sh.params == std::string::npos ? name.size() : sh.params;
    // The first "::" at depth 0 before the parameter list ends the leftmost qualifier.
    int depth = 0, qualifiers = 0;
    std::size_t first = std::string::npos;
    for (std::size_t i = 0; i + 1 < end; ++i) {
      const char ch = name[i];
      if (ch == '<' || ch == '(' || ch == '{') ++depth;
      else if ((ch == '>' || ch == ')' || ch == '}') && depth > 0) --depth;
      else if (depth == 0 && ch == ':' && name[i + 1] == ':') {
        if (qualifiers++ == 0) first = i;
        ++i;
      }
    }
    if (qualifiers <= keep) return false;
    name.erase(0, first + 2);
    return true;
  };
  // Namespaces first, all of them at once (so a program's sites read alike), keeping the innermost
  // qualifier (the class, usually); then the parameters; then that qualifier too.
  if (name.size() > width)
    while (cut_qualifier(1)) {
    }
  if (name.size() > width) {
    sh = shape_of(name);
    if (sh.params != std::string::npos) {
      // The parameter list, up to its matching ')', becomes "(...)"; what follows it stays.
      std::size_t close = sh.params;
      for (int depth = 0; close < name.size(); ++close) {
        if (name[close] == '(') ++depth;
        else if (name[close] == ')' && --depth == 0) break;
      }
      if (close > sh.params + 4 && close < name.size()) name.replace(sh.params, close + 1 - sh.params, "(...)");
    }
  }
  while (name.size() > width && cut_qualifier(0)) {
  }
  if (name.size() > width) name = "..." + name.substr(name.size() - (width - 3));
  return name;
}

// A call site's line: "{count} from {function} ({file}:{line})"; 40 characters of function keep it
// within about 80 columns.
std::string site_label(const CallSite& site) {
  std::string s = site.function.empty() ? fmt::format("0x{:x}", site.pc) : short_function(site.function, 40);
  if (!site.file.empty()) {
    const auto slash = site.file.rfind('/');
    s += fmt::format(" ({}:{})", slash == std::string::npos ? site.file : site.file.substr(slash + 1), site.line);
  }
  return s;
}

std::string ratio(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? std::string("-") : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

}  // namespace

void report_text(const Snapshot& s, const Sink& out, const ReportOptions& options) {
  const Analysis a = analyze(s, options);
  const auto line = [&](std::string_view text) {
    out(text);
    out("\n");
  };
  line(fmt::format("smplock contention report: window {}, {} CPUs ({} processors), hold timing {}",
                   format_ns(static_cast<double>(s.window_ns())), s.cpus, s.processors, s.hold_timing ? "on" : "off"));
  line(fmt::format("contention = wait time / (window x CPUs); budget {:.2f}% per class (marked !); total {:.3f}%",
                   options.budget_percent, a.total_percent));
  if (options.from_trace)
    line("from a `smplock record` trace: no levels yet; spins, parks, queue lengths, max hold and nesting are not "
         "recorded (-); hold is sampled");
  else
    line(fmt::format("usually inside: the class most often held directly below (sampled 1 in {}); * marks one lock "
                     "too many", s.nest_sample_period));
  line("");
  // A trace's classes are named by addresses in libraries ("libsqlite3.so.0+0x15eac8"), whose ends
  // tell them apart: its name column grows to the longest name, up to 40.
  std::size_t name_width = 20;
  if (options.from_trace)
    for (const ClassVerdict& v : a.classes) name_width = std::clamp(v.cls->name.size(), name_width, std::size_t{40});
  line(fmt::format("{:<{}} {:<9} {:>9} {:1} {:>9} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7} {:>6} {:>19}  {}",
                   "class", name_width, "level", "contend%", "", "acquired", "contended", "rate", "wait", "max wait",
                   "hold", "max hold", "spins", "parks", "queued 0/1/2/3+", "usually inside"));
  for (const ClassVerdict& v : a.classes) {
    const Counters& c = v.cls->counters;
    const std::string inside =
        v.usual_parent == nullptr
            ? std::string("-")
            : fmt::format("{} ({}) {:.0f}%{}", v.usual_parent->name, level_name(v.usual_parent->level),
                          100 * v.parent_share, v.too_many ? " *" : "");
    const bool t = options.from_trace;
    line(fmt::format("{:<{}} {:<9} {:>8.3f}% {:1} {:>9} {:>9} {:>7} {:>10} {:>10} {:>10} {:>10} {:>7} {:>6} {:>19}  {}",
                     v.cls->name.substr(0, name_width), name_width, t ? std::string("-") : level_label(v.cls->level),
                     v.contention_percent, v.split ? "!" : "",
                     format_count(c.acquisitions), format_count(c.contended), ratio(c.contended, c.acquisitions),
                     format_ns(static_cast<double>(c.wait_ns)), format_ns(static_cast<double>(c.max_wait_ns)),
                     c.hold_samples != 0 ? format_ns(estimated_hold_ns(c)) : std::string("-"),
                     c.hold_samples != 0 && !t ? format_ns(static_cast<double>(c.max_hold_ns)) : std::string("-"),
                     t ? std::string("-") : format_count(c.spins), t ? std::string("-") : format_count(c.parks),
                     t ? std::string("-")
                       : fmt::format("{}/{}/{}/{}", format_count(c.queued_0), format_count(c.queued_1),
                                     format_count(c.queued_2), format_count(c.queued_3plus)),
                     inside));
    std::size_t shown = 0;
    for (const CallSite& site : v.cls->call_sites) {
      if (shown++ == options.call_sites) break;
      line(fmt::format("    {:>9} from {}", format_count(site.count), site_label(site)));
    }
    if (v.cls->other_sites != 0) line(fmt::format("    {:>9} from other call sites", format_count(v.cls->other_sites)));
  }
  if (a.classes.empty()) line("(no lock was taken in the window)");

  line("");
  if (a.split.empty()) {
    line(fmt::format("split candidates: none (every class is within the {:.2f}% budget)", options.budget_percent));
  } else {
    line(fmt::format("split candidates (over the {:.2f}% budget; split the data these locks protect):", options.budget_percent));
    for (const ClassVerdict& v : a.split)
      line(fmt::format("  {}{}: {:.3f}% of CPU time waiting, {} of acquisitions contended", v.cls->name,
                       options.from_trace ? std::string() : " at " + level_label(v.cls->level), v.contention_percent,
                       ratio(v.cls->counters.contended, v.cls->counters.acquisitions)));
  }
  if (options.from_trace) {
    line("too many locks: judged from the order edges by `smplock levels --infer` (a trace samples no nesting)");
  } else if (a.too_many.empty()) {
    line(fmt::format("too many locks: none (no class is taken inside the same other class {:.0f}% of the time)",
                     100 * options.nested_share));
  } else {
    line(fmt::format("too many locks (taken directly inside the same class >= {:.0f}% of the time; the outer lock "
                     "already serialises them, so fold them into it):", 100 * options.nested_share));
    for (const ClassVerdict& v : a.too_many)
      line(fmt::format("  {} at {} inside {} at {}: {:.1f}% of {} samples", v.cls->name, level_label(v.cls->level),
                       v.usual_parent->name, level_label(v.usual_parent->level), 100 * v.parent_share,
                       v.cls->counters.nest_samples));
  }

  if (!options.from_trace) {
    line("");
    line("per level:");
    for (const LevelStats& l : s.levels) {
      const Counters& c = l.counters;
      if (!options.show_idle && c.acquisitions == 0 && c.contended == 0) continue;
      line(fmt::format("  smplevel[{:02X}] {:<7} classes {:>3}  acquired {:>9}  contended {:>9} {:>7}  wait {:>10} "
                       "({:.3f}%)  max wait {:>10}  irq deferred {:>7}  irq delay {:>10}",
                       to_int(l.level), level_name(l.level), l.classes, format_count(c.acquisitions),
                       format_count(c.contended), ratio(c.contended, c.acquisitions),
                       format_ns(static_cast<double>(c.wait_ns)), s.contention_percent(c),
                       format_ns(static_cast<double>(c.max_wait_ns)), format_count(c.irq_deferred),
                       format_ns(static_cast<double>(c.irq_delay_ns))));
    }
  }

  line("");
  line("every counter, per class:");
  for (const ClassVerdict& v : a.classes) {
    std::string text = options.from_trace ? fmt::format("  {}:", v.cls->name)
                                          : fmt::format("  {} ({}):", v.cls->name, level_label(v.cls->level));
    for (const CounterInfo& info : kCounters)
      if (!options.from_trace || in_trace(info.key)) text += fmt::format(" {}={}", info.key, v.cls->counters.*info.member);
    line(text);
  }
}

void report_text(const Snapshot& s, std::FILE* out, const ReportOptions& options) {
  report_text(s, [out](std::string_view text) { std::fwrite(text.data(), 1, text.size(), out); }, options);
}

}  // namespace smplock::stats
