// `smplock levels --infer TRACE.json...`: the options it adds to `smplock levels`, and its action.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace smplock::tools {

// Adds --infer and the options that go with it (--json, --svg, --table, --header, --verbose) to
// `levels`. The returned action runs the inference when --infer was given and returns true; it
// returns false (having done nothing) otherwise, so `levels` prints its own table.
std::function<bool()> add_levels_infer(CLI::App& levels);

}  // namespace smplock::tools
