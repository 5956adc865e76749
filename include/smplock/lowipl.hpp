// smplock/lowipl.hpp: software interrupts, the work a CPU does when it comes back down to Null.
//
//   lowipl::call()         run fn(arg) once, later, at Softint with no lock held (a deferred
//                          procedure call: the way out of an interrupt handler or a high lock).
//   softint::set_routine() the program's softint routine.
//   softint::request()     ask a CPU to run it.
//
// Both are delivered only to a CPU at Null, and at once: a release to Null, set_softint(true), or
// (for a CPU sitting at Null) the interrupt signal delivers them before anything else runs at
// Null. They run with the CPU at Softint, so they never interrupt each other, and IRQs still
// interrupt them. Code at Null can be interrupted by them at any instruction (possibly inside a
// signal handler): what code at Null shares with them is protected by set_softint(false).
#pragma once

namespace smplock::lowipl {

using Routine = void (*)(void* arg);

// call(fn, arg): queues fn(arg) on the calling CPU (the thread becomes a CPU if it is not one).
// Allowed at any level up to HI, from interrupt handlers and signal handlers; lock-free, never
// allocates. The routine runs exactly once, at Softint with no lock held:
//   - on the calling CPU, the next time it is at Null (so called at Null, it has run before
//     call() returns); routines queued by one CPU run in the order they were queued;
//   - if the thread ends first, on that thread as it ends (it is at Null or Softint then).
// Why the calling CPU: queueing needs no lock and no cross-CPU traffic, the data the routine is
// about is hot in that CPU's cache, and a CPU above Null always comes back down. A CPU that stays
// at Softint forever never runs them. At most 512 may wait per CPU: one more is a fatal crash
// (a CPU that queues that many without coming down is stuck). Crashes (fatal) above HI.
void call(Routine fn, void* arg);

// Routines queued on the calling CPU and not yet run.
unsigned queued();

}  // namespace smplock::lowipl

namespace smplock::softint {

using Routine = void (*)(void* arg, int cpu);

// set_routine(fn, arg): the one softint routine of the program (like OZONE's, which ran the
// scheduler): fn(arg, cpu) runs at Softint on a CPU whose softint was requested. nullptr (the
// default) makes a softint do nothing. Requests that find no routine are consumed.
void set_routine(Routine fn, void* arg);

// request(cpu): marks a softint pending on CPU `cpu`. Requests made before it runs merge into one
// call. Allowed from any thread, at any level, and from a signal handler. On the calling CPU at
// Null it has run before request() returns; another CPU at Null is reached by the interrupt
// signal. Crashes (fatal) on a CPU index that is not attached.
void request(int cpu);

}  // namespace smplock::softint
