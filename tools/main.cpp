// smplock: the command. `smplock levels`, `smplock pound`, `smplock report`; --help on each.
// Bad arguments print a clear message and exit 2.
#include <cstdio>
#include <string>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"smplock: SMP lock levels from the OZONE kernel, measured on your machine"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "smplock " SMPLOCK_VERSION);
  smplock::tools::add_levels(app);
  smplock::tools::add_report(app);
  smplock::tools::add_pound(app);
  smplock::tools::add_record(app);
  smplock::tools::add_enforce(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // With no subcommand chosen, CLI11 only says one is required: name the word it did not know.
    const auto left = app.remaining();
    if (app.get_subcommands().empty() && !left.empty()) {
      std::string known;
      for (const CLI::App* sub : app.get_subcommands({})) known += (known.empty() ? "" : ", ") + sub->get_name();
      std::fprintf(stderr, "smplock: unknown %s '%s' (subcommands: %s)\nRun 'smplock --help' for usage.\n",
                   left.front().starts_with('-') ? "option" : "subcommand", left.front().c_str(), known.c_str());
      return 2;
    }
    std::fprintf(stderr, "smplock: %s\nRun 'smplock --help' for usage.\n", e.what());
    return 2;
  }
  return 0;
}
