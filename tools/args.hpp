// Checks for the smplock command's option values, shared by the subcommands. Each names the option's
// range in --help exactly as its error message states it, and rejects what CLI11's own conversions
// let through (nan, inf, a minus sign before an unsigned number, an empty file name).
#pragma once

#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

namespace smplock::tools {

// A finite number in [lo, hi], or in (lo, hi] when lo_open. `what` names the quantity in the
// message ("a number of seconds"): "must be a number of seconds from 0.01 to 600, not 'nan'".
CLI::Validator number_in(double lo, double hi, bool lo_open, const std::string& what);

// A whole number in [lo, hi], written in decimal digits only (no sign, no spaces). `what` names
// the quantity: "must be a whole number of CPUs from 1 to 254, not '0'".
CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi, const std::string& what = "a whole number");

// A file name that is not empty (CLI11 takes `--json ""` as a value).
CLI::Validator file_name();

}  // namespace smplock::tools
