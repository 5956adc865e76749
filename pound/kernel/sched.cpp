// Threads and events: event flags (set, wait), waking a thread onto the COM queue, the thread
// switch, the return to user mode (ASTs), and the thread-state system calls (event post and
// poll, family signal). Coarse guards all of it with one thread-state lock TS; ozone splits it
// into PS, TF, EV, TP and TC.
//
// Locks, in this order: PS ; TF -> TP (family signal) ; EV -> TP -> TC (set a flag, wake a waiter;
// wait on a flag) ; TP -> TC (a switch queues the old thread) ; TC ; TP (pick the next one).
#include "objects.hpp"

namespace smplock::pound::detail {

void Kernel::make_ready(Thread& t) {
  Held tc(tc_);  // TP -> TC
  ready_.push(&t);
}

void Kernel::wake(Thread& w) {
  Held tp(w.tp);  // EV -> TP
  if (w.state != RunState::Waiting) return;
  w.state = RunState::Ready;
  // Still on its CPU (it has not switched away yet): that CPU queues it when it does.
  if (!w.on_cpu) make_ready(w);
}

void Kernel::set_flag(EventFlag& f) {
  Held ev(f.ev);
  f.set = true;
  Thread* w = f.waiters;
  f.waiters = nullptr;
  while (w != nullptr) {
    Thread* next = w->next_waiter;
    w->next_waiter = nullptr;
    wake(*w);
    w = next;
  }
}

bool Kernel::wait_flag(EventFlag& f, Thread& t, bool consume) {
  Held ev(f.ev);
  if (f.set) {
    if (consume) f.set = false;
    return true;
  }
  t.next_waiter = f.waiters;
  f.waiters = &t;
  Held tp(t.tp);  // EV -> TP
  t.state = RunState::Waiting;
  return false;
}

void Kernel::switch_thread(Cpu& c, bool pick_next) {
  if (Thread* old = c.current; old != nullptr) {
    Held tp(old->tp);
    old->on_cpu = false;
    if (old->state != RunState::Waiting) {
      old->state = RunState::Ready;
      make_ready(*old);
    }
  }
  Thread* next = nullptr;
  if (pick_next) {
    Held tc(tc_);
    next = ready_.pop();
  }
  if (next != nullptr) {
    Held tp(next->tp);
    next->state = RunState::Running;
    next->on_cpu = true;
  }
  c.current = next;
  c.current_proc.store(next != nullptr ? next->proc : nullptr, std::memory_order_relaxed);
  ++c.switches;
}

void Kernel::syscall_exit(Thread& t) {
  // The return to user mode charges the call to the process (its state lock), then to the
  // thread and looks for ASTs (the thread's own lock).
  {
    Held ps(t.proc->ps);
    ++t.proc->syscalls;
  }
  Held tp(t.tp);
  ++t.syscalls;
  if (t.asts != 0) {
    t.asts_delivered += t.asts;
    t.asts = 0;
  }
}

void Kernel::event_post(Thread& t) {
  Process& p = *t.proc;
  Thread* sibling;
  {
    Held tf(p.tf);
    sibling = p.family[t.rng.below(static_cast<unsigned>(p.family.size()))];
  }
  set_flag(sibling->flag);
}

void Kernel::event_poll(Thread& t) {
  Held ev(t.flag.ev);
  if (t.flag.set) t.flag.set = false;
}

void Kernel::family_signal(Thread& t) {
  Process& p = *t.proc;
  Held tf(p.tf);
  for (Thread* s : p.family) {
    Held tp(s->tp);  // TF -> TP, one thread at a time
    ++s->asts;
    ++s->asts_posted;
  }
}

}  // namespace smplock::pound::detail
