// Reading one trace file (schema "smplock-trace", version 1). Every complaint names the file and
// the place inside it, so a person can find what is wrong without reading this code. Class ids are
// only unique within one file; they become indices into Graph::classes here.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smplock/infer.hpp"

namespace smplock::infer {
namespace {

using nlohmann::json;

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}

  [[noreturn]] void fail(const std::string& path, std::string_view what) const {
    throw TraceError(fmt::format("{}: {}: {}", source_, path.empty() ? "(top)" : path, what));
  }

  static std::string at(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  const json* optional(const json& obj, const char* key, const std::string& path) const {
    if (!obj.is_object()) fail(path, "not an object");
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }

  const json& field(const json& obj, const char* key, const std::string& path) const {
    const json* v = optional(obj, key, path);
    if (v == nullptr) fail(at(path, key), "missing");
    return *v;
  }

  std::uint64_t to_unsigned(const json& v, const std::string& path) const {
    if (!v.is_number_unsigned()) fail(path, "not an unsigned integer");
    return v.get<std::uint64_t>();
  }

  std::uint64_t unsigned_field(const json& obj, const char* key, const std::string& path) const {
    return to_unsigned(field(obj, key, path), at(path, key));
  }

  std::uint64_t unsigned_or(const json& obj, const char* key, const std::string& path, std::uint64_t dflt) const {
    const json* v = optional(obj, key, path);
    return v == nullptr ? dflt : to_unsigned(*v, at(path, key));
  }

  std::int64_t signed_or(const json& obj, const char* key, const std::string& path, std::int64_t dflt) const {
    const json* v = optional(obj, key, path);
    if (v == nullptr) return dflt;
    if (!v->is_number_integer()) fail(at(path, key), "not an integer");
    return v->get<std::int64_t>();
  }

  std::string string_or(const json& obj, const char* key, const std::string& path, std::string dflt = {}) const {
    const json* v = optional(obj, key, path);
    if (v == nullptr) return dflt;
    if (!v->is_string()) fail(at(path, key), "not a string");
    return v->get<std::string>();
  }

  std::string string_field(const json& obj, const char* key, const std::string& path) const {
    const json& v = field(obj, key, path);
    if (!v.is_string()) fail(at(path, key), "not a string");
    return v.get<std::string>();
  }

  const json& array_field(const json& obj, const char* key, const std::string& path) const {
    const json& v = field(obj, key, path);
    if (!v.is_array()) fail(at(path, key), "not an array");
    return v;
  }

  Frame frame(const json& j, const std::string& path) const {
    if (!j.is_object()) fail(path, "not a frame object");
    Frame f;
    f.function = string_or(j, "function", path);
    f.file = string_or(j, "file", path);
    const std::uint64_t line = unsigned_or(j, "line", path, 0);
    if (line > UINT32_MAX) fail(at(path, "line"), "too large");
    f.line = static_cast<std::uint32_t>(line);
    f.object = string_or(j, "object", path);
    // A pc may come as "0x..." text or as a number; either is kept as text.
    if (const json* pc = optional(j, "pc", path)) f.pc = pc->is_string() ? pc->get<std::string>() : pc->dump();
    return f;
  }

  Stack stack(const json& obj, const char* key, const std::string& path) const {
    Stack s;
    const json* v = optional(obj, key, path);
    if (v == nullptr) return s;
    if (!v->is_array()) fail(at(path, key), "not an array");
    for (std::size_t i = 0; i < v->size(); ++i) s.push_back(frame((*v)[i], fmt::format("{}[{}]", at(path, key), i)));
    return s;
  }

  std::vector<Thread> threads(const json& obj, std::int64_t pid, const std::string& path) const {
    std::set<Thread> out;
    const json* v = optional(obj, "threads", path);
    if (v == nullptr) return {};
    if (!v->is_array()) fail(at(path, "threads"), "not an array");
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& t = (*v)[i];
      if (!t.is_number_integer()) fail(fmt::format("{}.threads[{}]", path, i), "not a thread id");
      out.insert(Thread{pid, t.get<std::int64_t>()});
    }
    return {out.begin(), out.end()};
  }

 private:
  std::string source_;
};

}  // namespace

Graph read_trace(std::string_view text, const std::string& source) {
  const Reader r(source);
  json top;
  try {
    top = json::parse(text);
  } catch (const json::parse_error& e) {
    throw TraceError(fmt::format("{}: not JSON ({})", source, e.what()));
  }
  if (!top.is_object()) r.fail("", "not a JSON object (a trace is one object)");
  const std::string schema = r.string_or(top, "schema", "");
  if (schema != kTraceSchema)
    r.fail("schema", schema.empty() ? fmt::format("missing: not a smplock trace (\"schema\": \"{}\")", kTraceSchema)
                                    : fmt::format("\"{}\", not \"{}\"", schema, kTraceSchema));
  const std::uint64_t version = r.unsigned_field(top, "version", "");
  if (version != static_cast<std::uint64_t>(kTraceVersion))
    r.fail("version", fmt::format("{} is not a version this smplock reads (it reads {})", version, kTraceVersion));

  Graph g;
  Source s;
  s.path = source;
  s.program = r.string_or(top, "program", "");
  if (const json* argv = r.optional(top, "argv", "")) {
    if (!argv->is_array()) r.fail("argv", "not an array");
    for (std::size_t i = 0; i < argv->size(); ++i) {
      if (!(*argv)[i].is_string()) r.fail(fmt::format("argv[{}]", i), "not a string");
      s.argv.push_back((*argv)[i].get<std::string>());
    }
  }
  s.pid = r.signed_or(top, "pid", "", 0);
  s.ppid = r.signed_or(top, "ppid", "", 0);
  s.started_unix_ns = r.unsigned_or(top, "started_unix_ns", "", 0);
  s.wall_ns = r.unsigned_field(top, "wall_ns", "");
  const std::uint64_t cpus = r.unsigned_or(top, "cpus", "", 1);
  s.cpus = static_cast<std::uint32_t>(cpus == 0 ? 1 : std::min<std::uint64_t>(cpus, UINT32_MAX));
  s.threads = r.unsigned_or(top, "threads", "", 0);
  if (const json* u = r.optional(top, "unknown_pids", "")) {
    if (!u->is_array()) r.fail("unknown_pids", "not an array");
    for (const json& p : *u)
      if (p.is_number_integer()) s.unknown_pids.push_back(p.get<std::int64_t>());
  }

  // Classes: "id" is the name edges use; the index in the array is the name in the Graph.
  std::map<std::uint64_t, std::size_t> index;
  const json& classes = r.array_field(top, "classes", "");
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const std::string p = fmt::format("classes[{}]", i);
    const json& c = classes[i];
    if (!c.is_object()) r.fail(p, "not an object");
    const std::uint64_t id = r.unsigned_or(c, "id", p, i);
    if (!index.emplace(id, i).second) r.fail(p + ".id", fmt::format("{} appears twice", id));
    ClassInfo k;
    k.key = r.string_field(c, "key", p);
    if (k.key.empty()) r.fail(p + ".key", "empty");
    k.name = r.string_or(c, "name", p, k.key);
    if (k.name.empty()) k.name = k.key;
    k.how = r.string_or(c, "how", p);
    k.kind = r.string_or(c, "kind", p, "mutex");
    if (const json* site = r.optional(c, "site", p)) k.site = r.frame(*site, p + ".site");
    k.instances = r.unsigned_or(c, "instances", p, 1);
    k.acquisitions = r.unsigned_or(c, "acquisitions", p, 0);
    k.contended = r.unsigned_or(c, "contended", p, 0);
    k.wait_ns = r.unsigned_or(c, "wait_ns", p, 0);
    k.max_wait_ns = r.unsigned_or(c, "max_wait_ns", p, 0);
    k.hold_ns = r.unsigned_or(c, "hold_ns", p, 0);
    k.hold_samples = r.unsigned_or(c, "hold_samples", p, 0);
    if (const json* sites = r.optional(c, "contended_sites", p)) {
      if (!sites->is_array()) r.fail(p + ".contended_sites", "not an array");
      for (std::size_t j = 0; j < sites->size(); ++j) {
        const std::string sp = fmt::format("{}.contended_sites[{}]", p, j);
        k.contended_sites.push_back(SiteCount{r.frame(r.field((*sites)[j], "frame", sp), sp + ".frame"),
                                              r.unsigned_or((*sites)[j], "count", sp, 0)});
      }
    }
    g.classes.push_back(std::move(k));
  }
  const auto class_ref = [&](const json& v, const std::string& path) {
    const std::uint64_t id = r.to_unsigned(v, path);
    auto it = index.find(id);
    if (it == index.end()) r.fail(path, fmt::format("class {} does not exist", id));
    return it->second;
  };

  const json& edges = r.array_field(top, "edges", "");
  for (std::size_t i = 0; i < edges.size(); ++i) {
    const std::string p = fmt::format("edges[{}]", i);
    const json& e = edges[i];
    if (!e.is_object()) r.fail(p, "not an object");
    EdgeInfo x;
    x.from = class_ref(r.field(e, "from", p), p + ".from");
    x.to = class_ref(r.field(e, "to", p), p + ".to");
    x.count = r.unsigned_field(e, "count", p);
    x.blocking = r.unsigned_or(e, "blocking", p, x.count);
    x.read_read = r.unsigned_or(e, "read_read", p, 0);
    if (x.blocking > x.count) r.fail(p + ".blocking", "more than count");
    if (x.read_read > x.count) r.fail(p + ".read_read", "more than count");
    x.threads = r.threads(e, s.pid, p);
    // thread_count is exact up to 16; past that a trace may write 16 with more threads unknown,
    // or the text "16+".
    if (const json* tc = r.optional(e, "thread_count", p)) {
      if (tc->is_string()) {
        const std::string t = tc->get<std::string>();
        x.thread_count = std::strtoull(t.c_str(), nullptr, 10);
        x.more_threads = t.find('+') != std::string::npos;
      } else {
        x.thread_count = r.to_unsigned(*tc, p + ".thread_count");
      }
    } else {
      x.thread_count = x.threads.size();
    }
    if (x.thread_count < x.threads.size()) x.thread_count = x.threads.size();
    // Threads past those listed cannot be compared with another edge's: they are unknown.
    if (x.thread_count > x.threads.size()) x.more_threads = true;
    if (const json* gs = r.optional(e, "guards", p)) {
      if (!gs->is_array()) r.fail(p + ".guards", "not an array");
      std::set<std::size_t> guards;
      for (std::size_t j = 0; j < gs->size(); ++j) guards.insert(class_ref((*gs)[j], fmt::format("{}.guards[{}]", p, j)));
      x.guards.assign(guards.begin(), guards.end());
    }
    x.from_stack = r.stack(e, "from_stack", p);
    x.to_stack = r.stack(e, "to_stack", p);
    if (x.from == x.to) {
      // Two instances of one class: same-class nesting, whichever list the trace put it in.
      NestInfo n;
      n.cls = x.from;
      n.count = x.count;
      n.address_order = r.unsigned_or(e, "address_order", p, x.count);
      if (n.address_order > n.count) r.fail(p + ".address_order", "more than count");
      n.threads = x.threads;
      n.stack = x.to_stack;
      g.nesting.push_back(std::move(n));
      continue;
    }
    g.edges.push_back(std::move(x));
  }

  if (const json* nesting = r.optional(top, "nesting", "")) {
    if (!nesting->is_array()) r.fail("nesting", "not an array");
    for (std::size_t i = 0; i < nesting->size(); ++i) {
      const std::string p = fmt::format("nesting[{}]", i);
      const json& n = (*nesting)[i];
      NestInfo x;
      x.cls = class_ref(r.field(n, "class", p), p + ".class");
      x.count = r.unsigned_field(n, "count", p);
      x.address_order = r.unsigned_or(n, "address_order", p, x.count);
      if (x.address_order > x.count) r.fail(p + ".address_order", "more than count");
      x.threads = r.threads(n, s.pid, p);
      x.stack = r.stack(n, "stack", p);
      g.nesting.push_back(std::move(x));
    }
  }
  g.sources.push_back(std::move(s));
  return g;
}

Graph load_trace(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw TraceError(fmt::format("{}: {}", path, std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) throw TraceError(fmt::format("{}: is a directory, not a trace file", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TraceError(fmt::format("{}: cannot be read", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw TraceError(fmt::format("{}: cannot be read", path));
  return read_trace(text.str(), path);
}

}  // namespace smplock::infer
