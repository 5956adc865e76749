// The story on a screen: a header, one row per step (what it split, that lock's contention before
// and after, the top lock, throughput with its spread over the rounds, what the machine took), a
// verdict per step, whether the story holds, and how fair the run was. Every line fits 100 columns.
#include <fmt/format.h>

#include "smplock/pound_story.hpp"

namespace smplock::pound {
namespace {

std::string percent(double p) { return p >= 9.995 ? fmt::format("{:.1f}%", p) : fmt::format("{:.2f}%", p); }

std::string mops(double v) { return fmt::format("{:.2f}", v / 1e6); }

// "TS -> PS TF EV TP TC", "GIANT -> short list".
std::string what_split(const StepFigures& f) {
  if (f.split.empty()) return "-";
  std::string into;
  if (f.into.empty()) into = "short list";
  if (f.locks == LockSetKind::Pool) into = "npp";
  for (const std::string& c : f.into) {
    if (f.locks == LockSetKind::Pool) break;
    if (!into.empty()) into += ' ';
    into += c;
  }
  return f.split + " -> " + into;
}

std::string cut(std::string s, std::size_t width) {
  if (s.size() > width) s = s.substr(0, width - 1) + "~";
  return s;
}

}  // namespace

std::string story_header(const Story& s) {
  std::string out = fmt::format("smplock pound: the seed's story in {} step{}, {} CPU{}, {} round{} of {:.3g} s a step, seed {}\n",
                                s.steps.size(), s.steps.size() == 1 ? "" : "s", s.cpus, s.cpus == 1 ? "" : "s",
                                s.rounds, s.rounds == 1 ? "" : "s", s.seconds_per_round, s.seed);
  out += fmt::format("user mode: {:.0f} ns after each system call; machine: {}, {} processors\n",
                     s.user_ns, cut(s.cpu_model, 40), s.processors);
  return out;
}

std::string story_text(const Story& s, bool header) {
  std::string out;
  if (header) out += story_header(s);
  const bool sorted = busy(s);
  const char* mark = sorted ? "*" : "";
  out += fmt::format("\n{:<8} {:<20} {:<24} {:<14} {:<17} {:>6}\n", "step", "what it split",
                     fmt::format("split: before -> after{}", mark), fmt::format("top lock{}", mark),
                     "Mops/s (rounds)", "lost");
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepFigures& f = s.steps[i];
    const SplitFigures sp = split_figures(s, i);
    const std::string split =
        sp.present ? fmt::format("{} {} -> {} {}", sp.before_class, percent(sp.before), percent(sp.after), sp.after_class)
                   : std::string("-");
    const ClassFigure* top = top_class(s, f);
    const std::string top_text = top != nullptr ? fmt::format("{:<6} {:>7}", cut(top->name, 6),
                                                              percent(shown_contention(s, f, *top)))
                                                : std::string("-");
    const std::string ops = fmt::format("{} ({}-{})", mops(f.ops_per_second.median), mops(f.ops_per_second.low),
                                        mops(f.ops_per_second.high));
    const std::string lost =
        f.run_delay_share.median >= 0 ? fmt::format("{:.1f}%", 100 * f.run_delay_share.median) : std::string("?");
    out += fmt::format("{:<8} {:<20} {:<24} {:<14} {:<17} {:>6}\n", cut(f.name, 8), cut(what_split(f), 20),
                       cut(split, 24), top_text, cut(ops, 17), lost);
  }
  out += fmt::format("(contention in % of CPU time, medians of the rounds; budget {:.0f}% per lock; lost: time the\n"
                     " CPU threads waited for a processor)\n",
                     s.budget_percent);
  out += "\n";
  for (std::size_t i = 0; i < s.steps.size(); ++i)
    out += fmt::format("{:<8} {}\n", cut(s.steps[i].name, 8), cut(verdict(s, i), 91));
  std::string why;
  const Fairness fair = fairness(s);
  if (s.steps.size() > 1) {
    if (!fair.fair) {
      // Throughput on an unfair run says more about the machine than about the locks.
      out += story_holds(s, &why, /*judge_throughput=*/false)
                 ? "in contention behind running holders the story holds (throughput not judged: unfair run)\n"
                 : "in contention behind running holders, out of order: " + cut(why, 48) + "\n";
    } else if (story_holds(s, &why)) {
      out += "the story holds: each split lock falls under the budget and throughput rises or stays level\n";
    } else {
      out += "out of order: " + cut(why, 86) + "\n";
    }
  }
  out += "\n" + fair.line + "\n";
  return out;
}

}  // namespace smplock::pound
