// The block cache and the disks: a read looks its block up in the volume's cache (hash + clock
// list); a miss takes an IRP and a page, inserts the block as "reading", queues the IRP on the
// disk and raises its IRQ (one in eight on another CPU); the handler copies the block into the
// page and its lowipl routine marks the block valid and wakes every reader waiting on it.
//
// Locks, in this order: HT ; CP (a hit) ; VL -> NP (-> QU), VL -> PM or VL -> CP (evict), VL -> CP
// (insert), VL -> DV -> IRQ line (a miss) ; EV -> TP to wait. Lowipl: DV -> IRQ line ; CP ;
// EV -> TP -> TC ; NP. Coarse's CP is PM's lock; ozone gives each cache its own.
#include <cstring>

#include "objects.hpp"
#include "smplock/irq.hpp"
#include "smplock/lowipl.hpp"

namespace smplock::pound::detail {

Block* Kernel::cache_lookup(Cache& cache, std::uint32_t lbn) {
  for (Block* b = cache.hash[lbn % kHashBuckets]; b != nullptr; b = b->hash_next)
    if (b->lbn == lbn) return b;
  return nullptr;
}

std::int32_t Kernel::evict(Volume& v) {
  Cache& cache = v.cache;
  Held cp(cache.cp);
  unsigned looked = 0;
  // The clock: from the cold end, a referenced block goes back to the hot end with its bit
  // cleared; the first unreferenced, unpinned, valid one is evicted.
  Block* next = nullptr;
  for (Block* b = cache.lru.lru_prev; b != &cache.lru && looked < 64; b = next, ++looked) {
    next = b->lru_prev;
    if (b->pins.load(std::memory_order_acquire) != 0 || b->state != BlockState::Valid) continue;
    if (b->referenced) {
      b->referenced = false;
      b->lru_prev->lru_next = b->lru_next;
      b->lru_next->lru_prev = b->lru_prev;
      b->lru_next = cache.lru.lru_next;
      b->lru_prev = &cache.lru;
      b->lru_next->lru_prev = b;
      cache.lru.lru_next = b;
      continue;
    }
    Block** link = &cache.hash[b->lbn % kHashBuckets];
    while (*link != b) link = &(*link)->hash_next;
    *link = b->hash_next;
    b->lru_prev->lru_next = b->lru_next;
    b->lru_next->lru_prev = b->lru_prev;
    const std::int32_t page = b->page;
    b->page = -1;
    b->state = BlockState::Free;
    b->next = cache.free_desc;
    cache.free_desc = b;
    --cache.blocks;
    ++cache.evictions;
    return page;
  }
  return -1;
}

void Kernel::cache_unpin(Volume&, Block* b) {
  // No lock: a pin is a count (as buffer reference counts are in most kernels).
  b->pins.fetch_sub(1, std::memory_order_release);
}

Outcome Kernel::disk_read(Cpu& c, Thread& t) {
  Process& p = *t.proc;
  const Handle h = lookup_handle(p, 8 + t.rng.below(8));
  Volume& v = *volumes_[h.index / kFilesPerVolume];
  const unsigned file = h.index % kFilesPerVolume;
  if ((h.access & 1) == 0) {
    ++c.denied;
    return Outcome::Done;
  }
  Disk& d = *v.disk;
  const unsigned file_block = t.rng.below(kFileBlocks);
  const unsigned offset = t.rng.below(4) * 1024;
  Block* b = nullptr;
  bool valid = false;
  Irp* irp = nullptr;
  // The file's block map is the open file's (fixed once the file is open): no lock to read it.
  const std::uint32_t lbn = v.filemap[file][file_block];
  {
    Held cp(v.cache.cp);  // a hit needs only the cache's lock
    b = cache_lookup(v.cache, lbn);
    if (b != nullptr) {
      b->pins.fetch_add(1, std::memory_order_relaxed);  // under cp
      ++v.cache.hits;
      valid = b->state == BlockState::Valid;
      b->referenced = true;  // a second chance when the clock comes round, no list surgery now
    }
  }
  if (b == nullptr) {
    Held vl(v.vl);  // a miss: the volume is held while the read is started
    ++v.reads;
    {
      // A miss: an IRP (VL -> NP), a page (VL -> PM, or CP to evict), then the block.
      irp = static_cast<Irp*>(pool->alloc(sizeof(Irp), &p.quota));
      if (irp == nullptr) {
        ++c.disk_again;
        return Outcome::Done;
      }
      const std::int32_t page = page_or_evict(PageOwner::Cache, v.index);
      if (page < 0) {
        pool->free(irp, &p.quota);
        ++c.disk_again;
        return Outcome::Done;
      }
      bool raced = false;
      {
        Held cp(v.cache.cp);
        b = cache_lookup(v.cache, lbn);
        if (b != nullptr) {  // another thread brought it in meanwhile
          b->pins.fetch_add(1, std::memory_order_relaxed);
          ++v.cache.races;
          valid = b->state == BlockState::Valid;
          raced = true;
        } else {
          b = v.cache.free_desc;
          v.cache.free_desc = b->next;
          b->lbn = lbn;
          b->page = page;
          b->state = BlockState::Reading;
          b->referenced = false;
          b->pins.store(1, std::memory_order_relaxed);
          b->flag.set = false;
          b->hash_next = v.cache.hash[lbn % kHashBuckets];
          v.cache.hash[lbn % kHashBuckets] = b;
          b->lru_next = v.cache.lru.lru_next;
          b->lru_prev = &v.cache.lru;
          b->lru_next->lru_prev = b;
          v.cache.lru.lru_next = b;
          ++v.cache.blocks;
          ++v.cache.misses;
        }
      }
      if (raced) {
        page_free(page);
        pool->free(irp, &p.quota);
        irp = nullptr;
      } else {
        irp->block = b;
        irp->lbn = lbn;
        irp->owner = &p;
        c.io_started.fetch_add(1, std::memory_order_relaxed);
        c.disk_irps.fetch_add(1, std::memory_order_relaxed);
        Held dv(d.dv);  // VL -> DV -> IRQ line
        ++d.submitted;
        Held line(d.line);
        d.hw.push(irp);
      }
    }
  }
  if (irp != nullptr) {
    // The disk interrupts the CPU that started the read, and one read in kRemoteIrqEvery
    // another CPU (reached by a signal), whose lowipl routine then wakes the reader from there.
    const unsigned turn = d.steer.fetch_add(1, std::memory_order_relaxed);  // a count, orders nothing
    const unsigned target = turn % kRemoteIrqEvery == 0 ? (c.n + 1) % config_.cpus : c.n;
    irq::raise(d.irq, cpus[target]->index);
  }
  if (!valid && !wait_flag(b->flag, t, /*consume=*/false)) {
    t.cont = Continue::DiskRead;
    t.cont_block = b;
    t.cont_volume = &v;
    t.cont_offset = offset;
    return Outcome::Blocked;
  }
  return disk_finish(c, t, v, b, offset);
}

Outcome Kernel::disk_finish(Cpu& c, Thread& t, Volume& v, Block* b, unsigned offset) {
  // The block is valid and pinned: copy from the cache page to user space, no lock held.
  const unsigned char* frame = pm_.frame(b->page) + offset;
  std::memcpy(t.buf, frame, 1024);
  for (std::size_t k : {std::size_t{0}, std::size_t{63}, std::size_t{127}}) {
    std::uint64_t w;
    std::memcpy(&w, t.buf + k * 8, 8);
    if (w != disk_word(v.index, b->lbn, offset / 8 + k)) ++c.verify_failures;
  }
  cache_unpin(v, b);
  return Outcome::Done;
}

void Kernel::disk_irq(void* arg) {
  // At the line's level with its lock held: the disk transfers each block into its page.
  Disk& d = *static_cast<Disk*>(arg);
  Kernel& k = *d.kernel;
  while (Irp* irp = d.hw.pop()) {
    const std::uint64_t* src = d.image.data() + std::size_t{irp->lbn} * (kBlockBytes / 8);
    std::memcpy(k.pm_.frame(irp->block->page), src, kBlockBytes);  // the DMA
    d.done.push(irp);
  }
  if (!d.dpc_queued && d.done.count != 0) {
    d.dpc_queued = true;
    k.this_cpu().lowipl_calls.fetch_add(1, std::memory_order_relaxed);
    lowipl::call(disk_dpc, &d);
  }
}

void Kernel::disk_dpc(void* arg) {
  Disk& d = *static_cast<Disk*>(arg);
  Held entry(d.kernel->kernel_);
  d.kernel->disk_complete(d);
}

void Kernel::disk_complete(Disk& d) {
  Fifo<Irp> done;
  {
    Held dv(d.dv);
    Held line(d.line);
    done = d.done.take();
    d.dpc_queued = false;
    line.release();
    d.completed += done.count;
  }
  Volume& v = *d.volume;
  Cpu& c = this_cpu();
  while (Irp* irp = done.pop()) {
    Block* b = irp->block;
    {
      Held cp(v.cache.cp);
      b->state = BlockState::Valid;
    }
    set_flag(b->flag);  // EV -> TP -> TC: wake the readers
    pool->free(irp, &irp->owner->quota);
    c.io_finished.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace smplock::pound::detail
