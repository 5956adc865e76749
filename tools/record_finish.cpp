// Finishing a raw trace (see record_finish.hpp). The interposer keeps return addresses only, as
// (object, address in the object), and groups lock instances by their exact stacks; here, after the
// program has exited, each address becomes its inline frames (function, file, line) with libdw,
// the leading wrapper frames (the C and C++ runtimes, std::mutex::lock and the std guards, the
// user's --wrapper functions) are dropped, each class gets its key from the first frame left, and
// the classes that share a key become one (their edges, counts and guards merged).
#include "record_finish.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <unistd.h>
#ifdef SMPLOCK_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace smplock::tools::record {
namespace {

using json = nlohmann::ordered_json;  // fields in the schema's order

// Only mangled names: "b" or "f" alone would demangle as the builtin types bool and float.
std::string demangle(const char* name) {
  if (name[0] != '_' || name[1] != 'Z') return name;
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

std::string basename_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// "ns::f(int) const" -> "ns::f": the parameter list of a demangled name, for short class names.
std::string without_params(const std::string& f) {
  std::size_t end = f.size();
  if (f.size() > 6 && f.compare(f.size() - 6, 6, " const") == 0) end -= 6;
  if (end == 0 || f[end - 1] != ')') return f;
  int depth = 0;
  for (std::size_t i = end; i-- > 0;) {
    if (f[i] == ')') ++depth;
    if (f[i] == '(' && --depth == 0) return i == 0 ? f : f.substr(0, i);
  }
  return f;
}

struct Frame {
  std::string function, file, object;
  unsigned line = 0;
  std::uint64_t pc = 0;       // address in the object (a return address for code)
  std::uint64_t sym_off = 0;  // offset into `function` when there is no line
  bool wrapper = false;
};

json to_json(const Frame& f) {
  json j{{"function", f.function}, {"object", f.object}, {"pc", hex(f.pc)}};
  if (!f.file.empty()) {
    j["file"] = f.file;
    j["line"] = f.line;
  }
  return j;
}

// Part of a key that names a place in code: "f(file.c:12)", or "f+0x1a" without debug info.
std::string place(const Frame& f) {
  if (!f.file.empty()) return f.function + "(" + basename_of(f.file) + ":" + std::to_string(f.line) + ")";
  if (!f.function.empty()) return f.function + "+" + hex(f.sym_off);
  return hex(f.pc);
}

std::string short_place(const Frame& f) {
  const std::string fn = f.function.empty() ? basename_of(f.object) + "+" + hex(f.pc) : without_params(f.function);
  return f.file.empty() ? fn : fn + ":" + std::to_string(f.line);
}

class Symbolizer {
 public:
  explicit Symbolizer(const FinishOptions& options) {
    for (const std::string& w : options.wrappers) wrappers_.emplace_back(w, std::regex::ECMAScript);
  }
  ~Symbolizer() {
#ifdef SMPLOCK_HAVE_LIBDW
    for (auto& [path, m] : modules_)
      if (m.dwfl != nullptr) dwfl_end(m.dwfl);
#endif
  }
  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;

  // The frames at a return address, innermost (inlined) first.
  std::vector<Frame> code(const std::string& object, std::uint64_t vaddr) {
    std::vector<Frame> out;
    Frame base;
    base.object = object;
    base.pc = vaddr;
#ifdef SMPLOCK_HAVE_LIBDW
    // The C runtime's frames (start_thread, clone) are wrappers, left unnamed: loading libc's
    // symbol table costs more than all the rest of a small trace's finishing.
    Module* mp = c_runtime(object) ? nullptr : &module(object);
    if (mp != nullptr && mp->mod != nullptr) {
      Module& m = *mp;
      const Dwarf_Addr addr = vaddr + m.bias - 1;  // inside the call instruction
      GElf_Off off = 0;
      GElf_Sym sym;
      if (const char* n = dwfl_module_addrinfo(m.mod, addr, &off, &sym, nullptr, nullptr, nullptr)) {
        base.function = demangle(n);
        base.sym_off = off + 1;
      }
      std::string file;
      unsigned line = 0;
      if (Dwfl_Line* l = dwfl_module_getsrc(m.mod, addr)) {
        int ln = 0;
        if (const char* src = dwfl_lineinfo(l, nullptr, &ln, nullptr, nullptr, nullptr)) {
          file = src;
          line = static_cast<unsigned>(ln);
        }
      }
      inline_frames(m, addr, file, line, base, out);
      if (out.empty()) {
        base.file = file;
        base.line = line;
      }
    }
#endif
    if (out.empty()) out.push_back(base);
    for (Frame& f : out) f.wrapper = is_wrapper(f);
    return out;
  }

  // The symbol holding a data address, and the offset into it.
  bool data(const std::string& object, std::uint64_t vaddr, std::string& name, std::uint64_t& offset) {
#ifdef SMPLOCK_HAVE_LIBDW
    Module& m = module(object);
    if (m.mod == nullptr) return false;
    GElf_Off off = 0;
    GElf_Sym sym;
    const char* n = dwfl_module_addrinfo(m.mod, vaddr + m.bias, &off, &sym, nullptr, nullptr, nullptr);
    if (n == nullptr) return false;
    name = demangle(n);
    offset = off;
    return true;
#else
    (void)object, (void)vaddr, (void)name, (void)offset;
    return false;
#endif
  }

 private:
  static bool c_runtime(const std::string& object) {
    static const char* const kRuntimes[] = {"libc.so", "libpthread.so", "libgcc_s.so", "ld-linux"};
    const std::string obj = basename_of(object);
    for (const char* r : kRuntimes)
      if (obj.rfind(r, 0) == 0) return true;
    return false;
  }

  bool is_wrapper(const Frame& f) const {
    // The C and C++ runtimes, and the standard library's headers (std::lock_guard, unique_lock...).
    if (c_runtime(f.object) || basename_of(f.object).rfind("libstdc++.so", 0) == 0) return true;
    if (f.file.find("/include/c++/") != std::string::npos) return true;
    static const std::regex kStd("^(std::|__gnu_cxx::|__gthread|__gthrw_)");
    if (std::regex_search(f.function, kStd)) return true;
    for (const std::regex& w : wrappers_)
      if (std::regex_search(f.function, w)) return true;
    return false;
  }

#ifdef SMPLOCK_HAVE_LIBDW
  struct Module {
    Dwfl* dwfl = nullptr;
    Dwfl_Module* mod = nullptr;
    Dwarf_Addr bias = 0;
  };

  // Separate debug information from /usr/lib/debug/.build-id only (Debian's -dbgsym packages):
  // libdw's standard lookup also starts the debuginfod client, which loads libcurl and its TLS
  // stack (half a second) to learn that no server is configured.
  static int find_debuginfo(Dwfl_Module* mod, void**, const char*, Dwarf_Addr, const char*, const char*, GElf_Word,
                            char** debuginfo_file_name) {
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    const int n = dwfl_module_build_id(mod, &bits, &vaddr);
    if (n <= 1) return -1;
    std::string path = "/usr/lib/debug/.build-id/";
    char byte[4];
    for (int i = 0; i < n; ++i) {
      std::snprintf(byte, sizeof byte, "%02x", bits[i]);
      path += byte;
      if (i == 0) path += '/';
    }
    path += ".debug";
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) *debuginfo_file_name = strdup(path.c_str());
    return fd;
  }

  Module& module(const std::string& path) {
    auto it = modules_.find(path);
    if (it != modules_.end()) return it->second;
    Module& m = modules_[path];
    static const Dwfl_Callbacks callbacks = {
        .find_elf = dwfl_build_id_find_elf,
        .find_debuginfo = find_debuginfo,
        .section_address = dwfl_offline_section_address,
        .debuginfo_path = nullptr,
    };
    m.dwfl = dwfl_begin(&callbacks);
    if (m.dwfl == nullptr) return m;
    m.mod = dwfl_report_offline(m.dwfl, path.c_str(), path.c_str(), -1);
    dwfl_report_end(m.dwfl, nullptr, nullptr);
    if (m.mod != nullptr && dwfl_module_getelf(m.mod, &m.bias) == nullptr) m.mod = nullptr;
    return m;
  }

  static std::string die_name(Dwarf_Die* die) {
    Dwarf_Attribute attr;
    const char* linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (linkage == nullptr) linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (linkage != nullptr) return demangle(linkage);
    const char* name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    return name != nullptr ? name : "";
  }

  // The inline chain at `addr`: one frame per inlined function and one for the function it is in.
  // The chain is rebuilt from the innermost scope's place in the DIE tree, which keeps every level
  // even where GCC moved the code to a cold block that the outer scopes' ranges do not list.
  static void inline_frames(Module& m, Dwarf_Addr addr, std::string file, unsigned line, const Frame& base,
                            std::vector<Frame>& out) {
    Dwarf_Addr cu_bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(m.mod, addr, &cu_bias);
    if (cu == nullptr) return;
    Dwarf_Files* files = nullptr;
    std::size_t nfiles = 0;
    const bool have_files = dwarf_getsrcfiles(cu, &files, &nfiles) == 0;
    Dwarf_Die* by_pc = nullptr;
    if (dwarf_getscopes(cu, addr - cu_bias, &by_pc) <= 0) return;
    Dwarf_Die* scopes = nullptr;
    const int n = dwarf_getscopes_die(&by_pc[0], &scopes);
    std::free(by_pc);
    for (int i = 0; i < n; ++i) {
      const int tag = dwarf_tag(&scopes[i]);
      if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram) continue;
      Frame f = base;
      const std::string name = die_name(&scopes[i]);
      if (!name.empty()) f.function = name;
      f.file = file;
      f.line = line;
      out.push_back(f);
      if (tag == DW_TAG_subprogram) break;
      Dwarf_Attribute attr;
      Dwarf_Word call_file = 0, call_line = 0;
      if (have_files && dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &call_file) == 0) {
        if (const char* src = dwarf_filesrc(files, call_file, nullptr, nullptr)) file = src;
      }
      if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &call_line) == 0)
        line = static_cast<unsigned>(call_line);
    }
    std::free(scopes);
    // The outermost frame is a real function: its symbol name is the better one when DWARF had none.
    if (!out.empty() && out.back().function.empty()) out.back().function = base.function;
  }

  std::map<std::string, Module> modules_;
#endif
  std::vector<std::regex> wrappers_;
};

std::uint64_t parse_hex(const json& v) { return std::strtoull(v.get<std::string>().c_str(), nullptr, 16); }

// A raw frame [object index, "0xaddress"] as its inline frames.
std::vector<Frame> expand(Symbolizer& sym, const std::vector<std::string>& objects, const json& raw) {
  const int obj = raw.at(0).get<int>();
  const std::uint64_t addr = parse_hex(raw.at(1));
  if (obj < 0 || static_cast<std::size_t>(obj) >= objects.size()) {
    Frame f;
    f.pc = addr;
    return {f};
  }
  return sym.code(objects[static_cast<std::size_t>(obj)], addr);
}

// A stack's frames, the leading wrappers dropped (all of them kept if nothing else is left).
std::vector<Frame> own_stack(Symbolizer& sym, const std::vector<std::string>& objects, const json& raw) {
  std::vector<Frame> all;
  for (const json& f : raw) {
    auto v = expand(sym, objects, f);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::size_t first = 0;
  while (first < all.size() && all[first].wrapper) ++first;
  if (first == all.size()) first = 0;
  return {all.begin() + static_cast<std::ptrdiff_t>(first), all.end()};
}

json stack_json(const std::vector<Frame>& frames) {
  json j = json::array();
  for (const Frame& f : frames) j.push_back(to_json(f));
  return j;
}

struct FinalClass {
  std::string key, name, how, kind;
  json site;
  std::uint64_t offset = 0;  // alloc: the lock's offset in its heap block
  std::uint64_t instances = 0, acquisitions = 0, contended = 0, wait_ns = 0, max_wait_ns = 0, hold_ns = 0,
                hold_samples = 0;
  std::map<std::string, std::pair<json, std::uint64_t>> sites;  // contended sites by place
  bool used = false;
  int id = -1;
};

struct FinalEdge {
  int from = 0, to = 0;
  std::uint64_t count = 0, blocking = 0, read_read = 0, address_order = 0;
  std::set<std::int64_t> tids;
  std::uint64_t max_thread_count = 0;
  bool tids_complete = true;
  std::set<int> guards;
  bool guards_set = false;
  json from_stack, to_stack;
};

}  // namespace

FinishSummary finish_trace(const std::string& path, const FinishOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  json raw;
  try {
    raw = json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error("'" + path + "' is not JSON: " + e.what());
  }
  FinishSummary summary;
  if (raw.value("schema", "") == "smplock-trace") {
    summary.already_finished = true;
    return summary;
  }
  if (raw.value("schema", "") != "smplock-trace-raw") throw std::runtime_error("'" + path + "' is not a smplock trace");

  std::vector<std::string> objects;
  for (const json& o : raw.at("objects")) objects.push_back(o.at("path").get<std::string>());
  Symbolizer sym(options);

  // Classes: a key each, merged by key.
  std::vector<FinalClass> finals;
  std::map<std::string, int> by_key;
  std::vector<int> final_of;  // raw class id -> index in finals
  for (const json& c : raw.at("classes")) {
    const std::string how = c.at("how").get<std::string>();
    std::string key, name;
    json site;
    if (how == "symbol") {
      const json& a = c.at("addr");
      const int obj = a.at(0).get<int>();
      const std::uint64_t vaddr = parse_hex(a.at(1));
      const std::string object = obj >= 0 && static_cast<std::size_t>(obj) < objects.size() ? objects[static_cast<std::size_t>(obj)] : "";
      std::string symbol;
      std::uint64_t off = 0;
      if (!object.empty() && sym.data(object, vaddr, symbol, off)) {
        name = off == 0 ? symbol : symbol + "+" + std::to_string(off);
      } else {
        name = basename_of(object) + "+" + hex(vaddr);
      }
      key = "symbol:" + basename_of(object) + ":" + name;
      site = json{{"function", name}, {"object", object}, {"pc", hex(vaddr)}};
    } else if (how == "alloc") {
      // The heap block's allocation site (one return address: new's or malloc's caller, inlined
      // std:: frames skipped) and the lock's offset in the block: two members are two classes.
      const std::vector<Frame> frames = own_stack(sym, objects, c.at("site"));
      Frame f = frames.empty() ? Frame{} : frames.front();
      const std::string off = std::to_string(c.value("offset", std::uint64_t{0}));
      key = "alloc:" + basename_of(f.object) + ":" + place(f) + "+" + off;
      name = short_place(f) + "+" + off;
      site = to_json(f);
    } else {
      const std::vector<Frame> frames = own_stack(sym, objects, c.at("site"));
      Frame f = frames.empty() ? Frame{} : frames.front();
      key = (how == "init" ? "init:" : "site:") + basename_of(f.object) + ":" + place(f);
      name = short_place(f);
      site = to_json(f);
    }
    auto [it, fresh] = by_key.emplace(key, static_cast<int>(finals.size()));
    if (fresh) {
      FinalClass fc;
      fc.key = key;
      fc.name = name;
      fc.how = how;
      fc.kind = c.at("kind").get<std::string>();
      fc.site = site;
      fc.offset = c.value("offset", std::uint64_t{0});
      finals.push_back(std::move(fc));
    }
    FinalClass& fc = finals[static_cast<std::size_t>(it->second)];
    fc.instances += c.value("instances", std::uint64_t{0});
    fc.acquisitions += c.value("acquisitions", std::uint64_t{0});
    fc.contended += c.value("contended", std::uint64_t{0});
    fc.wait_ns += c.value("wait_ns", std::uint64_t{0});
    fc.max_wait_ns = std::max(fc.max_wait_ns, c.value("max_wait_ns", std::uint64_t{0}));
    fc.hold_ns += c.value("hold_ns", std::uint64_t{0});
    fc.hold_samples += c.value("hold_samples", std::uint64_t{0});
    for (const json& s : c.value("contended_sites", json::array())) {
      const std::vector<Frame> frames = own_stack(sym, objects, json::array({s.at("pc")}));
      const Frame f = frames.empty() ? Frame{} : frames.front();
      auto& slot = fc.sites[place(f)];
      if (slot.first.is_null()) slot.first = to_json(f);
      slot.second += s.value("count", std::uint64_t{0});
    }
    if (fc.acquisitions != 0) fc.used = true;
    final_of.push_back(it->second);
  }

  // Edges: mapped through the class merge; one whose two ends merged is same-class nesting.
  std::map<std::pair<int, int>, FinalEdge> edges;
  std::vector<std::pair<int, int>> edge_order;  // first occurrence first
  for (const json& e : raw.at("edges")) {
    const int from = final_of.at(e.at("from").get<std::size_t>());
    const int to = final_of.at(e.at("to").get<std::size_t>());
    auto [it, fresh] = edges.try_emplace({from, to});
    FinalEdge& fe = it->second;
    if (fresh) {
      edge_order.push_back({from, to});
      fe.from = from;
      fe.to = to;
      const std::vector<Frame> to_stack = own_stack(sym, objects, e.at("to_stack"));
      fe.to_stack = stack_json(to_stack);
      // Where "from" was taken: its call site, then the frames of the current stack outside the
      // function that took it (that function is still running when it holds the lock), if found.
      std::vector<Frame> from_stack;
      if (!e.at("from_pc").is_null()) {
        from_stack = own_stack(sym, objects, json::array({e.at("from_pc")}));
        if (!from_stack.empty()) {
          std::vector<Frame> all_to;
          for (const json& f : e.at("to_stack")) {
            auto v = expand(sym, objects, f);
            all_to.insert(all_to.end(), v.begin(), v.end());
          }
          const std::string& taker = from_stack.back().function;
          for (std::size_t i = 0; i < all_to.size(); ++i) {
            if (!taker.empty() && all_to[i].function == taker) {
              from_stack.insert(from_stack.end(), all_to.begin() + static_cast<std::ptrdiff_t>(i) + 1, all_to.end());
              break;
            }
          }
        }
      }
      fe.from_stack = stack_json(from_stack);
    }
    fe.count += e.value("count", std::uint64_t{0});
    fe.blocking += e.value("blocking", std::uint64_t{0});
    fe.read_read += e.value("read_read", std::uint64_t{0});
    fe.address_order += e.value("address_order", std::uint64_t{0});
    const auto tc = e.value("thread_count", std::uint64_t{0});
    fe.max_thread_count = std::max(fe.max_thread_count, tc);
    const json threads = e.value("threads", json::array());
    if (tc > threads.size()) fe.tids_complete = false;
    for (const json& t : threads) fe.tids.insert(t.get<std::int64_t>());
    std::set<int> g;
    for (const json& gj : e.value("guards", json::array())) {
      const int gc = final_of.at(gj.get<std::size_t>());
      if (gc != from && gc != to) g.insert(gc);
    }
    if (!fe.guards_set) {
      fe.guards = g;
      fe.guards_set = true;
    } else {
      std::set<int> both;
      std::set_intersection(fe.guards.begin(), fe.guards.end(), g.begin(), g.end(), std::inserter(both, both.begin()));
      fe.guards = both;
    }
  }

  // Classes written: those taken in this process, or named by an edge.
  for (const auto& [k, fe] : edges) {
    finals[static_cast<std::size_t>(fe.from)].used = true;
    finals[static_cast<std::size_t>(fe.to)].used = true;
    for (int g : fe.guards) finals[static_cast<std::size_t>(g)].used = true;
  }
  json classes = json::array();
  for (FinalClass& fc : finals) {
    if (!fc.used) continue;
    fc.id = static_cast<int>(classes.size());
    std::vector<std::pair<json, std::uint64_t>> sites;
    for (auto& [p, s] : fc.sites) sites.push_back(s);
    std::stable_sort(sites.begin(), sites.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    json cs = json::array();
    for (std::size_t i = 0; i < sites.size() && i < 8; ++i) cs.push_back({{"frame", sites[i].first}, {"count", sites[i].second}});
    classes.push_back({{"id", fc.id}, {"key", fc.key}, {"name", fc.name}, {"how", fc.how}, {"kind", fc.kind},
                       {"site", fc.site}, {"instances", fc.instances}, {"acquisitions", fc.acquisitions},
                       {"contended", fc.contended}, {"wait_ns", fc.wait_ns}, {"max_wait_ns", fc.max_wait_ns},
                       {"hold_ns", fc.hold_ns}, {"hold_samples", fc.hold_samples}, {"contended_sites", cs}});
    if (fc.how == "alloc") classes.back()["offset"] = fc.offset;
  }
  json out_edges = json::array(), nesting = json::array();
  for (const auto& k : edge_order) {
    const FinalEdge& fe = edges.at(k);
    json threads = json::array();
    for (std::int64_t t : fe.tids) {
      if (threads.size() == 16) break;
      threads.push_back(t);
    }
    const std::uint64_t thread_count =
        fe.tids_complete ? fe.tids.size() : std::max<std::uint64_t>(fe.max_thread_count, fe.tids.size());
    const int from = finals[static_cast<std::size_t>(fe.from)].id;
    const int to = finals[static_cast<std::size_t>(fe.to)].id;
    if (fe.from == fe.to) {
      nesting.push_back({{"class", from}, {"count", fe.count}, {"address_order", fe.address_order},
                         {"threads", threads}, {"stack", fe.to_stack}});
      continue;
    }
    json guards = json::array();
    for (int g : fe.guards) guards.push_back(finals[static_cast<std::size_t>(g)].id);
    out_edges.push_back({{"from", from}, {"to", to}, {"count", fe.count}, {"blocking", fe.blocking},
                         {"read_read", fe.read_read}, {"threads", threads}, {"thread_count", thread_count},
                         {"guards", guards}, {"from_stack", fe.from_stack}, {"to_stack", fe.to_stack}});
  }

  json trace = {{"schema", "smplock-trace"},
                {"version", 1},
                {"program", raw.value("program", "")},
                {"argv", raw.value("argv", json::array())},
                {"pid", raw.value("pid", 0)},
                {"ppid", raw.value("ppid", 0)},
                {"started_unix_ns", raw.value("started_unix_ns", std::uint64_t{0})},
                {"wall_ns", raw.value("wall_ns", std::uint64_t{0})},
                {"cpus", raw.value("cpus", 1)},
                {"threads", raw.value("threads", 0)},
                // How the image ended (exit, exec, fatal signal); a raw trace without it ended at exit.
                {"end", raw.value("end", json{{"by", "exit"}, {"signal", 0}, {"locked", true}})},
                {"classes", classes},
                {"edges", out_edges},
                {"nesting", nesting}};
  summary.classes = classes.size();
  summary.edges = out_edges.size();
  summary.nesting = nesting.size();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
    out << trace.dump(1) << '\n';
    if (!out) throw std::runtime_error("cannot write '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot replace '" + path + "'");
  return summary;
}

std::vector<std::string> name_code(const std::vector<std::pair<std::string, std::uint64_t>>& at) {
  Symbolizer sym(FinishOptions{});
  std::vector<std::string> out;
  for (const auto& [object, vaddr] : at) {
    std::string s;
    for (const Frame& f : sym.code(object, vaddr)) s += (s.empty() ? "" : " inlined in ") + place(f);
    out.push_back(s);
  }
  return out;
}

}  // namespace smplock::tools::record
