// Physical memory and page tables: 2,048 pages shared by the block caches and the processes.
// A page fault maps a page (quota charged, a free page or an evicted cache block, zeroed outside
// any lock, then mapped); unmap gives 8 pages back.
//
// Locks, in this order: PT ; QU ; PM (or CP to evict, then PM) ; PT (page fault) ; PT -> PM,
// PT -> QU (unmap). Never PM inside CP: an eviction releases CP before it takes PM.
#include <cstring>

#include "objects.hpp"

namespace smplock::pound::detail {

std::int32_t Kernel::page_alloc(PageOwner owner) {
  Held pm(pm_.pm);
  if (pm_.free_pages.empty()) return -1;
  const std::int32_t page = pm_.free_pages.back();
  pm_.free_pages.pop_back();
  pm_.owner[static_cast<unsigned>(page)] = owner;
  ++pm_.allocs;
  return page;
}

void Kernel::page_free(std::int32_t page) {
  Held pm(pm_.pm);
  pm_.owner[static_cast<unsigned>(page)] = PageOwner::Free;
  pm_.free_pages.push_back(page);
  ++pm_.frees;
}

std::int32_t Kernel::page_or_evict(PageOwner owner, unsigned prefer_volume) {
  std::int32_t page = page_alloc(owner);
  if (page >= 0) return page;
  for (unsigned i = 0; i < kVolumes; ++i) {
    page = evict(*volumes_[(prefer_volume + i) % kVolumes]);
    if (page >= 0) {
      Held pm(pm_.pm);
      pm_.owner[static_cast<unsigned>(page)] = owner;
      return page;
    }
  }
  return -1;
}

void Kernel::page_fault(Cpu& c, Thread& t) {
  Process& p = *t.proc;
  const unsigned vpage = t.rng.below(kVirtualPages);
  {
    Held pt(p.pt);
    if (p.pte[vpage] >= 0) {
      // Mapped already: a soft fault (the page was only marked not accessed); the handler
      // touches it under the page table lock.
      unsigned char* frame = pm_.frame(p.pte[vpage]);
      std::memcpy(frame + (t.id % 64) * 64, &t.id, sizeof t.id);
      return;
    }
  }
  // A hard fault: charge the quota, find a page and zero it before taking the page table again
  // (zeroing 4 KiB under PT would hold every other fault of the process up).
  if (!pool->charge(p.quota, kPageBytes)) {
    ++c.fault_again;
    return;
  }
  std::int32_t page = page_or_evict(PageOwner::Process, t.id % kVolumes);  // PM (or CP to evict)
  if (page < 0) {
    pool->credit(p.quota, kPageBytes);
    ++c.fault_again;
    return;
  }
  std::memset(pm_.frame(page), 0, kPageBytes);
  {
    Held pt(p.pt);
    if (p.pte[vpage] < 0) {
      p.pte[vpage] = page;
      page = -1;
    }
  }
  if (page >= 0) {  // a sibling thread mapped it meanwhile
    page_free(page);
    pool->credit(p.quota, kPageBytes);
  }
}

void Kernel::unmap(Thread& t) {
  Process& p = *t.proc;
  const unsigned base = t.rng.below(kVirtualPages / 8) * 8;
  Held pt(p.pt);
  for (unsigned v = base; v < base + 8; ++v) {
    if (p.pte[v] < 0) continue;
    page_free(p.pte[v]);                       // PT -> PM
    p.pte[v] = -1;
    pool->credit(p.quota, kPageBytes);         // PT -> QU
  }
}

}  // namespace smplock::pound::detail
