// Call stacks as return addresses, captured with libgcc's unwinder (no frame pointers needed; on
// glibc >= 2.35 it finds each frame's unwind table through _dl_find_object, without a lock). Only
// cold paths capture: a new class, a new edge. Symbol names and lines come later, outside the
// program (`smplock record` reads the trace after the program exits).
#include <link.h>
#include <unwind.h>

#include "runtime.hpp"

namespace smplock::record {
namespace {

std::uintptr_t g_self_lo = 0, g_self_hi = 0;

_Unwind_Reason_Code step(_Unwind_Context* ctx, void* arg) {
  auto* s = static_cast<Stack*>(arg);
  const std::uintptr_t pc = _Unwind_GetIP(ctx);
  if (pc == 0) return _URC_END_OF_STACK;
  // The runtime's own frames (the capture, the interposed call) are not the program's.
  if (s->n == 0 && pc >= g_self_lo && pc < g_self_hi) return _URC_NO_REASON;
  s->pc[s->n++] = pc;
  return s->n == kMaxFrames ? _URC_END_OF_STACK : _URC_NO_REASON;
}

}  // namespace

void capture(Stack& s) {
  s.n = 0;
  _Unwind_Backtrace(step, &s);
}

void start_stacks() {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
  dl_find_object info;
  if (_dl_find_object(reinterpret_cast<void*>(&capture), &info) == 0) {
    g_self_lo = reinterpret_cast<std::uintptr_t>(info.dlfo_map_start);
    g_self_hi = reinterpret_cast<std::uintptr_t>(info.dlfo_map_end);
  }
#else
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&capture), &info) != 0) {
    g_self_lo = reinterpret_cast<std::uintptr_t>(info.dli_fbase);
    g_self_hi = g_self_lo + (1u << 20);
  }
#endif
  // The first unwind loads and initialises what the unwinder needs (it may allocate and lock):
  // done here, at load time, inside the runtime, rather than on some thread's first new lock.
  Inside in;
  Stack warm;
  capture(warm);
}

}  // namespace smplock::record
