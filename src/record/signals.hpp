// How a process image's trace gets written when the image does not reach exit: on a fatal signal
// (the record tool's handler, installed only where the program left the default action) and just
// before an exec replaces the image (signals.cpp). Also who writes it: exactly one writer at a time,
// the first to claim it (trace.cpp writes; signals.cpp decides when).
#pragma once

#include <cstddef>
#include <cstdint>

namespace smplock::record {

// Why the trace is written (the trace's "end"): the image exited, is being replaced by exec, or was
// killed by a fatal signal.
enum class End : std::uint8_t { Exit, Exec, Signal };

inline constexpr std::uint64_t kWaitForever = ~std::uint64_t{0};
inline constexpr std::size_t kPathCap = 4200;

// Builds this image's trace and writes it (trace.cpp). `lock_wait_ns`: how long to wait for the
// runtime's lock (kWaitForever at exit and exec; a signal handler waits a bounded time, then reads
// without it and says so in the trace). An exec's trace gets a name of its own, FILE.<pid>.<n>, so
// that the next image of the same pid can write its own; the path written goes to `written`
// (kPathCap bytes) when it is not null. Async-signal-safe: no malloc, no stdio, no loader lock on
// glibc >= 2.35 (objects are found with _dl_find_object). True when a trace was written.
bool emit_trace(End end, int signal, std::uint64_t lock_wait_ns, char* written);

// The one-writer rule: true when the caller may write (nobody is writing, nobody wrote for good);
// then it must call release_trace: final (exit, signal) or not (an exec that may fail).
bool claim_trace(int signal);
void release_trace(bool final);

// Installs the fatal-signal handlers (from the library's constructor, after start_runtime).
void start_signals();

// Whether the calling thread is inside the runtime, where it may hold the runtime's lock
// (runtime.cpp).
bool inside_runtime();

}  // namespace smplock::record
