// Setup: the kernel's objects, each given the lock of its role by the lock set (so one code runs
// under every step), the disks' images written, the NICs' receive buffers posted.
//
// Locks: none while objects are made (one thread, before the run); posting the receive buffers
// takes DV -> NP (-> QU) and DV -> the IRQ line, as nic_refill does at run time.
#include <algorithm>
#include <span>

#include "objects.hpp"
#include "smplock/cpu.hpp"
#include "smplock/irq.hpp"

namespace smplock::pound::detail {

Kernel::Kernel(const Config& config, LockSet& locks)
    : config_(config),
      kernel_(locks.kernel_lock()),
      tc_(locks.make(Role::TC)),
      pr_(locks.make(Role::PR)),
      se_(locks.make(Role::SE)) {
  pool = make_pool(locks);
  for (unsigned i = 0; i < config.cpus; ++i) {
    cpus.push_back(std::make_unique<Cpu>());
    cpus.back()->kernel = this;
    cpus.back()->n = i;
  }
  cpu_by_index_.assign(max_cpus(), nullptr);

  // Physical memory.
  pm_.pm = locks.make(Role::PM);
  pm_.frames.reset(new unsigned char[std::size_t{kPages} * kPageBytes]);
  pm_.owner.assign(kPages, PageOwner::Free);
  for (unsigned i = kPages; i-- > 0;) pm_.free_pages.push_back(static_cast<std::int32_t>(i));

  // Processes: every slot has its locks; the first `processes` are live and have threads.
  for (unsigned s = 0; s < kMaxProcesses; ++s) {
    auto p = std::make_unique<Process>();
    p->slot = s;
    p->ps = locks.make(Role::PS);
    p->ht = locks.make(Role::HT);
    p->pt = locks.make(Role::PT);
    p->tf = locks.make(Role::TF);
    p->quota.qu = locks.make(Role::QU);
    std::fill(std::begin(p->pte), std::end(p->pte), -1);
    if (s < config.processes) {
      p->live = true;
      p->pid = make_pid(next_pid_gen_++, s);
      SecurityProfile& prof = profiles_[s];
      prof.uid = 1000 + s;
      for (unsigned g = 0; g < 8; ++g) prof.groups[g] = 200 + s * 8 + g;
      prof.groups[7] = 100;  // everyone is in group 100, which the objects' ACLs name
      prof.valid = true;
      for (unsigned i = 0; i < 8; ++i) {
        // Slot i is mostly used by the process's thread i (its own socket); the others share it.
        p->handles[i] = {HandleKind::Connection, (s * 8 + i) % kConnections, nullptr, 3, 0};
        const unsigned volume = i % kVolumes;
        const unsigned file = (s * 5 + i) % kFilesPerVolume;
        p->handles[8 + i] = {HandleKind::File, volume * kFilesPerVolume + file, nullptr, 1, 0};
      }
    }
    procs_.push_back(std::move(p));
  }
  for (unsigned s = 0; s < config.processes; ++s) {
    Process& p = *procs_[s];
    for (unsigned j = 0; j < config.threads_per_process; ++j) {
      auto t = std::make_unique<Thread>();
      t->id = static_cast<unsigned>(threads_.size());
      t->slot = j;
      t->proc = &p;
      t->tp = locks.make(Role::TP);
      t->flag.ev = locks.make(Role::EV);
      t->rng.s = mix(config.seed, t->id) | 1;
      p.family.push_back(t.get());
      ready_.push(t.get());
      threads_.push_back(std::move(t));
    }
  }

  // Network: NICs with receive buffers posted, connections spread over them.
  // The NIC has a queue (its own lock, its own IRQ line) per CPU, up to kMaxNicQueues: a CPU
  // transmits on its own queue, and the loopback receives there, as multiqueue NICs steer them.
  const unsigned queues = std::min(config.cpus, kMaxNicQueues);
  for (unsigned i = 0; i < queues; ++i) {
    auto n = std::make_unique<Nic>();
    n->kernel = this;
    n->index = i;
    n->irq = kIrqNic[i];
    n->dv = locks.make(Role::DV);
    n->line = &irq::line(n->irq);
    nics_.push_back(std::move(n));
  }
  for (unsigned i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<Connection>();
    c->id = i;
    c->cn = locks.make(Role::CN);
    c->flag.ev = locks.make(Role::EV);
    c->acl = {1000 + i % config.processes, 100, 7, 3, 1};
    conns_.push_back(std::move(c));
  }

  // Disks with their images, volumes with their file maps and caches.
  for (unsigned i = 0; i < kVolumes; ++i) {
    auto d = std::make_unique<Disk>();
    d->kernel = this;
    d->index = i;
    d->irq = kIrqDisk[i];
    d->dv = locks.make(Role::DV);
    d->line = &irq::line(d->irq);
    d->image.resize(std::size_t{kDiskBlocks} * kBlockBytes / 8);
    for (unsigned lbn = 0; lbn < kDiskBlocks; ++lbn)
      for (std::size_t w = 0; w < kBlockBytes / 8; ++w) d->image[lbn * (kBlockBytes / 8) + w] = disk_word(i, lbn, w);
    auto v = std::make_unique<Volume>();
    v->index = i;
    v->vl = locks.make(Role::VL);
    v->disk = d.get();
    v->acl = {1000, 100, 7, 3, 1};
    for (unsigned f = 0; f < kFilesPerVolume; ++f)
      for (unsigned b = 0; b < kFileBlocks; ++b) v->filemap[f][b] = f * kFileBlocks + (b * 37) % kFileBlocks;
    Cache& cache = v->cache;
    cache.cp = locks.make(Role::CP);
    cache.lru.lru_next = cache.lru.lru_prev = &cache.lru;
    cache.descs = std::make_unique<Block[]>(kPages);
    for (Block& b : std::span(cache.descs.get(), kPages)) {
      b.flag.ev = locks.make(Role::EV);
      b.next = cache.free_desc;
      cache.free_desc = &b;
    }
    d->volume = v.get();
    disks_.push_back(std::move(d));
    volumes_.push_back(std::move(v));
  }
  // Post the receive buffers (this thread is a CPU already: the caller made sure).
  for (auto& n : nics_) {
    Held dv(n->dv);
    nic_refill(*n);
  }
}

Kernel::~Kernel() = default;

void Kernel::register_cpu(Cpu& c) {
  c.index = cpu_index();
  cpu_by_index_[static_cast<unsigned>(c.index)] = &c;
  pool->prepare_cpu();
}

std::int64_t Kernel::io_in_flight() const {
  std::int64_t n = 0;
  for (const auto& c : cpus)
    n += static_cast<std::int64_t>(c->io_started.load(std::memory_order_relaxed) -
                                   c->io_finished.load(std::memory_order_relaxed));
  return n;
}

Cpu& Kernel::this_cpu() { return *cpu_by_index_[static_cast<unsigned>(cpu_index())]; }

}  // namespace smplock::pound::detail
