// The crash report: formatted by hand into a buffer on the stack (no allocation, no lock, nothing
// that could fail), written to stderr with write(2), handed to the user's hook, then abort().
#include <dlfcn.h>
#include <unwind.h>

#include <cstdlib>
#include <cstring>

#include "internal.hpp"
#include "platform/platform.hpp"

namespace smplock {

const char* to_string(Rule rule) {
  switch (rule) {
    case Rule::R1_AcquireUpwardOnly: return "R1 acquire upward only";
    case Rule::R2_NoLateralLocking: return "R2 no lateral locking";
    case Rule::R3_Nesting: return "R3 nesting";
    case Rule::R4_ReleaseTopAsOwner: return "R4 release the top lock, as its owner";
    case Rule::R5_ReleaseDownward: return "R5 never release upward or below a held lock";
    case Rule::R6_SoftintWithoutLocks: return "R6 softint control only with no locks";
    case Rule::R7_NoLockOutlivesCpu: return "R7 no lock outlives its CPU";
    case Rule::R8_PoolBelowNP: return "R8 pool below NP";
    case Rule::R9_LevelAssertion: return "R9 level assertion";
    case Rule::Fatal: return "fatal error";
  }
  return "unknown rule";
}

namespace {

std::atomic<CrashHook> g_hook{nullptr};
std::atomic<int> g_crashing{0};

// A fixed buffer that silently truncates: the report must come out even if it is long.
class Out {
 public:
  void str(const char* s) {
    if (s == nullptr) s = "(null)";
    while (*s != 0 && len_ < kCap - 1) buf_[len_++] = *s++;
    buf_[len_] = 0;
  }
  void str(std::string_view s) {
    for (char c : s) {
      if (len_ >= kCap - 1) break;
      buf_[len_++] = c;
    }
    buf_[len_] = 0;
  }
  void dec(long long v) {
    char tmp[24];
    int n = 0;
    const bool neg = v < 0;
    unsigned long long u = neg ? 0ull - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
    do { tmp[n++] = static_cast<char>('0' + u % 10); u /= 10; } while (u != 0);
    if (neg) tmp[n++] = '-';
    while (n > 0 && len_ < kCap - 1) buf_[len_++] = tmp[--n];
    buf_[len_] = 0;
  }
  void hex(unsigned long long v, int min_digits = 1) {
    char tmp[20];
    int n = 0;
    do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v != 0 || n < min_digits);
    str("0x");
    while (n > 0 && len_ < kCap - 1) buf_[len_++] = tmp[--n];
    buf_[len_] = 0;
  }
  void level(std::uint8_t l) {
    hex(l, 2);
    const std::string_view name = level_name(static_cast<Level>(l));
    if (name.size() > 0 && name[0] != '0') {
      str(" ");
      str(name);
    }
  }
  void where(const std::source_location& w) {
    if (w.file_name() == nullptr || w.file_name()[0] == 0) {
      str("(no source location)");
      return;
    }
    str(w.file_name());
    str(":");
    dec(w.line());
    str(" in ");
    str(w.function_name());
  }
  void lock(const Lock* l) {
    str("\"");
    str(l->name());
    str("\" level ");
    level(to_int(l->level()));
    str(" at ");
    hex(reinterpret_cast<std::uintptr_t>(l));
    str(" (owner ");
    const int owner = l->owner();
    if (owner < 0) str("none"); else { str("cpu "); dec(owner); }
    str(")");
  }
  // A return address as module+offset (what addr2line -e module takes), with the dynamic symbol
  // and offset where dladdr() finds one.
  void frame(std::uintptr_t pc) {
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_fname == nullptr) {
      hex(pc);
      return;
    }
    str(info.dli_fname[0] != 0 ? info.dli_fname : "(program)");
    str("+");
    hex(pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
    if (info.dli_sname != nullptr) {
      str(" (");
      str(info.dli_sname);
      str("+");
      hex(pc - reinterpret_cast<std::uintptr_t>(info.dli_saddr));
      str(")");
    }
  }
  const char* data() const { return buf_; }
  unsigned size() const { return len_; }

 private:
  static constexpr unsigned kCap = 12288;
  char buf_[kCap];
  unsigned len_ = 0;
};

// The return addresses above the report, for a site without a source location: a C free() through
// the drop-in allocator, a deferred free, a lock's destructor. _Unwind_Backtrace walks the stack
// with the unwind tables every C++ program has; it allocates nothing (unlike glibc's backtrace(),
// whose first call loads libgcc_s).
struct Frames {
  static constexpr int kMax = 24;
  std::uintptr_t pc[kMax];
  int n = 0;
};

_Unwind_Reason_Code collect_frame(_Unwind_Context* context, void* arg) {
  auto* f = static_cast<Frames*>(arg);
  const auto pc = static_cast<std::uintptr_t>(_Unwind_GetIP(context));
  if (pc == 0 || f->n == Frames::kMax) return _URC_END_OF_STACK;
  f->pc[f->n++] = pc;
  return _URC_NO_REASON;
}

// Whether a frame is smplock's own code or an allocation entry point the user's call came through
// (free, operator delete...): skipped, so the first frame printed is the user's, where the dynamic
// symbols tell. In a program that links the library statically and exports no symbols, every
// frame of the program looks alike, so the library's own frames are printed too.
bool library_frame(std::uintptr_t pc, const void* own_module) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0) return false;
  if (info.dli_sname != nullptr) {
    const char* n = info.dli_sname;
    if (std::strncmp(n, "_ZN7smplock", 11) == 0 || std::strncmp(n, "_ZNK7smplock", 12) == 0) return true;
    static const char* const kEntries[] = {"free", "cfree", "malloc", "realloc", "calloc", "_ZdlPv", "_ZdaPv",
                                           "_ZdlPvm", "_ZdaPvm"};
    for (const char* e : kEntries)
      if (std::strcmp(n, e) == 0) return true;
  }
  // A shared smplock (libsmplock-malloc.so) is a module of its own: none of its frames is the user's.
  if (info.dli_fbase == own_module && info.dli_fname != nullptr) {
    const char* slash = std::strrchr(info.dli_fname, '/');
    const char* base = slash != nullptr ? slash + 1 : info.dli_fname;
    if (std::strncmp(base, "libsmplock", 10) == 0 && std::strstr(base, ".so") != nullptr) return true;
  }
  return false;
}

}  // namespace

CrashHook set_crash_hook(CrashHook hook) { return g_hook.exchange(hook); }

namespace detail {

void violation(Rule rule, const char* what, const Lock* lock, CpuRecord* cpu, std::source_location where,
               const char* extra_label, int extra_level) {
  // A crash while reporting a crash (a broken hook, a second thread) goes straight to abort().
  if (g_crashing.fetch_add(1) != 0) {
    static const char kAgain[] = "smplock: crash while reporting a crash; aborting\n";
    platform::write_all(2, kAgain, sizeof kAgain - 1);
    std::abort();
  }
  Out out;
  out.str("smplock: ");
  out.str(rule == Rule::Fatal ? "FATAL" : "RULE BROKEN");
  out.str(" [");
  out.str(to_string(rule));
  out.str("]: ");
  out.str(what);
  out.str("\n  at       ");
  out.where(where);
  if (where.file_name() == nullptr || where.file_name()[0] == 0) {
    // No source location: the nearest frames outside smplock, as addresses to look up.
    Frames frames;
    _Unwind_Backtrace(collect_frame, &frames);
    Dl_info self{};
    const void* own_module =
        dladdr(reinterpret_cast<void*>(&collect_frame), &self) != 0 ? self.dli_fbase : nullptr;
    int shown = 0;
    for (int i = 0; i < frames.n && shown < 4; ++i) {
      if (library_frame(frames.pc[i], own_module)) continue;
      out.str(shown++ == 0 ? "\n  called from " : "\n           and ");
      out.frame(frames.pc[i]);
    }
  }
  if (lock != nullptr) {
    out.str("\n  lock     ");
    out.lock(lock);
  }
  if (extra_label != nullptr) {
    out.str("\n  ");
    out.str(extra_label);
    for (std::size_t n = std::strlen(extra_label); n < 9; ++n) out.str(" ");
    out.level(static_cast<std::uint8_t>(extra_level));
  }
  out.str("\n  cpu      ");
  if (cpu == nullptr) {
    out.str("none (thread not attached), tid ");
    out.dec(platform::thread_id());
  } else {
    out.dec(cpu->index);
    out.str(" (tid ");
    out.dec(cpu->tid.load(std::memory_order_relaxed));
    out.str(") at level ");
    out.level(cpu->level.load(std::memory_order_relaxed));
    unsigned count = 0;
    for (const HeldEntry& e : cpu->held) {
      count += e.key != 0;
      if ((e.key & kHeldSameClass) != 0)  // and the members of a same-class group below its top
        for (const Lock* l = e.lock()->taken_before_in_class(); l != nullptr; l = l->taken_before_in_class()) ++count;
    }
    out.str("\n  held     ");
    out.dec(count);
    out.str(count == 1 ? " lock" : " locks");
    out.str(count == 0 ? "" : ", lowest first:");
    for (const HeldEntry& e : cpu->held) {
      if (e.key == 0) continue;
      const bool raised = e.lock() == &g_raised_level;
      out.str("\n    ");
      if (raised)
        out.str("level raised (raise_level), no lock");
      else
        out.lock(e.lock());
      if (e.nest != 0) {
        out.str(" nested ");
        out.dec(e.nest);
      }
      out.str(raised ? "\n        raised at " : "\n        acquired at ");
      out.where(e.where);
      out.str(", previous level ");
      out.level(to_int(e.previous()));
      if ((e.key & kHeldSameClass) != 0)  // a same-class group: the members below the top, last first
        for (const Lock* below = e.lock()->taken_before_in_class(); below != nullptr;
             below = below->taken_before_in_class()) {
          out.str("\n    same class, taken before it: ");
          out.lock(below);
        }
    }
    const std::uint32_t pending = cpu->pending.load(std::memory_order_relaxed);
    out.str("\n  pending  ");
    if (pending == 0) out.str("none");
    for (int bit = 15; bit >= 0; --bit) {
      if ((pending & (1u << bit)) == 0) continue;
      out.str(level_name(static_cast<Level>(kIrqLevelLow + bit)));
      out.str("; ");
    }
    if (pending & kPendingSoftint) out.str("softint; ");
    if (pending & kPendingLowipl) out.str("lowipl; ");
  }
  out.str("\n");
  platform::write_all(2, out.data(), out.size());
  if (const CrashHook hook = g_hook.load()) {
    const CrashInfo info{rule, what, lock, cpu ? cpu->index : -1,
                         cpu ? static_cast<Level>(cpu->level.load(std::memory_order_relaxed)) : Level::Null,
                         out.data(), out.size()};
    hook(info);
  }
  static const char kAbort[] = "smplock: aborting\n";
  platform::write_all(2, kAbort, sizeof kAbort - 1);
  std::abort();
}

}  // namespace detail
}  // namespace smplock
