// Running a program under the interposer (launch.hpp): shared by `smplock record` and `smplock
// enforce`, which differ only in what they tell the interposer and what they do after the run.
#include "launch.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include <CLI/CLI.hpp>

#ifndef SMPLOCK_INSTALL_LIBDIR
#define SMPLOCK_INSTALL_LIBDIR "lib"
#endif
#ifndef SMPLOCK_INSTALL_FULL_LIBDIR
#define SMPLOCK_INSTALL_FULL_LIBDIR "/usr/local/lib"
#endif

namespace smplock::tools::launch {
namespace {

constexpr const char* kLibrary = "libsmplock-record.so";

[[noreturn]] void fail(const char* who, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", who, what.c_str());
  std::exit(2);
}

}  // namespace

std::string find_interposer(const char* who) {
  if (const char* env = std::getenv("SMPLOCK_RECORD_LIB"); env != nullptr && *env != 0) return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::vector<std::filesystem::path> candidates;
  if (!ec) {
    const auto dir = exe.parent_path();
    candidates = {dir / kLibrary, dir.parent_path() / kLibrary, dir.parent_path() / SMPLOCK_INSTALL_LIBDIR / kLibrary};
  }
  candidates.emplace_back(std::filesystem::path(SMPLOCK_INSTALL_FULL_LIBDIR) / kLibrary);
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c, ec)) return std::filesystem::absolute(c, ec).string();
  }
  fail(who, std::string("cannot find ") + kLibrary + " (looked beside the smplock program and in " +
                SMPLOCK_INSTALL_FULL_LIBDIR + "; set SMPLOCK_RECORD_LIB to its path)");
}

int run_preloaded(const char* who, const std::string& library, const std::vector<std::string>& command,
                  const std::function<void()>& in_child) {
  // After any preload the user asked for, so theirs still comes first.
  std::string preload = library;
  if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != 0) preload = std::string(old) + ":" + library;
  std::vector<char*> argv;
  for (const std::string& a : command) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) fail(who, std::string("cannot fork: ") + std::strerror(errno));
  if (child == 0) {
    setenv("LD_PRELOAD", preload.c_str(), 1);
    in_child();
    execvp(argv[0], argv.data());
    const int err = errno;
    std::fprintf(stderr, "%s: cannot run '%s': %s\n", who, argv[0], std::strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  // Like system(): a ^C or ^\ is for the program, which decides what it does with it.
  struct sigaction ignore {}, old_int {}, old_quit {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGQUIT, &ignore, &old_quit);
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) fail(who, std::string("cannot wait for the program: ") + std::strerror(errno));
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGQUIT, &old_quit, nullptr);
  return status;
}

void pass_on(int status) {
  std::fflush(nullptr);
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    // The same death, without a second core file from this process.
    rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    raise(sig);
    std::_Exit(128 + sig);
  }
  std::_Exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

void take_program(CLI::App* cmd, std::function<void(const std::vector<std::string>&)> run) {
  // prefix_command hands every argument from the first positional on to remaining(). The
  // positional is there for `--` and --help only: it refuses every value, so each one goes to
  // remaining() (CLI11 hands `--` to the parent command when a subcommand has no positional).
  auto never = std::make_shared<std::vector<std::string>>();
  cmd->add_option("PROGRAM", *never, "The program to run, and its arguments")
      ->check(CLI::Validator([](std::string&) { return std::string("the program's own"); }, "PROGRAM [ARGS...]"));
  cmd->validate_positionals();
  cmd->prefix_command();
  cmd->callback([cmd, never, run = std::move(run)] {
    std::vector<std::string> rest = cmd->remaining();
    if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
    run(rest);
  });
}

}  // namespace smplock::tools::launch
