// Running a program under the interposer, for the commands that do (`smplock record`, `smplock
// enforce`): finding libsmplock-record.so, starting the program with it preloaded, waiting for it
// as system() does, and ending this process the way the program ended. What the interposer is told
// (its environment variables) is each command's own.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace smplock::tools::launch {

// Makes CMD take everything from the program's name on as the program's, options included, and
// calls RUN with that command line (a leading `--` dropped) when CMD is chosen.
void take_program(CLI::App* cmd, std::function<void(const std::vector<std::string>&)> run);

// The interposer: $SMPLOCK_RECORD_LIB, else beside this program (the build tree keeps it one level
// up, an install in ../lib), else the install's library directory. Not found: "WHO: cannot find
// ..." on stderr and exit code 2.
std::string find_interposer(const char* who);

// Runs COMMAND (looked up in $PATH) with LIBRARY added to LD_PRELOAD; in_child runs in the new
// process just before exec, to set the interposer's variables. Returns the wait status. A program
// that cannot be started exits 127 (not found) or 126 after "WHO: cannot run ..." on stderr.
int run_preloaded(const char* who, const std::string& library, const std::vector<std::string>& command,
                  const std::function<void()>& in_child);

// Ends this process as the program ended: the same exit code, or the same signal raised again.
[[noreturn]] void pass_on(int status);

}  // namespace smplock::tools::launch
