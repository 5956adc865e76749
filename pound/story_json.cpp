// The story in a `smplock pound --json` file: the "story" object (every step's figures over its
// rounds), written by story_to_json() and read back by story_from_json() for `smplock report`.
// Field names follow the C++ names in smplock/pound_story.hpp; docs/pound.md lists them.
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smplock/pound_story.hpp"

namespace smplock::pound {
namespace {

using nlohmann::json;

json spread_json(const Spread& s) { return {{"median", s.median}, {"low", s.low}, {"high", s.high}}; }

[[noreturn]] void fail(const std::string& path, const char* what) {
  throw std::runtime_error(fmt::format("story: {}: {}", path, what));
}

const json& at(const json& j, const char* key, const std::string& path) {
  if (!j.is_object()) fail(path, "not an object");
  const auto it = j.find(key);
  if (it == j.end()) fail(path + "." + key, "missing");
  return *it;
}

double number(const json& j, const char* key, const std::string& path) {
  const json& v = at(j, key, path);
  if (!v.is_number()) fail(path + "." + key, "not a number");
  return v.get<double>();
}

std::uint64_t count(const json& j, const char* key, const std::string& path) {
  const json& v = at(j, key, path);
  if (!v.is_number_unsigned()) fail(path + "." + key, "not an unsigned integer");
  return v.get<std::uint64_t>();
}

std::string text(const json& j, const char* key, const std::string& path) {
  const json& v = at(j, key, path);
  if (!v.is_string()) fail(path + "." + key, "not a string");
  return v.get<std::string>();
}

Spread spread(const json& j, const char* key, const std::string& path) {
  const json& v = at(j, key, path);
  const std::string p = path + "." + key;
  return {number(v, "median", p), number(v, "low", p), number(v, "high", p)};
}

}  // namespace

std::string story_to_json(const Story& s) {
  json j;
  j["cpus"] = s.cpus;
  j["rounds"] = s.rounds;
  j["seconds_per_round"] = s.seconds_per_round;
  j["user_ns"] = s.user_ns;
  j["budget_percent"] = s.budget_percent;
  j["cpu_model"] = s.cpu_model;
  j["processors"] = s.processors;
  j["load_average"] = s.load_average;
  j["seed"] = s.seed;
  j["busy"] = busy(s);
  std::string why;
  const Fairness fair = fairness(s);
  // On an unfair run only the contention is judged (as the screen says).
  j["holds"] = story_holds(s, &why, fair.fair);
  j["out_of_order"] = why;
  j["fair"] = fair.fair;
  j["run_delay_share"] = fair.run_delay;
  json steps = json::array();
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const StepFigures& f = s.steps[i];
    json classes = json::array();
    for (const ClassFigure& c : f.classes)
      classes.push_back({{"name", c.name},
                         {"level", c.level},
                         {"contention", spread_json(c.contention)},
                         {"running_contention", f.running_contention(c)},
                         {"waits_sampled",
                          {{"running", c.running}, {"preempted_holder", c.preempted_holder},
                           {"waiter_off_cpu", c.waiter_off_cpu}}}});
    const SplitFigures sp = split_figures(s, i);
    steps.push_back({{"name", f.name},
                     {"title", f.title},
                     {"changed", f.changed},
                     {"split", f.split},
                     {"into", f.into},
                     {"rounds", f.rounds},
                     {"ops_per_second", spread_json(f.ops_per_second)},
                     {"total_contention", spread_json(f.total_contention)},
                     {"cpu_share", spread_json(f.cpu_share)},
                     {"run_delay_share", spread_json(f.run_delay_share)},
                     {"involuntary_switches", f.involuntary_switches},
                     {"checks", f.checks},
                     {"failures", f.failures},
                     {"waits_sampled",
                      {{"running", f.running}, {"preempted_holder", f.preempted_holder},
                       {"waiter_off_cpu", f.waiter_off_cpu}}},
                     {"split_before", sp.present ? json(sp.before) : json(nullptr)},
                     {"split_after", sp.present ? json(sp.after) : json(nullptr)},
                     {"split_after_class", sp.after_class},
                     {"verdict", verdict(s, i)},
                     {"classes", classes}});
  }
  j["steps"] = steps;
  return j.dump(2);
}

bool has_story(std::string_view pound_file) {
  const json j = json::parse(pound_file, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("story") && j["story"].is_object();
}

Story story_from_json(std::string_view pound_file) {
  json doc;
  try {
    doc = json::parse(pound_file);
  } catch (const json::parse_error& e) {
    throw std::runtime_error(fmt::format("not JSON: {}", e.what()));
  }
  const json& j = at(doc, "story", "(top)");
  Story s;
  const std::string p = "story";
  s.cpus = static_cast<unsigned>(count(j, "cpus", p));
  s.rounds = static_cast<unsigned>(count(j, "rounds", p));
  s.seconds_per_round = number(j, "seconds_per_round", p);
  s.user_ns = number(j, "user_ns", p);
  s.budget_percent = number(j, "budget_percent", p);
  s.cpu_model = text(j, "cpu_model", p);
  s.processors = static_cast<unsigned>(count(j, "processors", p));
  s.load_average = number(j, "load_average", p);
  s.seed = count(j, "seed", p);
  const json& steps = at(j, "steps", p);
  if (!steps.is_array()) fail(p + ".steps", "not an array");
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string sp = fmt::format("{}.steps[{}]", p, i);
    const json& js = steps[i];
    StepFigures f;
    f.name = text(js, "name", sp);
    const auto kind = parse_lock_set(f.name);
    if (!kind) fail(sp + ".name", "not a step of the story");
    f.locks = *kind;
    f.title = text(js, "title", sp);
    f.changed = text(js, "changed", sp);
    f.split = text(js, "split", sp);
    for (const json& c : at(js, "into", sp)) f.into.push_back(c.is_string() ? c.get<std::string>() : "");
    f.rounds = static_cast<unsigned>(count(js, "rounds", sp));
    f.ops_per_second = spread(js, "ops_per_second", sp);
    f.total_contention = spread(js, "total_contention", sp);
    f.cpu_share = spread(js, "cpu_share", sp);
    f.run_delay_share = spread(js, "run_delay_share", sp);
    f.involuntary_switches = number(js, "involuntary_switches", sp);
    f.checks = static_cast<unsigned>(count(js, "checks", sp));
    f.failures = static_cast<unsigned>(count(js, "failures", sp));
    const json& w = at(js, "waits_sampled", sp);
    f.running = count(w, "running", sp + ".waits_sampled");
    f.preempted_holder = count(w, "preempted_holder", sp + ".waits_sampled");
    f.waiter_off_cpu = count(w, "waiter_off_cpu", sp + ".waits_sampled");
    const json& classes = at(js, "classes", sp);
    if (!classes.is_array()) fail(sp + ".classes", "not an array");
    for (std::size_t k = 0; k < classes.size(); ++k) {
      const std::string cp = fmt::format("{}.classes[{}]", sp, k);
      ClassFigure c;
      c.name = text(classes[k], "name", cp);
      c.level = static_cast<unsigned>(count(classes[k], "level", cp));
      c.contention = spread(classes[k], "contention", cp);
      const json& cw = at(classes[k], "waits_sampled", cp);
      c.running = count(cw, "running", cp + ".waits_sampled");
      c.preempted_holder = count(cw, "preempted_holder", cp + ".waits_sampled");
      c.waiter_off_cpu = count(cw, "waiter_off_cpu", cp + ".waits_sampled");
      f.classes.push_back(std::move(c));
    }
    s.steps.push_back(std::move(f));
  }
  return s;
}

}  // namespace smplock::pound
