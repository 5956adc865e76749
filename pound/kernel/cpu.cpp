// A CPU's loop: take the next ready thread, run its system calls (each one inside the kernel lock
// where the step has one: giant's "acquire on entering kernel mode"), its user-mode stretches with
// no lock at all (one after every system call, Config::user_ns long, and the mix's own "user work"
// operations), switch when the timer asks or the thread blocks. Also the drain at the end.
//
// Locks: the kernel lock (giant only) around each system call, then whatever the path takes
// (docs/pound.md, "Lock order of each path"); the return to user mode takes PS ; TP; a thread
// switch TP -> TC ; TC ; TP (sched.cpp). User mode takes none.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "objects.hpp"
#include "smplock/irq.hpp"

namespace smplock::pound::detail {

void Kernel::cpu_main(Cpu& c) {
  // Acquire: pairs with the release store of stop, so everything after the loop (the end of the
  // run, the kernel's destruction) follows it.
  while (!stop.load(std::memory_order_acquire)) {
    if (c.current == nullptr || c.resched.exchange(false, std::memory_order_relaxed)) switch_thread(c);
    Thread* t = c.current;
    if (t == nullptr) {
      // Idle: watch the queue without taking its lock (interrupts still come in, at Null).
      ++c.idle_loops;
      while (ready_.visible.load(std::memory_order_relaxed) == 0 && !stop.load(std::memory_order_relaxed))
        std::this_thread::yield();
      continue;
    }
    Path p;
    Outcome o = Outcome::Done;
    if (t->cont != Continue::None) {
      p = t->cont == Continue::NetRecv ? Path::NetRecv : Path::DiskRead;
    } else {
      unsigned r = t->rng.below(100);
      unsigned i = 0;
      while (r >= kWeights[i]) r -= kWeights[i++];
      p = static_cast<Path>(i);
    }
    if (p == Path::UserWork) {
      user_work(*t);
    } else {
      // A system call: the whole of it inside the kernel lock where the set has one (giant).
      Held entry(kernel_);
      o = t->cont != Continue::None ? resume(c, *t) : run_path(c, *t, p);
      if (o == Outcome::Blocked) {
        entry.release();
        ++c.waits;
        switch_thread(c);
        continue;
      }
      syscall_exit(*t);
      entry.release();
      // Back in user mode: "release [the lock] before returning to user mode".
      user_mode(*t);
    }
    ++c.ops[static_cast<unsigned>(p)];
    c.ops_so_far.store(c.ops_so_far.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  switch_thread(c, /*pick_next=*/false);
}

void Kernel::drain(Cpu& c) {
  while (!timer_stopped.load(std::memory_order_acquire)) std::this_thread::yield();
  auto quiet = [&] {
    if (io_in_flight() != 0) return false;
    if (c.ticks.load(std::memory_order_relaxed) != c.timer_dpcs.load(std::memory_order_relaxed)) return false;
    // Every raise delivered (or merged into a delivery). A delivery may also be counted for a
    // raise from before the counters were reset (a CPU record's pending bit outlives its thread),
    // hence >=.
    for (unsigned n : lines()) {
      const irq::LineStats s = irq::line_stats(n);
      if (s.merged + s.delivered < s.raised) return false;
    }
    return true;
  };
  // At Null: interrupts and lowipl routines aimed at this CPU run as they come.
  while (!quiet()) std::this_thread::yield();
}

Outcome Kernel::run_path(Cpu& c, Thread& t, Path p) {
  switch (p) {
    case Path::NetSend: return net_send(c, t);
    case Path::NetRecv: return net_recv(c, t, nullptr);
    case Path::DiskRead: return disk_read(c, t);
    case Path::PageFault: page_fault(c, t); break;
    case Path::Unmap: unmap(t); break;
    case Path::EventPost: event_post(t); break;
    case Path::EventPoll: event_poll(t); break;
    case Path::FamilySignal: family_signal(t); break;
    case Path::ProcInfo: proc_info(t); break;
    case Path::ProcSpawn: proc_spawn(t); break;
    case Path::HandleOpen: handle_open(t); break;
    case Path::UserWork: break;  // not a system call: the loop runs it outside the kernel
    case Path::kCount: break;
  }
  return Outcome::Done;
}

Outcome Kernel::resume(Cpu& c, Thread& t) {
  const Continue k = t.cont;
  t.cont = Continue::None;
  if (k == Continue::NetRecv) return net_recv(c, t, t.cont_conn);
  Block* b = t.cont_block;
  if (!wait_flag(b->flag, t, /*consume=*/false)) {
    t.cont = Continue::DiskRead;
    return Outcome::Blocked;
  }
  return disk_finish(c, t, *t.cont_volume, b, t.cont_offset);
}

void Kernel::user_mode(Thread& t) {
  // The program's own computation between two system calls: a hash chain over its own buffer, so
  // it costs time on this CPU and touches nothing any other CPU does.
  std::uint64_t h = t.sink;
  for (unsigned i = 0; i < user_iterations; ++i) {
    std::uint64_t w;
    std::memcpy(&w, t.buf + (i % 64) * 8, 8);
    h = mix(h, w);
  }
  t.sink = h;
}

double user_mode_ns_per_iteration() {
  // The best of a few timed batches: a batch the OS interrupted only looks slower.
  constexpr unsigned kBatch = 20000;
  double best = 1e9;
  alignas(16) unsigned char buf[512]{};
  std::uint64_t h = 1;
  for (int attempt = 0; attempt < 7; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < kBatch; ++i) {
      std::uint64_t w;
      std::memcpy(&w, buf + (i % 64) * 8, 8);
      h = mix(h, w);
    }
    const auto t1 = std::chrono::steady_clock::now();
    asm volatile("" : : "r"(h));
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / kBatch);
  }
  buf[0] = static_cast<unsigned char>(h);
  asm volatile("" : : "r"(buf) : "memory");
  return std::max(best, 0.05);
}

void Kernel::user_work(Thread& t) {
  // User mode: a hash over the thread's own buffer, no lock, no kernel data.
  std::uint64_t h = t.sink;
  for (std::size_t i = 0; i < 512; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, t.buf + i, 8);
    h = mix(h, w);
  }
  t.sink = h;
}

}  // namespace smplock::pound::detail
