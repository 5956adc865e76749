// The words every form of the answer shares: a frame's short name, a cycle's path and verdict, a
// list of threads, a level.
#include <fmt/format.h>

#include "internal.hpp"

namespace smplock::infer {

std::string describe(const Frame& f) {
  std::string where;
  if (!f.file.empty()) {
    const std::size_t slash = f.file.rfind('/');
    where = slash == std::string::npos ? f.file : f.file.substr(slash + 1);
    if (f.line != 0) where += fmt::format(":{}", f.line);
  }
  if (!f.function.empty()) return where.empty() ? f.function : fmt::format("{} ({})", f.function, where);
  if (!where.empty()) return where;
  std::string object = f.object;
  const std::size_t slash = object.rfind('/');
  if (slash != std::string::npos) object = object.substr(slash + 1);
  if (!object.empty() && !f.pc.empty()) return object + "+" + f.pc;
  if (!object.empty()) return object;
  return f.pc.empty() ? std::string("?") : f.pc;
}

namespace detail {

std::string hex_level(std::uint8_t level) { return fmt::format("0x{:02X}", level); }

std::string cycle_path(const Graph& g, const Cycle& c) {
  std::string out;
  for (std::size_t k : c.classes) out += g.classes[k].name + " -> ";
  return out + g.classes[c.classes.front()].name;
}

std::string thread_list(const Graph& g, const std::vector<Thread>& threads, std::uint64_t count, bool more) {
  const bool pids = g.sources.size() > 1;  // a tid alone is ambiguous across processes
  constexpr std::size_t kShown = 4;
  std::string ids;
  for (std::size_t i = 0; i < threads.size() && i < kShown; ++i)
    ids += (i == 0 ? "" : ", ") +
           (pids ? fmt::format("{}/{}", threads[i].pid, threads[i].tid) : fmt::format("{}", threads[i].tid));
  if (threads.size() > kShown || more) ids += ", ...";
  if (count == 1 && !more) return "thread " + ids;
  return fmt::format("{}{} threads ({})", count, more ? "+" : "", ids.empty() ? "unknown" : ids);
}

std::string cycle_verdict(const Graph& g, const Cycle& c) {
  if (c.real()) return "can deadlock";
  std::vector<std::string> why;
  if (c.one_thread && c.one_thread_processes > 1)
    why.push_back(fmt::format("in each of {} processes every edge seen on one thread only (another thread running "
                              "the same code could deadlock)",
                              c.one_thread_processes));
  else if (c.one_thread)
    why.push_back(fmt::format("every edge seen on thread {} only (another thread running the same code could deadlock)",
                              c.one_thread->tid));
  for (std::size_t k : c.common_guards)
    why.push_back(fmt::format("guarded by {} held across every edge{}", g.classes[k].name,
                              g.classes[k].instances > 1
                                  ? fmt::format(" (it has {} instances: only if the same one)", g.classes[k].instances)
                                  : ""));
  for (std::size_t e : c.trylock_edges)
    why.push_back(fmt::format("{} -> {} was only ever a trylock", g.classes[g.edges[e].from].name,
                              g.classes[g.edges[e].to].name));
  if (c.read_read) why.push_back("every edge is read-read (readers do not wait for readers)");
  std::string out = "cannot deadlock as observed: ";
  for (std::size_t i = 0; i < why.size(); ++i) out += (i == 0 ? "" : "; ") + why[i];
  return out;
}

}  // namespace detail
}  // namespace smplock::infer
