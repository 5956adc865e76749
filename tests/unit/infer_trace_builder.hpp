// Small hand-written traces for the `levels --infer` tests: a builder that writes the JSON text of
// a trace (schema smplock-trace v1), so each test reads as the lock pattern it plants.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace smplock::infer::testing {

struct TraceBuilder {
  nlohmann::json j;

  explicit TraceBuilder(std::int64_t pid = 100, std::uint64_t wall_ns = 1'000'000'000, unsigned cpus = 2) {
    j = {{"schema", "smplock-trace"}, {"version", 1},     {"program", "/test/prog"}, {"argv", {"prog"}},
         {"pid", pid},                {"ppid", 1},        {"started_unix_ns", 0},   {"wall_ns", wall_ns},
         {"cpus", cpus},              {"threads", 2},     {"classes", nlohmann::json::array()},
         {"edges", nlohmann::json::array()},              {"nesting", nlohmann::json::array()}};
  }

  // Adds a class named `name` (key "symbol:prog:<name>"); returns its id.
  int cls(const std::string& name, const std::string& kind = "mutex", std::uint64_t acquisitions = 100,
          std::uint64_t wait_ns = 0, int id = -1) {
    const int n = id >= 0 ? id : static_cast<int>(j["classes"].size());
    j["classes"].push_back({{"id", n},
                            {"key", "symbol:prog:" + name},
                            {"name", name},
                            {"how", "symbol"},
                            {"kind", kind},
                            {"site", {{"function", "make_" + name}, {"file", "/src/prog.c"}, {"line", 10 + n}, {"object", "/test/prog"}}},
                            {"instances", 1},
                            {"acquisitions", acquisitions},
                            {"contended", wait_ns != 0 ? 1 : 0},
                            {"wait_ns", wait_ns},
                            {"max_wait_ns", wait_ns},
                            {"hold_ns", 0},
                            {"hold_samples", 0},
                            {"contended_sites", nlohmann::json::array()}});
    return n;
  }

  struct Edge {
    int from, to;
    std::uint64_t count = 10;
    std::vector<std::int64_t> threads = {1, 2};
    std::int64_t blocking = -1;  // -1: every occurrence
    std::uint64_t read_read = 0;
    std::vector<int> guards = {};
  };
  TraceBuilder& edge(const Edge& e) {
    j["edges"].push_back({{"from", e.from},
                          {"to", e.to},
                          {"count", e.count},
                          {"blocking", e.blocking < 0 ? e.count : static_cast<std::uint64_t>(e.blocking)},
                          {"read_read", e.read_read},
                          {"threads", e.threads},
                          {"thread_count", e.threads.size()},
                          {"guards", e.guards},
                          {"from_stack", {{{"function", "outer"}, {"file", "/src/prog.c"}, {"line", 40}}}},
                          {"to_stack", {{{"function", "inner"}, {"file", "/src/prog.c"}, {"line", 50}}}}});
    return *this;
  }
  TraceBuilder& nest(int cls, std::uint64_t count, std::uint64_t address_order) {
    j["nesting"].push_back({{"class", cls}, {"count", count}, {"address_order", address_order}, {"threads", {1}},
                            {"stack", {{{"function", "transfer"}, {"file", "/src/prog.c"}, {"line", 60}}}}});
    return *this;
  }
  std::string text() const { return j.dump(); }
};

}  // namespace smplock::infer::testing
