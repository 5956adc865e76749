// A `smplock record` trace read as a contention report: the trace's JSON (schema "smplock-trace",
// version 1, docs/record.md; written by tools/record_finish.cpp) becomes a stats::Snapshot, so the
// table, the JSON and the picture come from the renderers a smplock::stats snapshot uses. Only the
// JSON is read here: the report library does not depend on the record runtime. The order edges and
// same-class nesting are counted, not reported: `smplock levels --infer` is their report.
#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, std::string_view what) {
  throw JsonError(fmt::format("{}: {}", path.empty() ? "(top)" : path, what));
}

std::string at(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const json* optional(const json& obj, const char* key, const std::string& path) {
  if (!obj.is_object()) fail(path, "not an object");
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

const json& field(const json& obj, const char* key, const std::string& path) {
  const json* v = optional(obj, key, path);
  if (v == nullptr) fail(at(path, key), "missing");
  return *v;
}

std::uint64_t unsigned_field(const json& obj, const char* key, const std::string& path) {
  const json& v = field(obj, key, path);
  if (!v.is_number_unsigned()) fail(at(path, key), "not an unsigned integer");
  return v.get<std::uint64_t>();
}

// Fields the trace's writer always writes but that a report can do without.
std::uint64_t unsigned_or(const json& obj, const char* key, const std::string& path, std::uint64_t dflt) {
  const json* v = optional(obj, key, path);
  if (v == nullptr) return dflt;
  if (!v->is_number_unsigned()) fail(at(path, key), "not an unsigned integer");
  return v->get<std::uint64_t>();
}

std::string string_or(const json& obj, const char* key, const std::string& path, std::string dflt = {}) {
  const json* v = optional(obj, key, path);
  if (v == nullptr) return dflt;
  if (!v->is_string()) fail(at(path, key), "not a string");
  return v->get<std::string>();
}

// An array the trace may leave out (an old or hand-written trace); its length, or 0.
std::size_t array_size_or_zero(const json& obj, const char* key, const std::string& path) {
  const json* v = optional(obj, key, path);
  if (v == nullptr) return 0;
  if (!v->is_array()) fail(at(path, key), "not an array");
  return v->size();
}

std::string basename(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A FRAME: "pc" is a hex string, an address in its object's file. A frame with no function name
// (a stripped binary) is named as the trace names such classes, "object+0xaddress", so the table
// says where to look rather than printing a bare number.
CallSite read_site(const json& frame, const std::string& path) {
  CallSite site;
  const std::string pc = string_or(frame, "pc", path);
  if (!pc.empty()) {
    char* end = nullptr;
    site.pc = std::strtoull(pc.c_str(), &end, 16);
    if (end == pc.c_str() || *end != '\0') fail(at(path, "pc"), fmt::format("\"{}\" is not a hex address", pc));
  }
  site.function = string_or(frame, "function", path);
  site.file = string_or(frame, "file", path);
  site.line = static_cast<unsigned>(unsigned_or(frame, "line", path, 0));
  const std::string object = string_or(frame, "object", path);
  if (site.function.empty() && !object.empty()) site.function = fmt::format("{}+0x{:x}", basename(object), site.pc);
  return site;
}

ClassStats read_class(const json& jc, const std::string& path, std::size_t index) {
  ClassStats c;
  c.id = static_cast<unsigned>(unsigned_or(jc, "id", path, index));
  const json& name = field(jc, "name", path);
  if (!name.is_string()) fail(at(path, "name"), "not a string");
  c.name = name.get<std::string>();
  c.level = Level::Null;  // an unmodified program's locks have no level: levels --infer proposes them
  Counters& k = c.counters;
  k.acquisitions = unsigned_field(jc, "acquisitions", path);
  k.contended = unsigned_field(jc, "contended", path);
  k.wait_ns = unsigned_field(jc, "wait_ns", path);
  k.max_wait_ns = unsigned_field(jc, "max_wait_ns", path);
  k.hold_ns = unsigned_or(jc, "hold_ns", path, 0);
  k.hold_samples = unsigned_or(jc, "hold_samples", path, 0);
  if (k.contended > k.acquisitions)
    fail(at(path, "contended"), fmt::format("{} contended of {} acquisitions", k.contended, k.acquisitions));
  std::uint64_t in_table = 0;
  if (const json* sites = optional(jc, "contended_sites", path)) {
    if (!sites->is_array()) fail(at(path, "contended_sites"), "not an array");
    for (std::size_t i = 0; i < sites->size(); ++i) {
      const std::string sp = fmt::format("{}.contended_sites[{}]", path, i);
      CallSite site = read_site(field((*sites)[i], "frame", sp), sp + ".frame");
      site.count = unsigned_field((*sites)[i], "count", sp);
      in_table += site.count;
      c.call_sites.push_back(std::move(site));
    }
  }
  std::stable_sort(c.call_sites.begin(), c.call_sites.end(),
                   [](const CallSite& a, const CallSite& b) { return a.count > b.count; });
  // The trace keeps the first few sites; the rest of the contended acquisitions came from others.
  c.other_sites = k.contended > in_table ? k.contended - in_table : 0;
  return c;
}

}  // namespace

bool is_trace_json(std::string_view text) {
  const json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  const auto schema = j.find("schema");
  return schema != j.end() && schema->is_string() && schema->get<std::string>().rfind(kTraceSchema, 0) == 0;
}

TraceReport trace_from_json(std::string_view text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw JsonError(fmt::format("not JSON: {}", e.what()));
  }
  const std::string top;
  if (!j.is_object()) fail(top, "not an object");
  const std::string schema = string_or(j, "schema", top);
  if (schema == std::string(kTraceSchema) + "-raw")
    fail("schema", "a raw trace (\"smplock-trace-raw\"): finish it first with `smplock record --finish FILE`");
  if (schema != kTraceSchema) fail("schema", fmt::format("\"{}\", not \"{}\"", schema, kTraceSchema));
  if (const std::uint64_t v = unsigned_field(j, "version", top); v != static_cast<std::uint64_t>(kTraceVersion))
    fail("version", fmt::format("trace version {} is not supported (this build reads version {})", v, kTraceVersion));

  TraceReport r;
  TraceInfo& t = r.trace;
  t.program = string_or(j, "program", top);
  if (const json* argv = optional(j, "argv", top)) {
    if (!argv->is_array()) fail("argv", "not an array");
    for (const json& a : *argv)
      if (a.is_string()) t.argv.push_back(a.get<std::string>());
  }
  t.pid = unsigned_or(j, "pid", top, 0);
  t.ppid = unsigned_or(j, "ppid", top, 0);
  t.threads = unsigned_or(j, "threads", top, 0);
  t.edges = array_size_or_zero(j, "edges", top);
  t.nesting = array_size_or_zero(j, "nesting", top);
  if (const json* end = optional(j, "end", top)) {  // newer traces say how the process ended
    t.end_by = string_or(*end, "by", "end");
    t.end_signal = unsigned_or(*end, "signal", "end", 0);
  }

  Snapshot& s = r.snapshot;
  // The window is the process's life as the interposer saw it; smplock::stats's CPU count (the
  // most CPUs that took locks at once) has no counterpart, so the online processors stand for it,
  // as they do in `smplock levels --infer`'s percentages.
  s.start_ns = 0;
  s.end_ns = unsigned_field(j, "wall_ns", top);
  s.cpus = static_cast<unsigned>(unsigned_field(j, "cpus", top));
  s.processors = s.cpus;
  s.hold_timing = true;       // record samples holds always
  s.nest_sample_period = 0;   // and samples no nesting (its edges are exact instead)
  const json& classes = field(j, "classes", top);
  if (!classes.is_array()) fail("classes", "not an array");
  for (std::size_t i = 0; i < classes.size(); ++i) s.classes.push_back(read_class(classes[i], fmt::format("classes[{}]", i), i));
  t.classes = s.classes.size();
  if (s.cpus == 0)
    for (std::size_t i = 0; i < s.classes.size(); ++i)
      if (s.classes[i].counters.acquisitions != 0)
        fail("cpus", fmt::format("0, but classes[{}] ({}) was acquired: a trace with lock activity has at least 1 CPU",
                                 i, s.classes[i].name));
  // No levels: by_level() would put every class in one "Null" row that says nothing.
  return r;
}

std::string trace_title(const TraceInfo& t) {
  return fmt::format("trace of {} (pid {})", t.program.empty() ? std::string("a program") : t.program, t.pid);
}

void report_trace_text(const TraceReport& t, std::string_view file, const Sink& out, ReportOptions options) {
  const auto line = [&](std::string_view text) {
    out(text);
    out("\n");
  };
  const TraceInfo& i = t.trace;
  // The arguments after the program's own name (which the title has).
  std::string args;
  for (std::size_t k = 1; k < i.argv.size(); ++k) args += " " + i.argv[k];
  std::string ended;
  if (i.end_by == "signal") ended = fmt::format(", ended by signal {}", i.end_signal);
  else if (i.end_by == "exec") ended = ", up to its exec";
  line(fmt::format("smplock record {}, parent {}{}{}{}; this process only: record writes one trace per process",
                   trace_title(i), i.ppid, args.empty() ? "" : ", arguments:", args, ended));
  options.from_trace = true;
  report_text(t.snapshot, out, options);
  line("");
  if (i.edges == 0 && i.nesting == 0) {
    line("lock order: no class was taken while another was held (no order edges, no same-class nesting)");
  } else {
    line(fmt::format("lock order: {} order edge{}, same-class nesting in {} class{} among {} classes: "
                     "`smplock levels --infer {}` for the potential deadlocks and a level table",
                     i.edges, i.edges == 1 ? "" : "s", i.nesting, i.nesting == 1 ? "" : "es", i.classes, file));
  }
}

}  // namespace smplock::stats
