// The end of a run: every invariant of the model checked on one CPU with the others parked and
// nothing in flight (threads, packets, disks and caches, pages, processes and quota, data, the
// timer), then everything given back and checked to be back.
//
// Locks: none while checking (plain reads after a barrier); the teardown takes DV -> IRQ line,
// HT, CP then PM (never PM inside CP), PT -> PM, as the paths do.
#include <algorithm>
#include <span>
#include <string>

#include <fmt/format.h>

#include "objects.hpp"
#include "smplock/irq.hpp"

namespace smplock::pound::detail {

namespace {

void expect(Result& r, bool ok, std::string line) {
  if (!ok) r.failures.push_back(line);
  r.checks.push_back(std::move(line));
}

}  // namespace

void Kernel::check(Result& r) {
  // Runs on one CPU with every other CPU parked and nothing in flight: plain reads.
  // Threads: each one ready, in the COM queue exactly once; nobody waits on any flag.
  {
    std::vector<unsigned> seen(threads_.size(), 0);
    for (Thread* t = ready_.head; t != nullptr; t = t->next_ready) ++seen[t->id];
    unsigned ready = 0, once = 0;
    for (auto& t : threads_) {
      if (t->state == RunState::Ready && !t->on_cpu) ++ready;
      if (seen[t->id] == 1) ++once;
    }
    expect(r, ready == threads_.size() && once == threads_.size() && ready_.count == threads_.size(),
           fmt::format("threads: {} of {} ready and in the COM queue once (queue length {})", once,
                       threads_.size(), ready_.count));
    unsigned waiting = 0;
    for (auto& t : threads_) waiting += t->flag.waiters != nullptr;
    for (auto& c : conns_) waiting += c->flag.waiters != nullptr;
    for (auto& v : volumes_)
      for (const Block& b : std::span(v->cache.descs.get(), kPages)) waiting += b.flag.waiters != nullptr;
    expect(r, waiting == 0, fmt::format("event flags: {} with waiters left", waiting));
    std::uint64_t posted = 0, delivered = 0, pending = 0, syscalls = 0;
    for (auto& t : threads_) {
      posted += t->asts_posted;
      delivered += t->asts_delivered;
      pending += t->asts;
      syscalls += t->syscalls;
    }
    expect(r, posted == delivered + pending,
           fmt::format("ASTs: {} posted = {} delivered + {} pending", posted, delivered, pending));
    const std::uint64_t kernel_ops = r.total_ops() - r.ops[static_cast<unsigned>(Path::UserWork)];
    std::uint64_t by_processes = 0;
    for (auto& p : procs_) by_processes += p->syscalls;
    expect(r, syscalls == kernel_ops && by_processes == kernel_ops,
           fmt::format("system calls: {} counted by threads = {} by processes = {} completed by CPUs", syscalls,
                       by_processes, kernel_ops));
  }
  // Network: every packet sent was delivered or dropped, every delivered one received or queued.
  std::uint64_t queued_packets = 0;
  {
    std::uint64_t sent = 0, delivered = 0, dropped = 0, dequeued = 0, in_flight = 0, nic_sent = 0, nic_done = 0;
    for (auto& c : conns_) {
      sent += c->snd_next;
      delivered += c->delivered;
      dropped += c->dropped;
      dequeued += c->dequeued;
      in_flight += c->in_flight;
      queued_packets += c->rxq.count;
    }
    unsigned hw = 0, posted_ok = 0;
    for (auto& n : nics_) {
      nic_sent += n->sent;
      nic_done += n->completed;
      hw += n->hw_tx.count + n->rx_done.count + n->tx_done.count;
      posted_ok += n->rx_posted.count == kRxPosted && n->posted == kRxPosted;
    }
    expect(r, sent == delivered + dropped && in_flight == 0,
           fmt::format("packets: {} sent = {} delivered + {} dropped, {} in flight", sent, delivered, dropped,
                       in_flight));
    expect(r, delivered == dequeued + queued_packets,
           fmt::format("packets: {} delivered = {} received + {} queued", delivered, dequeued, queued_packets));
    expect(r, nic_sent == sent && nic_done == sent && hw == 0 && posted_ok == nics_.size(),
           fmt::format("NICs: {} queued = {} completed, {} on the hardware lists, {} of {} with {} buffers posted",
                       nic_sent, nic_done, hw, posted_ok, nics_.size(), kRxPosted));
  }
  // Disks and caches: every read done, every block valid and unpinned, lists consistent.
  std::uint64_t cache_pages = 0;
  std::vector<unsigned> page_refs(kPages, 0);
  {
    std::uint64_t submitted = 0, completed = 0, misses = 0;
    unsigned bad_blocks = 0, list_errors = 0, hw = 0;
    // A thread that slept on a read and was woken, but has not run since, still pins its block.
    std::vector<std::pair<const Block*, unsigned>> expected_pins;
    for (auto& t : threads_)
      if (t->cont == Continue::DiskRead) expected_pins.emplace_back(t->cont_block, 0u);
    auto pins_of = [&](const Block* b) {
      unsigned n = 0;
      for (auto& [blk, unused] : expected_pins) n += blk == b;
      return n;
    };
    for (auto& v : volumes_) {
      Cache& cache = v->cache;
      submitted += v->disk->submitted;
      completed += v->disk->completed;
      hw += v->disk->hw.count + v->disk->done.count;
      misses += cache.misses;
      unsigned hashed = 0, lru = 0, free_descs = 0;
      for (Block* b : cache.hash)
        for (; b != nullptr; b = b->hash_next) {
          ++hashed;
          if (b->state != BlockState::Valid || b->pins.load() != pins_of(b) || !b->flag.set) ++bad_blocks;
          if (b->page >= 0) ++page_refs[static_cast<unsigned>(b->page)];
          if (b->page < 0 || pm_.owner[static_cast<unsigned>(b->page)] != PageOwner::Cache) ++bad_blocks;
        }
      for (Block* b = cache.lru.lru_next; b != &cache.lru && lru <= kPages; b = b->lru_next) ++lru;
      for (Block* b = cache.free_desc; b != nullptr && free_descs <= kPages; b = b->next) ++free_descs;
      if (hashed != cache.blocks || lru != cache.blocks || free_descs + cache.blocks != kPages) ++list_errors;
      cache_pages += cache.blocks;
    }
    std::uint64_t irps = 0;
    for (auto& c : cpus) irps += c->disk_irps.load(std::memory_order_relaxed);
    expect(r, submitted == completed && completed == misses && misses == irps && hw == 0,
           fmt::format("disk reads: {} submitted = {} completed = {} cache misses, {} left on the hardware",
                       submitted, completed, misses, hw));
    expect(r, bad_blocks == 0 && list_errors == 0,
           fmt::format("block caches: {} blocks, {} not valid/unpinned/owned, {} caches with inconsistent lists",
                       cache_pages, bad_blocks, list_errors));
  }
  // Physical memory: every page free, in one cache block, or mapped once.
  std::uint64_t mapped = 0;
  {
    for (auto& p : procs_)
      for (std::int32_t pte : p->pte)
        if (pte >= 0) {
          ++mapped;
          ++page_refs[static_cast<unsigned>(pte)];
          if (pm_.owner[static_cast<unsigned>(pte)] != PageOwner::Process) page_refs[static_cast<unsigned>(pte)] += 2;
        }
    for (std::int32_t f : pm_.free_pages) ++page_refs[static_cast<unsigned>(f)];
    unsigned bad = 0;
    for (unsigned i = 0; i < kPages; ++i) bad += page_refs[i] != 1;
    expect(r, bad == 0 && pm_.free_pages.size() + cache_pages + mapped == kPages,
           fmt::format("pages: {} free + {} cached + {} mapped = {} ({} pages not owned exactly once)",
                       pm_.free_pages.size(), cache_pages, mapped, kPages, bad));
  }
  // Processes, ids and quota.
  {
    unsigned live_children = 0, refs = 0, dup = 0;
    std::vector<std::uint32_t> pids;
    for (auto& p : procs_) {
      refs += p->refs + p->dying;
      if (!p->live) continue;
      if (p->slot >= config_.processes) ++live_children;
      pids.push_back(p->pid);
    }
    std::sort(pids.begin(), pids.end());
    dup = static_cast<unsigned>(pids.end() - std::unique(pids.begin(), pids.end()));
    expect(r, live_children == spawned_ - reaped_ && refs == 0 && dup == 0,
           fmt::format("processes: {} spawned - {} reaped = {} alive, {} ids in use twice, {} references left",
                       spawned_, reaped_, live_children, dup, refs));
    unsigned quota_bad = 0;
    std::int64_t objects = 0;
    for (unsigned s = 0; s < config_.processes; ++s) {
      Process& p = *procs_[s];
      std::size_t expected = 0;
      for (std::int32_t pte : p.pte) expected += pte >= 0 ? kPageBytes : 0;
      for (Thread* t : p.family) {
        if (t->extra_handle >= 0) {
          expected += pool->charged_size(kObjectBytes);
          ++objects;
        }
        if (t->child >= 0) {
          expected += pool->charged_size(kPcbBytes);
          ++objects;
        }
      }
      quota_bad += pool->used(p.quota) != expected;
    }
    expect(r, quota_bad == 0,
           fmt::format("quota: {} of {} processes charged other than their pages and blocks", quota_bad,
                       config_.processes));
    const std::int64_t posted = static_cast<std::int64_t>(nics_.size()) * kRxPosted;
    const std::int64_t expected_blocks = objects + static_cast<std::int64_t>(queued_packets) + posted;
    expect(r, pool->live_blocks() == expected_blocks,
           fmt::format("pool: {} blocks live = {} posted buffers + {} queued packets + {} objects and bodies",
                       pool->live_blocks(), posted, queued_packets, objects));
  }
  // Data and interrupts.
  {
    std::uint64_t bad = 0, ticks = 0, dpcs = 0;
    for (auto& c : cpus) {
      bad += c->verify_failures + c->dpc_verify_failures;
      ticks += c->ticks.load(std::memory_order_relaxed);
      dpcs += c->timer_dpcs.load(std::memory_order_relaxed);
    }
    expect(r, bad == 0, fmt::format("data: {} packets or disk blocks read back wrong", bad));
    const irq::LineStats timer = irq::line_stats(kIrqTimer);
    expect(r, ticks == dpcs && ticks >= timer.delivered && timer.raised == timer_raises.load() &&
                  timer.merged + timer.delivered >= timer.raised,
           fmt::format("timer: {} raised, {} delivered ({} merged), {} ticks counted, {} lowipl routines run",
                       timer.raised, timer.delivered, timer.merged, ticks, dpcs));
  }
}

void Kernel::teardown_and_check(Result& r) {
  // Give everything back, then nothing may be left: no block, no page, no quota.
  for (auto& c : conns_)
    while (Packet* pk = c->rxq.pop()) pool->free(pk, nullptr);
  for (auto& n : nics_) {
    Held dv(n->dv);
    Held line(n->line);
    Fifo<Packet> posted = n->rx_posted.take();
    n->posted = 0;
    line.release();
    while (Packet* pk = posted.pop()) pool->free(pk, nullptr);
  }
  for (auto& t : threads_) {
    Process& p = *t->proc;
    if (t->cont == Continue::DiskRead) {
      // Woken but never run again: the read is abandoned, its pin dropped.
      cache_unpin(*t->cont_volume, t->cont_block);
      t->cont = Continue::None;
    }
    if (t->extra_handle >= 0) {
      void* object;
      {
        Held ht(p.ht);
        object = p.handles[t->extra_handle].object;
        p.handles[t->extra_handle] = Handle{};
      }
      pool->free(object, &p.quota);
      t->extra_handle = -1;
    }
    while (t->child >= 0) proc_spawn(*t);  // reaps it
  }
  for (auto& v : volumes_) {
    std::vector<std::int32_t> pages;
    {
      Held cp(v->cache.cp);
      for (Block*& head : v->cache.hash) {
        for (Block* b = head; b != nullptr; b = b->hash_next) {
          pages.push_back(b->page);
          b->page = -1;
          b->state = BlockState::Free;
        }
        head = nullptr;
      }
    }
    for (std::int32_t page : pages) page_free(page);  // CP, then PM: never PM inside CP
  }
  for (unsigned s = 0; s < config_.processes; ++s) {
    Process& p = *procs_[s];
    Held pt(p.pt);
    for (std::int32_t& pte : p.pte) {
      if (pte < 0) continue;
      page_free(pte);
      pte = -1;
      pool->credit(p.quota, kPageBytes);
    }
  }
  unsigned quota_left = 0;
  for (auto& p : procs_) quota_left += pool->used(p->quota) != 0;
  expect(r, pool->live_blocks() == 0 && quota_left == 0 && pm_.free_pages.size() == kPages,
         fmt::format("teardown: {} pool blocks, {} processes with quota, {} of {} pages not returned",
                     pool->live_blocks(), quota_left, kPages - pm_.free_pages.size(), kPages));
}

}  // namespace smplock::pound::detail
