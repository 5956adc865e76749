// Call-site names for sites that do not name themselves. Since the contended call sites became
// the acquire's std::source_location (docs/design.md, "Call sites"), stats::snapshot() fills
// function, file and line itself and this leaves those sites alone; what follows serves a site
// given only as a code address (a snapshot built by hand, or by an older library).
//
// dladdr() for the function (demangled), libdw for file:line where the binary carries debug
// information. A pc is a return address, so the call is the instruction before it.
// Lock::acquire() is inlined into its caller, so the line table names a line of lock.hpp; the
// inline scopes around the address say where that code was inlined, and the first place outside
// the library's own headers (and the standard library's, for std::lock_guard) is the call site the
// user wants.
#include <cxxabi.h>
#include <dlfcn.h>
#include <unistd.h>
#ifdef SMPLOCK_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif

#include <cstdlib>
#include <memory>

#include "smplock/report.hpp"

namespace smplock::stats {
namespace {

std::string demangle(const char* name) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> d(abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
  return status == 0 && d ? std::string(d.get()) : std::string(name);
}

#ifdef SMPLOCK_HAVE_LIBDW
// A libdwfl session over this process's own modules (read from /proc/self/maps).
class SelfDwarf {
 public:
  SelfDwarf() {
    callbacks_.find_elf = dwfl_linux_proc_find_elf;
    callbacks_.find_debuginfo = dwfl_standard_find_debuginfo;
    callbacks_.debuginfo_path = nullptr;
    dwfl_ = dwfl_begin(&callbacks_);
    if (dwfl_ == nullptr) return;
    if (dwfl_linux_proc_report(dwfl_, getpid()) != 0 || dwfl_report_end(dwfl_, nullptr, nullptr) != 0) {
      dwfl_end(dwfl_);
      dwfl_ = nullptr;
    }
  }
  ~SelfDwarf() {
    if (dwfl_ != nullptr) dwfl_end(dwfl_);
  }
  SelfDwarf(const SelfDwarf&) = delete;
  SelfDwarf& operator=(const SelfDwarf&) = delete;

  // File and line of `addr`, when there is debug information for it.
  bool line_of(std::uintptr_t addr, std::string& file, unsigned& line, std::string& function) {
    if (dwfl_ == nullptr) return false;
    Dwfl_Module* mod = dwfl_addrmodule(dwfl_, addr);
    if (mod == nullptr) return false;
    if (function.empty()) {
      if (const char* name = dwfl_module_addrname(mod, addr); name != nullptr) function = demangle(name);
    }
    Dwfl_Line* l = dwfl_module_getsrc(mod, addr);
    if (l == nullptr) return false;
    int lineno = 0;
    const char* src = dwfl_lineinfo(l, nullptr, &lineno, nullptr, nullptr, nullptr);
    if (src == nullptr) return false;
    file = src;
    line = static_cast<unsigned>(lineno);
    step_out_of_library(mod, addr, file, line);
    return true;
  }

 private:
  // The library's headers, and the standard library's (std::lock_guard, std::scoped_lock...).
  static bool in_library(const std::string& path) {
    return path.find("/include/smplock/") != std::string::npos || path.find("/include/c++/") != std::string::npos;
  }

  // While (file, line) is inside the library's headers, moves it to the place the enclosing inline
  // scope was inlined from (DW_AT_call_file / DW_AT_call_line), innermost scope first.
  static void step_out_of_library(Dwfl_Module* mod, std::uintptr_t addr, std::string& file, unsigned& line) {
    if (!in_library(file)) return;
    Dwarf_Addr bias = 0;
    Dwarf_Die* cu = dwfl_module_addrdie(mod, addr, &bias);
    if (cu == nullptr) return;
    Dwarf_Files* files = nullptr;
    std::size_t nfiles = 0;
    if (dwarf_getsrcfiles(cu, &files, &nfiles) != 0) return;
    // The scopes whose address ranges hold the pc, innermost first. GCC moves the contended call
    // to a cold block whose ranges the outer inline scopes often do not list, so the chain is then
    // rebuilt from the innermost scope's place in the DIE tree, which keeps every inline level.
    Dwarf_Die* by_pc = nullptr;
    const int m = dwarf_getscopes(cu, addr - bias, &by_pc);
    if (m <= 0) return;
    Dwarf_Die* scopes = nullptr;
    const int n = dwarf_getscopes_die(&by_pc[0], &scopes);
    std::free(by_pc);
    for (int i = 0; i < n && in_library(file); ++i) {
      if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine) continue;
      Dwarf_Attribute attr;
      Dwarf_Word call_file = 0, call_line = 0;
      if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &call_file) != 0 ||
          dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &call_line) != 0)
        break;
      const char* name = dwarf_filesrc(files, call_file, nullptr, nullptr);
      if (name == nullptr) break;
      file = name;
      line = static_cast<unsigned>(call_line);
    }
    std::free(scopes);
  }

  Dwfl_Callbacks callbacks_{};
  Dwfl* dwfl_ = nullptr;
};

#else
// Built without libdw: no file:line, and function names only where dladdr() finds them.
class SelfDwarf {
 public:
  bool line_of(std::uintptr_t, std::string&, unsigned&, std::string&) { return false; }
};
#endif

}  // namespace

void symbolize(Snapshot& s) {
  SelfDwarf dwarf;
  for (ClassStats& c : s.classes) {
    for (CallSite& site : c.call_sites) {
      if (!site.function.empty() || site.pc == 0) continue;
      const auto call = static_cast<std::uintptr_t>(site.pc - 1);  // inside the call instruction
      Dl_info info{};
      if (dladdr(reinterpret_cast<void*>(call), &info) != 0 && info.dli_sname != nullptr)
        site.function = demangle(info.dli_sname);
      dwarf.line_of(call, site.file, site.line, site.function);
    }
  }
}

}  // namespace smplock::stats
