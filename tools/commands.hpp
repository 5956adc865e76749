// The smplock command's subcommands. Each file adds one with its options and its action.
#pragma once

#include <CLI/CLI.hpp>

namespace smplock::tools {

// Each returns the subcommand it added; the action runs after parsing, from main().
CLI::App* add_levels(CLI::App& app);
CLI::App* add_report(CLI::App& app);
CLI::App* add_pound(CLI::App& app);
CLI::App* add_record(CLI::App& app);
CLI::App* add_enforce(CLI::App& app);

}  // namespace smplock::tools
