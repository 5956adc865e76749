// The pound kernel: processes, threads, event flags, a scheduler, a loopback NIC, disks with a
// block cache, physical memory and page tables, security profiles and quota, driven by simulated
// threads on N CPU threads, with a timer IRQ on every CPU and device IRQs whose handlers hand
// their work to lowipl routines.
//
// Every lock comes from the lock set (LockSet::make), so the same code runs under giant, coarse
// and ozone. The level order of the ozone table is the order every path takes its locks in:
//
//   HT  VL  CN  DV  PT  PM  CP  PS  TF  EV  TP  TC  PR  SE  NP  QU  | IRQ lines (handlers)
//
// A path takes locks only upward along that line; where two roles collapse into one lock (coarse's
// TS, giant's GIANT) nothing else is taken between them, so the inner one is a nested (R3) acquire.
// An IRQ handler runs at its line's level and takes no lock below it: it moves hardware lists
// (guarded by the line's own lock) and queues a lowipl routine, which runs at Softint and takes
// the device, connection, cache and thread locks. docs/pound.md lists each path's locks.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <ctime>
#include <chrono>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <span>
#include <thread>

#include <fmt/format.h>

#include "kernel.hpp"
#include "smplock/cpu.hpp"
#include "smplock/irq.hpp"
#include "smplock/lowipl.hpp"

namespace smplock::pound {

std::uint64_t Result::total_ops() const {
  std::uint64_t n = 0;
  for (std::uint64_t v : ops) n += v;
  return n;
}

double Result::ops_per_second() const { return seconds > 0 ? static_cast<double>(total_ops()) / seconds : 0.0; }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string m = line.substr(colon + 1);
        m.erase(0, m.find_first_not_of(" \t"));
        return m;
      }
    }
  }
  return "unknown";
}

namespace detail {
namespace {

// --- sizes ------------------------------------------------------------------------------------

constexpr unsigned kConnections = 64;
constexpr unsigned kMaxNicQueues = 8;  // transmit/receive queues of the NIC, one per CPU up to this
constexpr unsigned kVolumes = 2;          // one disk each
constexpr unsigned kFilesPerVolume = 16;
constexpr unsigned kFileBlocks = 64;      // blocks per file
constexpr unsigned kDiskBlocks = kFilesPerVolume * kFileBlocks;
constexpr std::size_t kBlockBytes = 4096;
constexpr std::size_t kPageBytes = 4096;
constexpr unsigned kPages = 2048;         // 8 MiB of "physical memory" for caches and processes
constexpr unsigned kVirtualPages = 64;    // per process
constexpr unsigned kMaxProcesses = 32;    // process slots; the first `processes` have threads
constexpr unsigned kStaticHandles = 16;   // 0..7 connections, 8..15 files
constexpr unsigned kHandles = 32;         // 16..31 opened and closed by HandleOpen
constexpr unsigned kHashBuckets = 4096;  // per cache: about one block per chain
constexpr unsigned kRxPosted = 64;        // receive buffers each NIC keeps posted
constexpr unsigned kRxQueueLimit = 32;    // packets a connection queues before it drops
constexpr std::size_t kPayloadBytes = 1456;
constexpr std::size_t kObjectBytes = 256;  // an object a handle names (a file control block)
constexpr std::size_t kPcbBytes = 768;     // a spawned process's body
constexpr std::size_t kQuotaBytes = std::size_t{32} << 20;
constexpr unsigned kRemoteIrqEvery = 8;  // disk IRQs sent to another CPU: one in this many
constexpr unsigned kIrqTimer = 0;
constexpr unsigned kIrqNic[kMaxNicQueues] = {10, 11, 9, 3, 4, 5, 6, 7};
constexpr unsigned kIrqDisk[kVolumes] = {14, 15};

// The mix of paths, in percent of a thread's operations.
constexpr unsigned kWeights[kPaths] = {
    /*NetSend*/ 16, /*NetRecv*/ 16,     /*DiskRead*/ 16,   /*PageFault*/ 8,   /*Unmap*/ 2,
    /*EventPost*/ 8, /*EventPoll*/ 6,   /*FamilySignal*/ 3, /*ProcInfo*/ 6,   /*ProcSpawn*/ 2,
    /*HandleOpen*/ 7, /*UserWork*/ 10};
constexpr unsigned weight_total() {
  unsigned t = 0;
  for (unsigned w : kWeights) t += w;
  return t;
}
static_assert(weight_total() == 100);

// --- small things -----------------------------------------------------------------------------

// xorshift64*: each thread's own, deterministic from the seed.
struct Rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  unsigned below(unsigned n) { return static_cast<unsigned>((next() >> 32) % n); }
};

constexpr std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

// One word of the disk's block `lbn` (the disk image is this function, written at setup).
constexpr std::uint64_t disk_word(unsigned volume, unsigned lbn, std::size_t i) {
  return mix((std::uint64_t{volume} << 32) | lbn, i);
}

struct Thread;
struct Process;

// --- event flags --------------------------------------------------------------------------------

// An event flag: set by one party, waited on by others. `set` and the waiter list are under ev.
struct EventFlag {
  Lock* ev = nullptr;
  bool set = false;
  Thread* waiters = nullptr;
};

enum class RunState : std::uint8_t { Ready, Running, Waiting };

// What a blocked thread was doing, resumed when it runs again.
enum class Continue : std::uint8_t { None, NetRecv, DiskRead };

struct Block;
struct Connection;
struct Volume;
class Kernel;

struct alignas(64) Thread {
  unsigned id = 0;
  unsigned slot = 0;                 // its index in the process's family
  Process* proc = nullptr;
  Lock* tp = nullptr;
  // Under tp:
  RunState state = RunState::Ready;
  bool on_cpu = false;
  std::uint32_t asts = 0;            // posted, not yet delivered
  std::uint64_t asts_posted = 0;
  std::uint64_t asts_delivered = 0;
  std::uint64_t syscalls = 0;
  // Under the ready queue's lock (tc):
  Thread* next_ready = nullptr;
  // Under the ev of the flag it waits on:
  Thread* next_waiter = nullptr;
  EventFlag flag;                    // siblings post to it
  // Touched only by the CPU running the thread (handed over through tp and tc):
  Rng rng{1};
  Continue cont = Continue::None;
  Connection* cont_conn = nullptr;
  Volume* cont_volume = nullptr;
  Block* cont_block = nullptr;
  unsigned cont_offset = 0;
  int child = -1;                    // a spawned process's slot
  int extra_handle = -1;             // a handle this thread opened
  std::uint64_t sink = 0;            // results of user work (kept so it is not optimised away)
  alignas(16) unsigned char buf[kPayloadBytes + 64]{};
};

// --- processes ------------------------------------------------------------------------------------

enum class HandleKind : std::uint8_t { None, Connection, File, Object };

struct Handle {
  HandleKind kind = HandleKind::None;
  unsigned index = 0;       // connection or file number
  void* object = nullptr;   // HandleKind::Object: a pool block
  std::uint32_t access = 0; // granted by the security check when the handle was opened
  std::uint64_t uses = 0;
};

struct Acl {
  std::uint32_t owner = 0;
  std::uint32_t group = 0;
  std::uint32_t owner_mask = 7, group_mask = 3, world_mask = 1;
};

struct SecurityProfile {
  std::uint32_t uid = 0;
  std::uint32_t groups[8]{};
  bool valid = false;
};

struct alignas(64) Process {
  unsigned slot = 0;
  Lock *ps = nullptr, *ht = nullptr, *pt = nullptr, *tf = nullptr;
  Quota quota{kQuotaBytes};
  // Under the process list lock (pr):
  bool live = false;
  bool dying = false;            // being reaped: the slot is not free yet
  std::uint32_t pid = 0;
  unsigned refs = 0;
  int parent = -1;
  void* body = nullptr;          // spawned: the pool block charged to the parent
  // Under ps:
  std::uint64_t ticks = 0;
  std::uint64_t syscalls = 0;
  std::uint64_t info_reads = 0;
  // Under ht:
  Handle handles[kHandles];
  // Under pt:
  std::int32_t pte[kVirtualPages];
  // Under tf (fixed after setup; walked under tf):
  std::vector<Thread*> family;
};

// --- network ----------------------------------------------------------------------------------------

struct Packet {
  Packet* next;
  Process* owner;         // quota charged (a transmit buffer) or nullptr (a receive buffer)
  std::uint32_t conn;
  std::uint32_t len;
  std::uint64_t seq;
  std::uint64_t sum;
  bool lost;              // the NIC had no receive buffer for it
  alignas(16) unsigned char data[kPayloadBytes];
};

// A FIFO of packets (or IRPs) linked through `next`.
template <class T>
struct Fifo {
  T* head = nullptr;
  T* tail = nullptr;
  unsigned count = 0;
  void push(T* x) {
    x->next = nullptr;
    if (tail != nullptr)
      tail->next = x;
    else
      head = x;
    tail = x;
    ++count;
  }
  T* pop() {
    T* x = head;
    if (x == nullptr) return nullptr;
    head = x->next;
    if (head == nullptr) tail = nullptr;
    --count;
    return x;
  }
  Fifo take() {
    Fifo f = *this;
    *this = Fifo{};
    return f;
  }
};

struct Nic;

struct alignas(64) Connection {
  unsigned id = 0;
  Lock* cn = nullptr;
  Acl acl;
  // Under cn:
  std::uint64_t snd_next = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t delivered = 0, dequeued = 0, dropped = 0, bytes = 0;
  Fifo<Packet> rxq;
  EventFlag flag;         // set when a packet arrives (or a lost one leaves nothing in flight)
};

struct alignas(64) Nic {
  Kernel* kernel = nullptr;
  unsigned index = 0;
  unsigned irq = 0;
  Lock* dv = nullptr;
  Lock* line = nullptr;   // the IRQ line's lock: the "hardware" lists below
  // Under dv:
  unsigned posted = 0;    // receive buffers handed to the hardware
  std::uint64_t sent = 0, completed = 0, lost = 0;
  // Under line:
  Fifo<Packet> hw_tx, rx_posted, rx_done, tx_done;
  bool dpc_queued = false;
  std::uint64_t dma = 0;
};

// --- disks, block caches, physical memory -----------------------------------------------------------

enum class BlockState : std::uint8_t { Free, Reading, Valid };

struct Block {
  Block* hash_next = nullptr;
  Block* lru_prev = nullptr;
  Block* lru_next = nullptr;
  Block* next = nullptr;        // free descriptor list
  std::uint32_t lbn = 0;
  std::int32_t page = -1;
  BlockState state = BlockState::Free;
  bool referenced = false;      // under cp: used since the clock hand last passed (second chance)
  // Pinned by readers: raised under cp (so never from 0 behind an eviction's back), dropped
  // without it. Release on the drop pairs with the evictor's acquire: a reader's last look at
  // the page comes before the page is reused.
  std::atomic<unsigned> pins{0};
  EventFlag flag;               // set when the read completes
};

struct Irp {
  Irp* next;
  Block* block;
  Process* owner;
  std::uint32_t lbn;
};

struct alignas(64) Disk {
  Kernel* kernel = nullptr;
  unsigned index = 0;
  unsigned irq = 0;
  Lock* dv = nullptr;
  Lock* line = nullptr;
  Volume* volume = nullptr;
  std::vector<std::uint64_t> image;   // kDiskBlocks * kBlockBytes bytes, written at setup
  std::atomic<unsigned> steer{0};     // round-robin IRQ target
  // Under dv:
  std::uint64_t submitted = 0, completed = 0;
  // Under line:
  Fifo<Irp> hw, done;
  bool dpc_queued = false;
};

struct Cache {
  Lock* cp = nullptr;
  // Under cp:
  Block* hash[kHashBuckets]{};
  Block lru;                     // sentinel: lru.lru_next is the most recent
  Block* free_desc = nullptr;
  unsigned blocks = 0;
  std::uint64_t hits = 0, misses = 0, evictions = 0, races = 0;
  std::unique_ptr<Block[]> descs;  // kPages descriptors, fixed
};

struct alignas(64) Volume {
  unsigned index = 0;
  Lock* vl = nullptr;
  Disk* disk = nullptr;
  Acl acl;
  // Under vl:
  std::uint32_t filemap[kFilesPerVolume][kFileBlocks]{};
  std::uint64_t reads = 0;
  Cache cache;
};

enum class PageOwner : std::uint8_t { Free, Cache, Process };

struct PhysicalMemory {
  Lock* pm = nullptr;
  // Under pm:
  std::vector<std::int32_t> free_pages;
  std::vector<PageOwner> owner;
  std::uint64_t allocs = 0, frees = 0;
  // The frames themselves: a frame belongs to whoever owns its page.
  std::unique_ptr<unsigned char[]> frames;
  unsigned char* frame(std::int32_t page) { return frames.get() + static_cast<std::size_t>(page) * kPageBytes; }
};

// --- CPUs -----------------------------------------------------------------------------------------------

// One CPU's state. Its atomics are relaxed: each is written by this CPU's thread only (its loop, or
// its handlers and lowipl routines, which are the same thread), and read by other threads only as
// a statistic, a hint (the timer's reschedule flag), or at the end after a barrier has ordered
// everything before it.
struct alignas(64) Cpu {
  Kernel* kernel = nullptr;
  unsigned n = 0;                      // 0..cpus-1
  int index = -1;                      // smplock's CPU index
  Thread* current = nullptr;
  std::atomic<bool> resched{false};    // set by the timer IRQ
  std::atomic<Process*> current_proc{nullptr};  // for the timer's lowipl routine
  std::atomic<std::uint64_t> ops_so_far{0};     // for the progress line
  // Written by this CPU (and its handlers/lowipl routines, which are this CPU too):
  std::array<std::uint64_t, kPaths> ops{};
  std::uint64_t switches = 0, waits = 0, idle_loops = 0;
  double cpu_seconds = 0;              // CPU time this CPU's thread got during the run
  std::uint64_t verify_failures = 0;
  // Written only by this CPU's interrupt handlers and lowipl routines (never by its loop, which
  // they may interrupt at Null); atomics so the loop's reads in drain() see them.
  std::atomic<std::uint64_t> ticks{0}, timer_dpcs{0};
  std::uint64_t dpc_verify_failures = 0;
  // Per-CPU event counts (relaxed RMWs on this CPU's own line: a handler may interrupt another).
  std::atomic<std::uint64_t> io_started{0}, io_finished{0}, packets{0}, disk_irps{0}, lowipl_calls{0};
  std::uint64_t net_again = 0, disk_again = 0, fault_again = 0, denied = 0;
};

enum class Outcome : std::uint8_t { Done, Blocked };

// The COM queue: threads ready to run, oldest first, linked through next_ready.
struct ReadyQueue {
  Thread* head = nullptr;
  Thread* tail = nullptr;
  unsigned count = 0;
  // `count` as an idle CPU may read it without the lock: it looks before it takes TC.
  std::atomic<unsigned> visible{0};
  void push(Thread* t) {
    t->next_ready = nullptr;
    if (tail != nullptr)
      tail->next_ready = t;
    else
      head = t;
    tail = t;
    ++count;
    visible.store(count, std::memory_order_relaxed);  // a hint: the pop is made under the lock
  }
  Thread* pop() {
    Thread* t = head;
    if (t == nullptr) return nullptr;
    head = t->next_ready;
    if (head == nullptr) tail = nullptr;
    --count;
    visible.store(count, std::memory_order_relaxed);
    return t;
  }
};

// --- the kernel -------------------------------------------------------------------------------------------

class Kernel {
 public:
  Kernel(const Config& config, LockSet& locks);
  ~Kernel();

  void cpu_main(Cpu& cpu);              // one CPU's loop until stop_
  void drain(Cpu& cpu);                 // after stop_: until no I/O is in flight anywhere
  void attach_irqs();
  void detach_irqs();
  void timer_tick_all();                // from the timer thread
  void check(Result& r);                // invariants before teardown
  void teardown_and_check(Result& r);   // frees everything; checks that it all came back

  void register_cpu(Cpu& cpu);          // on the CPU's own thread, before the run
  std::vector<std::unique_ptr<Cpu>> cpus;
  std::atomic<bool> stop{false};           // set by the caller's thread when the time is up
  std::atomic<bool> timer_stopped{false};  // release/acquire: no timer raise comes after it
  std::atomic<std::uint64_t> timer_raises{0};  // the timer thread's
  std::int64_t io_in_flight() const;           // disk IRPs + packets on the wire, over all CPUs
  std::unique_ptr<KernelPool> pool;

 private:
  // Paths.
  Outcome run_path(Cpu& c, Thread& t, Path p);
  Outcome resume(Cpu& c, Thread& t);
  Outcome net_send(Cpu& c, Thread& t);
  Outcome net_recv(Cpu& c, Thread& t, Connection* conn);
  Outcome disk_read(Cpu& c, Thread& t);
  Outcome disk_finish(Cpu& c, Thread& t, Volume& v, Block* b, unsigned offset);
  void page_fault(Cpu& c, Thread& t);
  void unmap(Thread& t);
  void event_post(Thread& t);
  void event_poll(Thread& t);
  void family_signal(Thread& t);
  void proc_info(Thread& t);
  void proc_spawn(Thread& t);
  void handle_open(Thread& t);
  void user_work(Thread& t);
  void syscall_exit(Thread& t);

  // Pieces.
  Handle lookup_handle(Process& p, unsigned slot);
  unsigned socket_slot(Thread& t);
  bool security_check(Process& p, const Acl& acl, std::uint32_t want);
  void set_flag(EventFlag& f);
  // true: the flag was set (and is cleared when `consume`); false: t now waits on it.
  bool wait_flag(EventFlag& f, Thread& t, bool consume);
  void wake(Thread& w);
  void make_ready(Thread& t);                 // under t.tp: onto the COM queue
  void switch_thread(Cpu& c, bool pick_next = true);
  std::int32_t page_alloc(PageOwner owner);   // -1: none free
  void page_free(std::int32_t page);
  std::int32_t evict(Volume& v);
  std::int32_t page_or_evict(PageOwner owner, unsigned prefer_volume);
  Block* cache_lookup(Cache& cache, std::uint32_t lbn);
  void cache_unpin(Volume& v, Block* b);
  void fill_packet(Packet* pk, Connection& conn, std::uint64_t seq);
  static bool packet_ok(const Packet* pk);
  Cpu& this_cpu();
  std::vector<unsigned> lines() const;  // the IRQ lines the kernel uses

  // Interrupt handlers and their lowipl routines.
  static void timer_irq(void* arg);
  static void timer_dpc(void* arg);
  static void nic_irq(void* arg);
  static void nic_dpc(void* arg);
  static void disk_irq(void* arg);
  static void disk_dpc(void* arg);
  void nic_complete(Nic& nic);
  void disk_complete(Disk& disk);
  void nic_refill(Nic& nic);

  const Config config_;
  Lock* kernel_;  // taken on every entry to the kernel (giant only: the seed's strawman)
  Lock* tc_;     // the COM queue
  Lock* pr_;     // the process list
  Lock* se_;     // security profiles
  ReadyQueue ready_;      // under tc_
  std::vector<std::unique_ptr<Thread>> threads_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<std::unique_ptr<Nic>> nics_;
  std::vector<std::unique_ptr<Disk>> disks_;
  std::vector<std::unique_ptr<Volume>> volumes_;
  PhysicalMemory pm_;
  SecurityProfile profiles_[kMaxProcesses];   // under se_
  std::uint32_t next_pid_gen_ = 1;            // under pr_
  std::uint64_t spawned_ = 0, reaped_ = 0;    // under pr_
  std::vector<Cpu*> cpu_by_index_;
};


// --- setup ---------------------------------------------------------------------------------------

std::uint32_t make_pid(std::uint32_t generation, unsigned slot) { return (generation << 8) | slot; }

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

std::vector<unsigned> Kernel::lines() const {
  std::vector<unsigned> v{kIrqTimer};
  for (const auto& n : nics_) v.push_back(n->irq);
  for (const auto& d : disks_) v.push_back(d->irq);
  return v;
}

void Kernel::attach_irqs() {
  irq::attach(kIrqTimer, timer_irq, this);
  for (auto& n : nics_) irq::attach(n->irq, nic_irq, n.get());
  for (auto& d : disks_) irq::attach(d->irq, disk_irq, d.get());
}

void Kernel::detach_irqs() {
  irq::detach(kIrqTimer, timer_irq, this);
  for (auto& n : nics_) irq::detach(n->irq, nic_irq, n.get());
  for (auto& d : disks_) irq::detach(d->irq, disk_irq, d.get());
}

// --- threads, event flags, the COM queue -------------------------------------------------------

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

// --- the loop --------------------------------------------------------------------------------------

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

// --- handles and security -------------------------------------------------------------------------

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

// --- network ---------------------------------------------------------------------------------------

void Kernel::fill_packet(Packet* pk, Connection& conn, std::uint64_t seq) {
  pk->conn = conn.id;
  pk->seq = seq;
  pk->len = kPayloadBytes;
  pk->lost = false;
  std::uint64_t sum = 0;
  const std::uint64_t key = (std::uint64_t{conn.id} << 40) ^ seq;
  for (std::size_t i = 0; i < kPayloadBytes / 8; ++i) {
    const std::uint64_t w = mix(key, i);
    std::memcpy(pk->data + i * 8, &w, 8);
    sum += w;
  }
  pk->sum = sum;
}

bool Kernel::packet_ok(const Packet* pk) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < pk->len / 8; ++i) {
    std::uint64_t w;
    std::memcpy(&w, pk->data + i * 8, 8);
    sum += w;
  }
  return sum == pk->sum;
}

Outcome Kernel::net_send(Cpu& c, Thread& t) {
  Process& p = *t.proc;
  const Handle h = lookup_handle(p, socket_slot(t));
  Connection& conn = *conns_[h.index];
  if ((h.access & 2) == 0) {  // granted when the handle was opened: no security lock here
    ++c.denied;
    return Outcome::Done;
  }
  auto* pk = static_cast<Packet*>(pool->alloc(sizeof(Packet), &p.quota));
  if (pk == nullptr) {
    ++c.net_again;
    return Outcome::Done;
  }
  pk->owner = &p;
  std::uint64_t seq;
  {
    Held cn(conn.cn);
    seq = conn.snd_next++;
    ++conn.in_flight;
  }
  c.io_started.fetch_add(1, std::memory_order_relaxed);
  c.packets.fetch_add(1, std::memory_order_relaxed);
  fill_packet(pk, conn, seq);  // the copy from user space and the checksum, outside any lock
  Nic& nic = *nics_[c.n % nics_.size()];
  {
    Held cn(conn.cn);          // CN -> DV -> IRQ line: the connection queues on its device
    conn.bytes += pk->len;
    Held dv(nic.dv);
    ++nic.sent;
    Held line(nic.line);
    nic.hw_tx.push(pk);
  }
  // The queue interrupts the CPU it belongs to, this one: at Null, the handler and its lowipl
  // routine have run when raise() returns.
  irq::raise(nic.irq, c.index);
  return Outcome::Done;
}

Outcome Kernel::net_recv(Cpu& c, Thread& t, Connection* conn) {
  Process& p = *t.proc;
  if (conn == nullptr) {
    const Handle h = lookup_handle(p, socket_slot(t));
    conn = conns_[h.index].get();
    if ((h.access & 1) == 0) {
      ++c.denied;
      return Outcome::Done;
    }
  }
  Packet* pk = nullptr;
  {
    Held cn(conn->cn);
    pk = conn->rxq.pop();
    if (pk != nullptr) {
      ++conn->dequeued;
    } else if (conn->in_flight > 0 && !wait_flag(conn->flag, t, /*consume=*/true)) {
      // CN -> EV -> TP: nothing queued but a packet is on its way; sleep until it comes.
      t.cont = Continue::NetRecv;
      t.cont_conn = conn;
      return Outcome::Blocked;
    }
  }
  if (pk == nullptr) {
    ++c.net_again;
    return Outcome::Done;
  }
  std::memcpy(t.buf, pk->data, pk->len);  // the copy to user space
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < pk->len / 8; ++i) {
    std::uint64_t w;
    std::memcpy(&w, t.buf + i * 8, 8);
    sum += w;
  }
  if (sum != pk->sum) ++c.verify_failures;
  pool->free(pk, nullptr);
  return Outcome::Done;
}

void Kernel::nic_refill(Nic& nic) {
  // Under nic.dv. Buffers come from the pool outside the line's lock (DV -> NP), then go to the
  // hardware under it.
  Fifo<Packet> fresh;
  while (nic.posted + fresh.count < kRxPosted) {
    auto* pk = static_cast<Packet*>(pool->alloc(sizeof(Packet), nullptr));
    pk->owner = nullptr;
    fresh.push(pk);
  }
  if (fresh.count == 0) return;
  nic.posted += fresh.count;
  Held line(nic.line);
  while (Packet* pk = fresh.pop()) nic.rx_posted.push(pk);
}

void Kernel::nic_irq(void* arg) {
  // At the line's level with its lock held: the "hardware" moves each transmitted packet into a
  // posted receive buffer (loopback) and reports both done.
  Nic& nic = *static_cast<Nic*>(arg);
  while (Packet* tx = nic.hw_tx.pop()) {
    if (Packet* rx = nic.rx_posted.pop(); rx != nullptr) {
      rx->conn = tx->conn;
      rx->seq = tx->seq;
      rx->len = tx->len;
      rx->sum = tx->sum;
      rx->lost = false;
      std::memcpy(rx->data, tx->data, tx->len);  // the DMA
      nic.rx_done.push(rx);
    } else {
      tx->lost = true;
    }
    nic.tx_done.push(tx);
    ++nic.dma;
  }
  if (!nic.dpc_queued && (nic.rx_done.count != 0 || nic.tx_done.count != 0)) {
    nic.dpc_queued = true;
    nic.kernel->this_cpu().lowipl_calls.fetch_add(1, std::memory_order_relaxed);
    lowipl::call(nic_dpc, &nic);
  }
}

void Kernel::nic_dpc(void* arg) {
  Nic& nic = *static_cast<Nic*>(arg);
  Held entry(nic.kernel->kernel_);
  nic.kernel->nic_complete(nic);
}

void Kernel::nic_complete(Nic& nic) {
  // At Softint, no lock held: DV (and the line's lock inside it) to take the finished lists and
  // post new buffers, then each packet to its connection.
  Fifo<Packet> rx, tx;
  {
    Held dv(nic.dv);
    {
      Held line(nic.line);
      rx = nic.rx_done.take();
      tx = nic.tx_done.take();
      nic.dpc_queued = false;
    }
    nic.posted -= rx.count;
    nic.completed += tx.count;
    nic_refill(nic);
  }
  Cpu& c = this_cpu();
  while (Packet* pk = rx.pop()) {
    if (!packet_ok(pk)) ++c.dpc_verify_failures;  // the protocol checksum, outside any lock
    Connection& conn = *conns_[pk->conn];
    bool queued = false;
    {
      Held cn(conn.cn);
      --conn.in_flight;
      if (conn.rxq.count < kRxQueueLimit) {
        conn.rxq.push(pk);
        ++conn.delivered;
        queued = true;
      } else {
        ++conn.dropped;
      }
      set_flag(conn.flag);  // CN -> EV -> TP -> TC: wake a receiver
    }
    if (!queued) pool->free(pk, nullptr);
  }
  std::int64_t finished = 0;
  while (Packet* pk = tx.pop()) {
    if (pk->lost) {
      Connection& conn = *conns_[pk->conn];
      Held cn(conn.cn);
      --conn.in_flight;
      ++conn.dropped;
      {
        Held dv(nic.dv);
        ++nic.lost;
      }
      set_flag(conn.flag);  // a receiver waiting for it must look again
    }
    pool->free(pk, &pk->owner->quota);
    ++finished;
  }
  c.io_finished.fetch_add(static_cast<std::uint64_t>(finished), std::memory_order_relaxed);
}

// --- disks and the block cache ---------------------------------------------------------------------

Block* Kernel::cache_lookup(Cache& cache, std::uint32_t lbn) {
  for (Block* b = cache.hash[lbn % kHashBuckets]; b != nullptr; b = b->hash_next)
    if (b->lbn == lbn) return b;
  return nullptr;
}

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

// --- memory -----------------------------------------------------------------------------------------

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

// --- thread state ------------------------------------------------------------------------------------

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

// --- processes -----------------------------------------------------------------------------------------

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

// --- interrupts -------------------------------------------------------------------------------------

void Kernel::timer_tick_all() {
  for (auto& c : cpus) {
    irq::raise(kIrqTimer, c->index);
    timer_raises.fetch_add(1, std::memory_order_relaxed);
  }
}

void Kernel::timer_irq(void* arg) {
  // Every CPU's clock tick: end the quantum, and hand the accounting to a lowipl routine (the
  // process state lock is far below this level).
  Kernel& k = *static_cast<Kernel*>(arg);
  Cpu& c = k.this_cpu();
  c.ticks.store(c.ticks.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  c.resched.store(true, std::memory_order_relaxed);
  c.lowipl_calls.fetch_add(1, std::memory_order_relaxed);
  lowipl::call(timer_dpc, &c);
}

void Kernel::timer_dpc(void* arg) {
  Cpu& c = *static_cast<Cpu*>(arg);
  Held entry(c.kernel->kernel_);
  if (Process* p = c.current_proc.load(std::memory_order_relaxed); p != nullptr) {
    Held ps(p->ps);
    ++p->ticks;
  }
  c.timer_dpcs.store(c.timer_dpcs.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

// --- the checks at the end -------------------------------------------------------------------------

void expect(Result& r, bool ok, std::string line) {
  if (!ok) r.failures.push_back(line);
  r.checks.push_back(std::move(line));
}

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

}  // namespace

// --- a run ---------------------------------------------------------------------------------------------

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

Result run_kernel(const Config& config, const Progress& progress) {
  Result r;
  r.locks = config.locks;
  r.cpus = config.cpus;
  std::unique_ptr<LockSet> locks;
  std::unique_ptr<Kernel> kernel;
  std::atomic<bool> started{false};
  std::atomic<Kernel*> shared{nullptr};
  std::chrono::steady_clock::time_point t0, t1;
  std::barrier<> sync(static_cast<std::ptrdiff_t>(config.cpus));

  auto worker = [&](unsigned n) {
    if (n == 0) {
      // CPU 0 builds the kernel (it allocates and takes locks, so it must be a CPU).
      locks = std::make_unique<LockSet>(config.locks);
      kernel = std::make_unique<Kernel>(config, *locks);
      kernel->attach_irqs();
      shared.store(kernel.get(), std::memory_order_release);
    }
    sync.arrive_and_wait();
    Kernel& k = *shared.load(std::memory_order_acquire);
    Cpu& c = *k.cpus[n];
    k.register_cpu(c);
    sync.arrive_and_wait();
    std::thread timer;
    if (n == 0) {
      irq::reset_line_stats();
      stats::reset();
      timer = std::thread([&k, hz = config.timer_hz] {
        const auto period = std::chrono::nanoseconds(1'000'000'000 / std::max(1u, hz));
        auto next = std::chrono::steady_clock::now();
        while (!k.stop.load(std::memory_order_relaxed)) {
          next += period;
          std::this_thread::sleep_until(next);
          k.timer_tick_all();
        }
      });
      t0 = std::chrono::steady_clock::now();
      started.store(true, std::memory_order_release);
    }
    const double cpu0 = thread_cpu_seconds();
    k.cpu_main(c);
    c.cpu_seconds = thread_cpu_seconds() - cpu0;
    if (n == 0) {
      timer.join();
      k.timer_stopped.store(true, std::memory_order_release);
    }
    k.drain(c);
    sync.arrive_and_wait();
    if (n == 0) {
      r.snapshot = stats::snapshot();
      r.snapshot.cpus = config.cpus;  // the run's CPUs (the library counts every thread it has seen)
      for (auto& cpu : k.cpus) {
        for (unsigned i = 0; i < kPaths; ++i) r.ops[i] += cpu->ops[i];
        r.thread_switches += cpu->switches;
        r.cpu_share += cpu->cpu_seconds;
        r.again += cpu->net_again + cpu->disk_again + cpu->fault_again;
        r.denied += cpu->denied;
        r.waits += cpu->waits;
        r.timer_ticks += cpu->ticks.load(std::memory_order_relaxed);
      }
      for (auto& cpu : k.cpus) {
        r.lowipl_calls += cpu->lowipl_calls.load(std::memory_order_relaxed);
        r.disk_irps += cpu->disk_irps.load(std::memory_order_relaxed);
        r.packets += cpu->packets.load(std::memory_order_relaxed);
      }
      r.pool = k.pool->figures();
      k.check(r);
      k.teardown_and_check(r);
      k.detach_irqs();
    }
    sync.arrive_and_wait();
    if (n == 0) {
      kernel.reset();
      locks.reset();
    }
  };

  std::vector<std::thread> threads;
  for (unsigned n = 0; n < config.cpus; ++n) threads.emplace_back(worker, n);
  while (!started.load(std::memory_order_acquire)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Kernel& k = *shared.load(std::memory_order_acquire);
  const auto deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(config.seconds));
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_until(std::min(deadline, now + std::chrono::milliseconds(100)));
    if (progress) {
      std::uint64_t ops = 0;
      for (auto& c : k.cpus) ops += c->ops_so_far.load(std::memory_order_relaxed);
      progress(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), ops);
    }
  }
  k.stop.store(true, std::memory_order_release);
  t1 = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(t1 - t0).count();
  r.cpu_share = r.seconds > 0 ? r.cpu_share / (r.seconds * config.cpus) : 0;
  return r;
}

}  // namespace detail

Result run(const Config& config, const Progress& progress) {
  if (config.cpus == 0 || config.cpus > max_cpus() - 2)
    throw std::invalid_argument(fmt::format("cpus must be 1..{}", max_cpus() - 2));
  if (!(config.seconds > 0) || config.seconds > 3600) throw std::invalid_argument("seconds must be in (0, 3600]");
  if (config.processes == 0 || config.processes > 16) throw std::invalid_argument("processes must be 1..16");
  if (config.threads_per_process == 0 || config.threads_per_process > 64)
    throw std::invalid_argument("threads per process must be 1..64");
  return detail::run_kernel(config, progress);
}

}  // namespace smplock::pound
