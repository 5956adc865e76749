// The steps of analyze(), one file each, and what the output files share. Not installed.
#pragma once

#include <string>

#include "smplock/infer.hpp"

namespace smplock::infer::detail {

// cycles.cpp: the strongly connected components, their elementary cycles, each judged; and the
// same-class nesting not always in address order.
void find_cycles(const Graph& g, const Options& options, Result& r);

// levels.cpp: the classes that cannot be leveled, the kept and dropped edges, the layers and levels.
void propose_levels(const Graph& g, const Options& options, Result& r);

// judge.cpp: the split candidates and the "one lock too many" classes.
void judge(const Graph& g, const Options& options, Result& r);

// Why a cycle cannot deadlock, in words ("" when it can). frame.cpp.
std::string cycle_verdict(const Graph& g, const Cycle& c);
// "a -> b -> c -> a".
std::string cycle_path(const Graph& g, const Cycle& c);
// "thread 1234" or "1234, 1235 (+3 more)"; with the pid when the graph has several processes.
std::string thread_list(const Graph& g, const std::vector<Thread>& threads, std::uint64_t count, bool more);
// The level as the table prints it: "0x18".
std::string hex_level(std::uint8_t level);

}  // namespace smplock::infer::detail
