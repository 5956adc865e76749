// Finishing a raw trace written by libsmplock-record.so: frames named (function, file, line) with
// libdw, wrapper frames skipped, class keys made, classes with one key merged, the trace rewritten
// in the documented schema (docs/record.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace smplock::tools::record {

struct FinishOptions {
  // ECMAScript regular expressions on demangled function names: frames of the program's own thin
  // lock wrappers, skipped like std::mutex::lock so a class names the code that calls them.
  std::vector<std::string> wrappers;
};

struct FinishSummary {
  std::size_t classes = 0, edges = 0, nesting = 0;
  bool already_finished = false;
};

// Rewrites `path` in place. Throws std::runtime_error when it cannot be read or is not a trace.
FinishSummary finish_trace(const std::string& path, const FinishOptions& options);

// Names return addresses (object path, address in the object) as "function(file.c:12)" (inlined
// frames joined by " inlined in "), for `smplock enforce`'s reports; the C runtime's are left as
// addresses.
std::vector<std::string> name_code(const std::vector<std::pair<std::string, std::uint64_t>>& at);

}  // namespace smplock::tools::record
