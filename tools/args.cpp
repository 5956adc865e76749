// Checks for the smplock command's option values (args.hpp). A validator sees the text as typed,
// before CLI11 converts it, so "-1" for an unsigned option and "nan" for a number are caught here.
#include "args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace smplock::tools {

namespace {

// The bounds as a person writes them: 600, not 600.000000.
std::string bound_text(double v) { return fmt::format("{}", v); }

}  // namespace

CLI::Validator number_in(double lo, double hi, bool lo_open, const std::string& what) {
  const std::string range = lo_open ? fmt::format("above {} and at most {}", bound_text(lo), bound_text(hi))
                                    : fmt::format("from {} to {}", bound_text(lo), bound_text(hi));
  const std::string description = lo_open ? fmt::format("in ({}, {}]", bound_text(lo), bound_text(hi))
                                          : fmt::format("in [{}, {}]", bound_text(lo), bound_text(hi));
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::string wanted = fmt::format("must be {} {}, not '{}'", what, range, text);
        if (text.empty()) return wanted;
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(v)) return wanted;
        if (lo_open ? !(v > lo) : !(v >= lo)) return wanted;
        if (!(v <= hi)) return wanted;
        return {};
      },
      description);
}

CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi, const std::string& what) {
  const std::string range = fmt::format("{} from {} to {}", what, lo, hi);
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        const std::string wanted = fmt::format("must be {}, not '{}'", range, text);
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return wanted;
        errno = 0;
        const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
        if (errno == ERANGE || v < lo || v > hi) return wanted;
        return {};
      },
      fmt::format("in [{}, {}]", lo, hi));
}

CLI::Validator file_name() {
  return CLI::Validator(
      [](std::string& text) -> std::string { return text.empty() ? "needs a file name, not ''" : std::string{}; },
      "");
}

}  // namespace smplock::tools
