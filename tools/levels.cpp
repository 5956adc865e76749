// `smplock levels`: the level table, with what each level protects; with --infer, a table
// proposed from traces (levels_infer.cpp).
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "levels_infer.hpp"
#include "smplock/smplock.hpp"

namespace smplock::tools {

CLI::App* add_levels(CLI::App& app) {
  auto* cmd = app.add_subcommand("levels", "Print the SMP lock level table (lowest first)");
  auto irq_only = std::make_shared<bool>(false);
  cmd->add_flag("--irq", *irq_only, "Print only the IRQ lines and their levels");
  auto infer = add_levels_infer(*cmd);  // --infer TRACE.json...: a table learned from traces
  cmd->callback([irq_only, infer] {
    if (infer()) return;
    if (*irq_only) {
      std::printf("%-6s %-5s %s\n", "line", "level", "priority");
      for (unsigned n = 0; n < kIrqCount; ++n)
        std::printf("IRQ %-2u 0x%02X  %u of 16\n", n, to_int(irq_level(n)), to_int(irq_level(n)) - kIrqLevelLow + 1);
      return;
    }
    std::printf("%-6s %-8s %s\n", "level", "name", "protects");
    for (unsigned v = 0; v < 256; ++v) {
      const Level l = static_cast<Level>(v);
      const auto what = level_description(l);
      if (what.empty()) continue;
      const auto name = level_name(l);
      std::printf("0x%02X   %-8.*s %.*s\n", v, static_cast<int>(name.size()), name.data(),
                  static_cast<int>(what.size()), what.data());
    }
  });
  return cmd;
}

}  // namespace smplock::tools
