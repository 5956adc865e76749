// The header for moving a program to smplock's own locks: one smplock::Level constant per leveled
// class, named from the class, each with the reason it sits where it does (what it was seen taken
// inside, and what was taken inside it), the way the seed's table explains every level. Classes
// that wait for a cycle to be broken are listed in a comment, without a constant.
#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "internal.hpp"

namespace smplock::infer {
namespace {

// C++ keywords and alternative tokens that a CamelCase name could still spell (they all begin in
// lower case, so only a digit-free, single-part name that stayed lower case could; kept for safety).
const std::set<std::string>& keywords() {
  static const std::set<std::string> k = {
      "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
      "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
      "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
      "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
      "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
      "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
      "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
      "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
      "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq"};
  return k;
}

// "global_lock" -> "GlobalLock", "make_account+16" -> "MakeAccount16", "HTTP" -> "Http" (a name in
// capitals alone could be a macro's), "9lives" -> "L9lives", "" -> "".
std::string camel(std::string_view name) {
  std::string out;
  std::string part;
  const auto flush = [&] {
    if (part.empty()) return;
    const bool caps = std::none_of(part.begin(), part.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); });
    if (caps && part.size() > 1)
      for (std::size_t i = 1; i < part.size(); ++i) part[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(part[i])));
    part[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(part[0])));
    out += part;
    part.clear();
  };
  for (const char ch : name) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x80 && std::isalnum(u)) part += ch;
    else flush();
  }
  flush();
  if (!out.empty() && std::isdigit(static_cast<unsigned char>(out[0]))) out = "L" + out;
  if (keywords().count(out) != 0) out += "_";
  return out;
}

std::string names(const Graph& g, const std::vector<std::size_t>& classes) {
  constexpr std::size_t kShown = 6;
  std::string out;
  for (std::size_t i = 0; i < classes.size() && i < kShown; ++i)
    out += (i == 0 ? "" : ", ") + g.classes[classes[i]].name;
  if (classes.size() > kShown) out += fmt::format(" and {} more", classes.size() - kShown);
  return out;
}

// A comment's text may not end a comment line early or hold a line break.
std::string clean(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s;
}

// The text as "// " lines of at most 100 columns, broken at spaces.
std::string comment(const std::string& text) {
  constexpr std::size_t kWidth = 100 - 3;
  std::string out, line;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find(' ', at);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(at, end - at);
    if (!line.empty() && line.size() + 1 + word.size() > kWidth) {
      out += "// " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    at = end + 1;
  }
  if (!line.empty()) out += "// " + line + "\n";
  return out;
}

}  // namespace

std::vector<std::string> identifiers(const Graph& g) {
  std::vector<std::string> out;
  std::set<std::string> used;
  for (std::size_t k = 0; k < g.classes.size(); ++k) {
    std::string base = camel(g.classes[k].name);
    if (base.empty()) base = camel(g.classes[k].key);
    if (base.empty()) base = fmt::format("Class{}", k);
    std::string id = base;
    for (unsigned n = 2; used.count(id) != 0; ++n) id = fmt::format("{}{}", base, n);
    used.insert(id);
    out.push_back(id);
  }
  return out;
}

std::string to_header(const Graph& g, const Result& r) {
  const std::vector<std::string> ids = identifiers(g);
  std::set<std::string> programs;
  for (const Source& s : g.sources)
    if (!s.program.empty()) programs.insert(s.program);
  std::string progs;
  for (const std::string& p : programs) progs += (progs.empty() ? "" : ", ") + p;

  std::string out;
  out += fmt::format("// Lock levels for {}, proposed by `smplock levels --infer` from {} trace{}.\n",
                     progs.empty() ? std::string("a program") : clean(progs), g.sources.size(),
                     g.sources.size() == 1 ? "" : "s");
  out +=
      "// Each class sits above every class it was seen taken inside, and below every class taken inside it;\n"
      "// the gaps leave room for levels added later. Edit freely. Use:\n"
      "//   smplock::Lock lock{levels::Name, \"name\"};\n"
      "#pragma once\n\n"
      "#include <smplock/level.hpp>\n\n"
      "namespace levels {\n";

  // The reasons: the kept edges place a class; the others are named apart, so a comment never
  // says a class sits above one it was seen taken inside.
  const std::size_t n = g.classes.size();
  std::vector<std::vector<std::size_t>> inside(n), around(n), unwaiting(n), unleveled(n);
  for (std::size_t e : r.kept_edges) {
    inside[g.edges[e].to].push_back(g.edges[e].from);
    around[g.edges[e].from].push_back(g.edges[e].to);
  }
  for (const DroppedEdge& d : r.dropped_edges) {
    const EdgeInfo& e = g.edges[d.edge];
    if (d.exempt) {
      unwaiting[e.to].push_back(e.from);
    } else {
      if (r.level_of(e.from) != nullptr) unleveled[e.from].push_back(e.to);
      if (r.level_of(e.to) != nullptr) unleveled[e.to].push_back(e.from);
    }
  }
  for (const LevelEntry& l : r.levels) {
    const ClassInfo& c = g.classes[l.cls];
    std::string why = fmt::format("{} ({}, made at {})", c.name, c.kind, describe(c.site));
    if (inside[l.cls].empty()) why += ": never seen taken inside another leveled lock";
    else why += ": taken inside " + names(g, inside[l.cls]);
    if (!around[l.cls].empty()) why += "; held around " + names(g, around[l.cls]);
    if (!unwaiting[l.cls].empty())
      why += "; also taken inside " + names(g, unwaiting[l.cls]) + " against this order, but never waiting there";
    if (!unleveled[l.cls].empty()) {
      std::sort(unleveled[l.cls].begin(), unleveled[l.cls].end());
      unleveled[l.cls].erase(std::unique(unleveled[l.cls].begin(), unleveled[l.cls].end()), unleveled[l.cls].end());
      why += "; seen with " + names(g, unleveled[l.cls]) +
             (unleveled[l.cls].size() == 1 ? ", which has no level yet" : ", which have no level yet");
    }
    if (l.same_class_nesting) why += "; two may be held at once, in address order";
    out += "\n" + comment(clean(why) + ".") +
           fmt::format("inline constexpr smplock::Level {}{{0x{:02X}}};\n", ids[l.cls], l.level);
  }
  if (!r.unleveled.empty()) {
    out += "\n// No level until a cycle is broken (see `smplock levels --infer`):\n";
    for (const Unleveled& u : r.unleveled)
      out += fmt::format("//   {}: {}\n", clean(g.classes[u.cls].name), clean(u.reason));
  }
  out += "\n}  // namespace levels\n";
  return out;
}

}  // namespace smplock::infer
