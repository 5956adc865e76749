// Processes and security: handle lookup, the access check against a security profile, proc info
// (find a process by id), spawn and reap of short-lived processes, handle open and close.
//
// Locks, in this order: HT (lookup) ; SE ; PR ; PS ; PR (proc info) ;
// NP (-> QU) ; PR ; SE (spawn) / PR ; SE ; PR ; NP (-> QU) (reap) ; SE ; NP (-> QU) ; HT (open).
#include <cstring>

#include "objects.hpp"

namespace smplock::pound::detail {

Handle Kernel::lookup_handle(Process& p, unsigned slot) {
  Held ht(p.ht);
  Handle& h = p.handles[slot];
  ++h.uses;
  return h;
}

unsigned Kernel::socket_slot(Thread& t) {
  // A thread mostly uses its own socket, and one time in eight one its siblings use.
  return t.rng.below(8) != 0 ? t.slot % 8 : t.rng.below(8);
}

bool Kernel::security_check(Process& p, const Acl& acl, std::uint32_t want) {
  Held se(se_);
  const SecurityProfile& prof = profiles_[p.slot];
  std::uint32_t mask = acl.world_mask;
  if (!prof.valid) return false;
  if (prof.uid == acl.owner) {
    mask = acl.owner_mask;
  } else {
    for (std::uint32_t g : prof.groups)
      if (g == acl.group) mask |= acl.group_mask;
  }
  return (mask & want) == want;
}

void Kernel::proc_info(Thread& t) {
  Process& q = *procs_[t.rng.below(kMaxProcesses)];
  // May this process look at that one? (Its security profile against the target's owner.)
  if (!security_check(*t.proc, Acl{1000 + q.slot, 100, 7, 3, 1}, 1)) return;
  std::uint32_t pid;
  bool found = false;
  {
    Held pr(pr_);
    pid = q.pid;
    // Find it by id, as a lookup from user space does: the id's low bits index the process
    // table, the rest must match the slot's current generation.
    Process& slot = *procs_[pid & 0xFF];
    if (slot.live && slot.pid == pid) {
      ++slot.refs;
      found = true;
    }
  }
  if (!found) return;
  {
    Held ps(q.ps);
    ++q.info_reads;
    t.sink += q.ticks;
  }
  Held pr(pr_);
  --q.refs;
}

void Kernel::proc_spawn(Thread& t) {
  Process& p = *t.proc;
  if (t.child < 0) {
    void* body = pool->alloc(kPcbBytes, &p.quota);
    if (body == nullptr) return;
    std::memset(body, 0, kPcbBytes);
    int slot = -1;
    {
      Held pr(pr_);
      for (unsigned s = config_.processes; s < kMaxProcesses; ++s) {
        Process& q = *procs_[s];
        if (q.live || q.dying || q.refs != 0) continue;
        q.live = true;
        q.pid = make_pid(next_pid_gen_++, s);
        q.parent = static_cast<int>(p.slot);
        q.body = body;
        ++spawned_;
        slot = static_cast<int>(s);
        break;
      }
    }
    if (slot < 0) {
      pool->free(body, &p.quota);
      return;
    }
    {
      Held se(se_);
      SecurityProfile& prof = profiles_[slot];
      prof = profiles_[p.slot];
      prof.uid = 2000 + static_cast<std::uint32_t>(slot);
    }
    t.child = slot;
    return;
  }
  Process& q = *procs_[static_cast<unsigned>(t.child)];
  void* body = nullptr;
  {
    Held pr(pr_);
    if (q.refs != 0) return;  // being looked at: reap it later
    q.live = false;
    q.dying = true;
    body = q.body;
    q.body = nullptr;
    ++reaped_;
  }
  {
    Held se(se_);
    profiles_[t.child].valid = false;
  }
  {
    Held pr(pr_);
    q.dying = false;
  }
  pool->free(body, &p.quota);
  t.child = -1;
}

void Kernel::handle_open(Thread& t) {
  Process& p = *t.proc;
  if (t.extra_handle < 0) {
    // Opening checks access once (SE); the handle then carries what was granted.
    const Acl& acl = t.rng.below(2) ? conns_[t.rng.below(kConnections)]->acl : volumes_[t.rng.below(kVolumes)]->acl;
    if (!security_check(p, acl, 1)) {
      ++this_cpu().denied;
      return;
    }
    void* object = pool->alloc(kObjectBytes, &p.quota);
    if (object == nullptr) return;
    std::memset(object, static_cast<int>(t.id), kObjectBytes);
    Held ht(p.ht);
    for (unsigned s = kStaticHandles; s < kHandles; ++s) {
      if (p.handles[s].kind != HandleKind::None) continue;
      p.handles[s] = {HandleKind::Object, s, object, 1, 0};
      t.extra_handle = static_cast<int>(s);
      return;
    }
    ht.release();
    pool->free(object, &p.quota);
    return;
  }
  void* object;
  {
    Held ht(p.ht);
    Handle& h = p.handles[t.extra_handle];
    object = h.object;
    h = Handle{};
  }
  pool->free(object, &p.quota);
  t.extra_handle = -1;
}

}  // namespace smplock::pound::detail
