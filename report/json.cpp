// The JSON form of a snapshot (schema "smplock-stats", version 1; every field is explained in
// docs/stats.md). Counter keys come from the counter list, so a new counter appears here by itself.
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

using nlohmann::json;

json counters_json(const Counters& c) {
  json j = json::object();
  for (const CounterInfo& info : kCounters) j[info.key] = c.*info.member;
  return j;
}

// --- reading, with a path in every complaint ---------------------------------------------------

[[noreturn]] void fail(const std::string& path, std::string_view what) {
  throw JsonError(fmt::format("{}: {}", path.empty() ? "(top)" : path, what));
}

const json& field(const json& obj, const char* key, const std::string& path) {
  if (!obj.is_object()) fail(path, "not an object");
  auto it = obj.find(key);
  if (it == obj.end()) fail(path.empty() ? key : path + "." + key, "missing");
  return *it;
}

std::uint64_t unsigned_field(const json& obj, const char* key, const std::string& path) {
  const json& v = field(obj, key, path);
  if (!v.is_number_unsigned()) fail(path.empty() ? key : path + "." + key, "not an unsigned integer");
  return v.get<std::uint64_t>();
}

std::string string_field(const json& obj, const char* key, const std::string& path) {
  const json& v = field(obj, key, path);
  if (!v.is_string()) fail(path + "." + key, "not a string");
  return v.get<std::string>();
}

Level level_field(const json& obj, const char* key, const std::string& path) {
  const std::uint64_t v = unsigned_field(obj, key, path);
  if (v > 0xFF) fail(path + "." + key, "not a level (0-255)");
  return static_cast<Level>(v);
}

const json& array_field(const json& obj, const char* key, const std::string& path) {
  const json& v = field(obj, key, path);
  if (!v.is_array()) fail(path.empty() ? key : path + "." + key, "not an array");
  return v;
}

Counters read_counters(const json& obj, const std::string& path) {
  Counters c;
  const json& j = field(obj, "counters", path);
  for (const CounterInfo& info : kCounters) {
    // same_class came after version 1's first files: a file written before it has none, which is 0.
    if (std::string_view(info.key) == "same_class" && j.is_object() && !j.contains(info.key)) continue;
    c.*info.member = unsigned_field(j, info.key, path + ".counters");
  }
  return c;
}

}  // namespace

std::string to_json(const Snapshot& s, int indent) {
  json j;
  j["schema"] = kJsonSchema;
  j["version"] = kJsonVersion;
  j["window"] = {{"start_ns", s.start_ns}, {"end_ns", s.end_ns}, {"ns", s.window_ns()}};
  j["cpus"] = s.cpus;
  j["processors"] = s.processors;
  j["hold_timing"] = s.hold_timing;
  j["nest_sample_period"] = s.nest_sample_period;
  j["budget_percent"] = kBudgetPercent;
  json classes = json::array();
  for (const ClassStats& c : s.classes) {
    json sites = json::array();
    for (const CallSite& site : c.call_sites)
      sites.push_back({{"pc", site.pc}, {"count", site.count}, {"function", site.function}, {"file", site.file},
                       {"line", site.line}});
    json parents = json::array();
    for (const Parent& p : c.parents)
      parents.push_back({{"name", p.name}, {"level", to_int(p.level)}, {"samples", p.samples}});
    classes.push_back({{"id", c.id},
                       {"name", c.name},
                       {"level", to_int(c.level)},
                       {"level_name", std::string(level_name(c.level))},
                       {"contention_percent", s.contention_percent(c.counters)},
                       {"counters", counters_json(c.counters)},
                       {"call_sites", std::move(sites)},
                       {"other_sites", c.other_sites},
                       {"parents", std::move(parents)}});
  }
  j["classes"] = std::move(classes);
  json levels = json::array();
  for (const LevelStats& l : s.levels)
    levels.push_back({{"level", to_int(l.level)},
                      {"level_name", std::string(level_name(l.level))},
                      {"classes", l.classes},
                      {"contention_percent", s.contention_percent(l.counters)},
                      {"counters", counters_json(l.counters)}});
  j["levels"] = std::move(levels);
  return j.dump(indent);
}

namespace {

json parse(std::string_view text) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw JsonError(fmt::format("not JSON: {}", e.what()));
  }
}

Snapshot read_snapshot(const json& j) {
  const std::string top;
  if (!j.is_object()) fail(top, "not an object");
  if (string_field(j, "schema", top) != kJsonSchema)
    fail("schema", fmt::format("expected \"{}\"", kJsonSchema));
  if (const std::uint64_t v = unsigned_field(j, "version", top); v != static_cast<std::uint64_t>(kJsonVersion))
    fail("version", fmt::format("version {} is not supported (this build reads version {})", v, kJsonVersion));
  Snapshot s;
  const json& window = field(j, "window", top);
  s.start_ns = unsigned_field(window, "start_ns", "window");
  s.end_ns = unsigned_field(window, "end_ns", "window");
  if (s.end_ns < s.start_ns) fail("window", "end_ns before start_ns");
  s.cpus = static_cast<unsigned>(unsigned_field(j, "cpus", top));
  s.processors = static_cast<unsigned>(unsigned_field(j, "processors", top));
  const json& timing = field(j, "hold_timing", top);
  if (!timing.is_boolean()) fail("hold_timing", "not a boolean");
  s.hold_timing = timing.get<bool>();
  s.nest_sample_period = unsigned_field(j, "nest_sample_period", top);
  const json& classes = array_field(j, "classes", top);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const std::string path = fmt::format("classes[{}]", i);
    const json& jc = classes[i];
    ClassStats c;
    c.id = static_cast<unsigned>(unsigned_field(jc, "id", path));
    c.name = string_field(jc, "name", path);
    c.level = level_field(jc, "level", path);
    c.counters = read_counters(jc, path);
    const json& sites = array_field(jc, "call_sites", path);
    for (std::size_t k = 0; k < sites.size(); ++k) {
      const std::string sp = fmt::format("{}.call_sites[{}]", path, k);
      c.call_sites.push_back(CallSite{unsigned_field(sites[k], "pc", sp), unsigned_field(sites[k], "count", sp),
                                      string_field(sites[k], "function", sp), string_field(sites[k], "file", sp),
                                      static_cast<unsigned>(unsigned_field(sites[k], "line", sp))});
    }
    c.other_sites = unsigned_field(jc, "other_sites", path);
    const json& parents = array_field(jc, "parents", path);
    for (std::size_t k = 0; k < parents.size(); ++k) {
      const std::string pp = fmt::format("{}.parents[{}]", path, k);
      c.parents.push_back(Parent{string_field(parents[k], "name", pp), level_field(parents[k], "level", pp),
                                 unsigned_field(parents[k], "samples", pp)});
    }
    s.classes.push_back(std::move(c));
  }
  // No CPU took a lock only when nothing was counted; a zero beside counts would divide the
  // contention by one CPU's time instead of refusing the file.
  if (s.cpus == 0)
    for (std::size_t i = 0; i < s.classes.size(); ++i)
      for (const CounterInfo& info : kCounters)
        if (s.classes[i].counters.*info.member != 0)
          fail("cpus", fmt::format("0, but classes[{}] ({}) counted {}: a report with lock activity has at least "
                                   "1 CPU", i, s.classes[i].name, info.key));
  const json& levels = array_field(j, "levels", top);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const std::string path = fmt::format("levels[{}]", i);
    LevelStats l;
    l.level = level_field(levels[i], "level", path);
    l.classes = static_cast<unsigned>(unsigned_field(levels[i], "classes", path));
    l.counters = read_counters(levels[i], path);
    s.levels.push_back(l);
  }
  return s;
}

}  // namespace

Snapshot from_json(std::string_view text) { return read_snapshot(parse(text)); }

std::vector<NamedSnapshot> snapshots_from_json(std::string_view text) {
  const json j = parse(text);
  if (!j.is_object()) fail("", "not an object");
  const auto schema = j.find("schema");
  if (schema != j.end() && *schema == kJsonSchema) return {NamedSnapshot{"", read_snapshot(j)}};
  const auto sets = j.find("sets");
  if (sets == j.end() || !sets->is_array())
    fail("schema", fmt::format("expected \"{}\" (or a file with a \"sets\" array of them, or a `smplock record` "
                               "trace, \"{}\")", kJsonSchema, kTraceSchema));
  std::vector<NamedSnapshot> out;
  for (std::size_t i = 0; i < sets->size(); ++i) {
    const std::string path = fmt::format("sets[{}]", i);
    const json& set = (*sets)[i];
    NamedSnapshot n;
    const auto name = set.is_object() ? set.find("locks") : set.end();
    n.name = name != set.end() && name->is_string() ? name->get<std::string>() : fmt::format("set {}", i + 1);
    try {
      n.snapshot = read_snapshot(field(set, "stats", path));
    } catch (const JsonError& e) {
      const std::string what = e.what();
      throw JsonError(what.rfind("(top)", 0) == 0 ? path + ".stats" + what.substr(5) : path + ".stats." + what);
    }
    out.push_back(std::move(n));
  }
  if (out.empty()) fail("sets", "empty");
  return out;
}

void report_json(const Snapshot& s, std::FILE* out) {
  const std::string text = to_json(s);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fputc('\n', out);
}

}  // namespace smplock::stats
