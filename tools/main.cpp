// smplock: the command. `smplock levels`, `smplock pound`, `smplock report`; --help on each.
// Bad arguments print a clear message and exit 2.
#include <cstdio>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"smplock: SMP lock levels from the OZONE kernel, measured on your machine"};
  app.require_subcommand(1);
  smplock::tools::add_levels(app);
  smplock::tools::add_report(app);
  smplock::tools::add_pound(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "smplock: %s\nRun 'smplock --help' for usage.\n", e.what());
    return 2;
  }
  return 0;
}
