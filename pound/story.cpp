// The story's figures: the steps run in interleaved rounds, each step's figures taken as medians
// over its rounds, the split lock's contention before and after, a verdict per step, and whether
// the machine left room for a fair comparison. Rendering is in story_text.cpp, story_svg.cpp and
// story_json.cpp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "smplock/pound_story.hpp"

namespace smplock::pound {
namespace {

// Fewer samples than this for a class: its own share of waits behind a running holder is too
// rough, so the step's share stands in.
constexpr std::uint64_t kMinClassSamples = 20;

const Step& step_of(LockSetKind k) {
  for (const Step& s : story())
    if (s.locks == k) return s;
  return story().front();
}

const ClassFigure* find_class(const StepFigures& f, std::string_view name) {
  for (const ClassFigure& c : f.classes)
    if (c.name == name) return &c;
  return nullptr;
}

std::string percent(double p) { return p >= 9.995 ? fmt::format("{:.1f}%", p) : fmt::format("{:.2f}%", p); }

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  if (!(in >> one)) return -1;
  return one;
}

}  // namespace

Spread spread_of(std::vector<double> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.low = v.front();
  s.high = v.back();
  const std::size_t n = v.size();
  s.median = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return s;
}

double StepFigures::running_contention(const ClassFigure& c) const {
  if (c.samples() >= kMinClassSamples)
    return c.contention.median * static_cast<double>(c.running) / static_cast<double>(c.samples());
  if (samples() >= kMinClassSamples)
    return c.contention.median * static_cast<double>(running) / static_cast<double>(samples());
  return c.contention.median;
}

std::vector<std::vector<Result>> run_rounds(const Config& config, const std::vector<LockSetKind>& steps,
                                            unsigned rounds, const RoundProgress& progress) {
  std::vector<std::vector<Result>> out(steps.size());
  for (unsigned round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      // Odd rounds run the steps backwards: a step early in one round is late in the next, so a
      // slow patch of the machine that lasts a while does not fall on the same steps every time.
      const std::size_t s = round % 2 == 0 ? i : steps.size() - 1 - i;
      Config c = config;
      c.locks = steps[s];
      Progress p;
      if (progress)
        p = [&, round, s](double done, std::uint64_t ops) { progress(round, rounds, steps[s], done, ops); };
      out[s].push_back(run(c, p));
    }
  }
  return out;
}

std::size_t median_round(const std::vector<Result>& rounds) {
  std::vector<std::size_t> idx(rounds.size());
  for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return rounds[a].ops_per_second() < rounds[b].ops_per_second(); });
  return idx.empty() ? 0 : idx[idx.size() / 2];
}

Story make_story(const Config& config, const std::vector<std::vector<Result>>& results) {
  Story story;
  story.cpus = config.cpus;
  story.seconds_per_round = config.seconds;
  story.user_ns = config.user_ns;
  story.budget_percent = stats::kBudgetPercent;
  story.cpu_model = cpu_model();
  story.processors = std::thread::hardware_concurrency();
  story.load_average = load_average();
  story.seed = config.seed;
  for (const std::vector<Result>& rounds : results) {
    if (rounds.empty()) continue;
    StepFigures f;
    f.locks = rounds.front().locks;
    const Step& step = step_of(f.locks);
    f.name = std::string(lock_set_name(f.locks));
    f.title = step.title;
    f.changed = step.changed;
    f.split = step.split;
    for (const char* c : step.into)
      if (c != nullptr) f.into.emplace_back(c);
    f.rounds = static_cast<unsigned>(rounds.size());
    story.rounds = std::max(story.rounds, f.rounds);
    std::vector<double> ops, total, share, delay, switches;
    // Per class: its contention in every round (0 where a round did not take it).
    std::map<std::string, std::vector<double>> per_class;
    std::map<std::string, unsigned> levels;
    for (std::size_t r = 0; r < rounds.size(); ++r) {
      const Result& res = rounds[r];
      ops.push_back(res.ops_per_second());
      share.push_back(res.cpu_share);
      delay.push_back(res.run_delay_share);
      switches.push_back(static_cast<double>(res.involuntary_switches));
      f.checks += static_cast<unsigned>(res.checks.size());
      f.failures += static_cast<unsigned>(res.failures.size());
      double sum = 0;
      for (const stats::ClassStats& c : res.snapshot.classes) {
        if (c.counters.acquisitions == 0) continue;
        const double p = res.snapshot.contention_percent(c.counters);
        sum += p;
        auto& v = per_class[c.name];
        v.resize(r, 0.0);
        v.push_back(p);
        levels[c.name] = to_int(c.level);
      }
      total.push_back(sum);
    }
    f.ops_per_second = spread_of(ops);
    f.total_contention = spread_of(total);
    f.cpu_share = spread_of(share);
    f.run_delay_share = std::any_of(delay.begin(), delay.end(), [](double d) { return d < 0; })
                            ? Spread{-1, -1, -1}
                            : spread_of(delay);
    f.involuntary_switches = spread_of(switches).median;
    for (auto& [name, v] : per_class) {
      v.resize(rounds.size(), 0.0);
      ClassFigure c;
      c.name = name;
      c.level = levels[name];
      c.contention = spread_of(v);
      for (const Result& res : rounds)
        for (const Result::WaitSamples& w : res.waits_sampled)
          if (w.lock == name) {
            c.running += w.running;
            c.preempted_holder += w.preempted_holder;
            c.waiter_off_cpu += w.waiter_off_cpu;
          }
      f.running += c.running;
      f.preempted_holder += c.preempted_holder;
      f.waiter_off_cpu += c.waiter_off_cpu;
      f.classes.push_back(std::move(c));
    }
    std::stable_sort(f.classes.begin(), f.classes.end(), [](const ClassFigure& a, const ClassFigure& b) {
      return a.contention.median > b.contention.median;
    });
    story.steps.push_back(std::move(f));
  }
  return story;
}

namespace {

// The median over the steps of their median run delay share (-1: unknown).
double median_run_delay(const Story& s) {
  std::vector<double> delays;
  for (const StepFigures& step : s.steps)
    if (step.run_delay_share.median >= 0) delays.push_back(step.run_delay_share.median);
  return delays.empty() ? -1 : spread_of(delays).median;
}

}  // namespace

bool busy(const Story& s) { return median_run_delay(s) > kBusyRunDelay; }

double shown_contention(const Story& s, const StepFigures& step, const ClassFigure& c) {
  return busy(s) ? step.running_contention(c) : c.contention.median;
}

const ClassFigure* top_class(const Story& s, const StepFigures& step) {
  const ClassFigure* top = nullptr;
  for (const ClassFigure& c : step.classes)
    if (top == nullptr || shown_contention(s, step, c) > shown_contention(s, step, *top)) top = &c;
  return top;
}

SplitFigures split_figures(const Story& s, std::size_t i) {
  SplitFigures f;
  if (i == 0 || i >= s.steps.size() || s.steps[i].split.empty()) return f;
  const StepFigures& step = s.steps[i];
  const StepFigures& before = s.steps[i - 1];
  // The split class is a class of the step before this one in the story; a story run with some
  // steps left out compares with whichever step came before it.
  f.present = true;
  f.before_class = step.split;
  if (const ClassFigure* c = find_class(before, step.split); c != nullptr) f.before = shown_contention(s, before, *c);
  if (step.into.empty()) {
    // coarse: GIANT's data went to the whole short list; its most contended lock is where it went.
    if (const ClassFigure* top = top_class(s, step); top != nullptr) {
      f.after_class = top->name;
      f.after = shown_contention(s, step, *top);
    }
    return f;
  }
  for (const std::string& name : step.into) {
    const ClassFigure* c = find_class(step, name);
    const double v = c != nullptr ? shown_contention(s, step, *c) : 0.0;
    if (f.after_class.empty() || v > f.after) {
      f.after_class = name;
      f.after = v;
    }
  }
  return f;
}

namespace {

// How one step's throughput compares with the step before: 1 up, 0 level, -1 down.
int throughput_trend(const StepFigures& now, const StepFigures& before) {
  const double ratio = before.ops_per_second.median > 0 ? now.ops_per_second.median / before.ops_per_second.median : 1;
  if (ratio >= 1.03) return 1;
  if (ratio >= 0.97) return 0;
  // Below, but the rounds overlap: level within what the machine's noise allows.
  if (now.ops_per_second.high >= before.ops_per_second.low) return 0;
  return -1;
}

unsigned classes_over(const Story& s, const StepFigures& step) {
  unsigned n = 0;
  for (const ClassFigure& c : step.classes) n += shown_contention(s, step, c) > s.budget_percent;
  return n;
}

}  // namespace

std::string verdict(const Story& s, std::size_t i) {
  const StepFigures& step = s.steps[i];
  if (step.failures != 0) return fmt::format("{} of the end-of-run checks FAILED", step.failures);
  const ClassFigure* top = top_class(s, step);
  if (i == 0 || step.split.empty()) {
    if (top == nullptr) return "no lock was taken";
    return fmt::format("{} holds the CPUs up {} of their time: {}", top->name,
                       percent(shown_contention(s, step, *top)),
                       shown_contention(s, step, *top) > s.budget_percent ? "the lock to split"
                                                                         : "within the budget already");
  }
  const StepFigures& before = s.steps[i - 1];
  const SplitFigures sp = split_figures(s, i);
  const double ratio =
      before.ops_per_second.median > 0 ? step.ops_per_second.median / before.ops_per_second.median : 0;
  const int trend = throughput_trend(step, before);
  // Coarse spreads GIANT's data over the whole short list: its top lock is the next one to split,
  // over the budget or not (the seed's first list had the pool and thread-state locks on top).
  std::string line = step.into.empty()
                         ? fmt::format("{} {} -> the short list, {} on top at {}", sp.before_class, percent(sp.before),
                                       sp.after_class, percent(sp.after))
                         : fmt::format("{} {} -> {}{}", sp.before_class, percent(sp.before), percent(sp.after),
                                       sp.after <= s.budget_percent ? " (under budget)" : " (over budget)");
  line += fmt::format("; {:.2f}x {} ({})", ratio, before.name,
                      trend > 0 ? "faster" : trend == 0 ? "level" : "slower");
  if (i + 1 == s.steps.size() && step.locks == LockSetKind::Ozone) {
    const unsigned over = classes_over(s, step);
    line += over == 0 ? "; every class under 1%" : fmt::format("; {} class{} over 1%", over, over == 1 ? "" : "es");
  }
  return line;
}

bool story_holds(const Story& s, std::string* why, bool judge_throughput) {
  std::string out;
  for (std::size_t i = 1; i < s.steps.size(); ++i) {
    const StepFigures& step = s.steps[i];
    const SplitFigures sp = split_figures(s, i);
    if (step.failures != 0) out += fmt::format("{}: checks failed; ", step.name);
    if (sp.present && !step.into.empty() && sp.after > s.budget_percent)
      out += fmt::format("{}: {} still {}; ", step.name, sp.after_class, percent(sp.after));
    if (judge_throughput && throughput_trend(step, s.steps[i - 1]) < 0) out += fmt::format("{}: slower than {}; ", step.name, s.steps[i - 1].name);
  }
  if (!s.steps.empty() && s.steps.back().locks == LockSetKind::Ozone) {
    const StepFigures& last = s.steps.back();
    for (const ClassFigure& c : last.classes)
      if (shown_contention(s, last, c) > s.budget_percent)
        out += fmt::format("{}: {} at {}; ", last.name, c.name, percent(shown_contention(s, last, c)));
  }
  if (!out.empty()) out.resize(out.size() - 2);
  if (why != nullptr) *why = out;
  return out.empty();
}

Fairness fairness(const Story& s) {
  Fairness f;
  std::vector<double> delays;
  for (const StepFigures& step : s.steps)
    if (step.run_delay_share.median >= 0) delays.push_back(step.run_delay_share.median);
  if (delays.empty()) {
    f.run_delay = -1;
    f.line = "the machine's share: unknown (no /proc/thread-self/schedstat here)";
    return f;
  }
  const Spread d = spread_of(delays);
  f.run_delay = d.median;
  std::uint64_t running = 0, preempted = 0, off = 0;
  for (const StepFigures& step : s.steps) {
    running += step.running;
    preempted += step.preempted_holder;
    off += step.waiter_off_cpu;
  }
  const double all = static_cast<double>(running + preempted + off);
  const std::string waits =
      all > 0 ? fmt::format("sampled waits: {:.0f}% behind a running holder, {:.0f}% behind a preempted one, "
                            "{:.0f}% waiter preempted",
                            100.0 * static_cast<double>(running) / all, 100.0 * static_cast<double>(preempted) / all,
                            100.0 * static_cast<double>(off) / all)
              : std::string("no waits sampled");
  const std::string load = s.load_average >= 0 ? fmt::format("; load {:.2f}", s.load_average) : "";
  f.line = fmt::format("the machine took {:.1f}% of the CPU threads' time (run delay; {:.1f}-{:.1f}% by step{})\n{}",
                       100 * d.median, 100 * d.low, 100 * d.high, load, waits);
  if (d.median > kUnfairRunDelay) {
    f.fair = false;
    f.line += fmt::format(
        "\nNOT A FAIR RUN: other programs took {:.0f}% of the processors' time; the contention above is\n"
        "behind running holders only, the throughput is not comparable. For a fair run: stop other work\n"
        "(load average under {} here), or run it in its own autogroup at nice -20 (docs/pound.md).",
        100 * d.median, s.processors > 1 ? s.processors - 1 : 1);
  } else if (d.median > kBusyRunDelay) {
    f.line += "\ncontention shown behind running holders only (the seed's contention); --json has both";
  }
  return f;
}

}  // namespace smplock::pound
