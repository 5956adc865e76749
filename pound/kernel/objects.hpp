// The pound kernel's objects (threads, processes, connections, NICs, disks, caches, pages, CPUs)
// and the Kernel class that runs them, shared by the subsystem sources beside this header:
//
//   init.cpp     setup: every object asks the lock set for the lock of its role
//   cpu.cpp      a CPU's loop: pick a thread, run its system calls, user mode between them
//   sched.cpp    threads and events: event flags, the COM queue, thread switches, ASTs
//   net.cpp      the network: a loopback multiqueue NIC, connections
//   disk.cpp     the block cache and the disks
//   memory.cpp   physical memory and page tables: page faults, unmap
//   proc.cpp     processes and security: handles, the process list, spawn and reap
//   intr.cpp     interrupts: the IRQ lines, the timer
//   check.cpp    the invariants at the end of a run, and the teardown
//
// Every lock comes from the lock set (LockSet::make), so the same code runs under every step of
// the story. The level order of the ozone table is the order every path takes its locks in:
//
//   HT  VL  CN  DV  PT  PM  CP  PS  TF  EV  TP  TC  PR  SE  NP  QU  | IRQ lines (handlers)
//
// A path takes locks only upward along that line; where two roles collapse into one lock (coarse's
// TS, giant's GIANT) nothing else is taken between them, so the inner one is a nested (R3) acquire.
// An IRQ handler runs at its line's level and takes no lock below it: it moves hardware lists
// (guarded by the line's own lock) and queues a lowipl routine, which runs at Softint and takes
// the device, connection, cache and thread locks. docs/pound.md lists each path's locks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <vector>

#include "kernel.hpp"

namespace smplock::pound::detail {

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
  // What the machine took from this CPU's thread over the run (run.cpp reads them before and after).
  double run_delay_seconds = -1;       // waiting for a processor (schedstat); -1: unreadable
  std::uint64_t involuntary_switches = 0;
  // For the timer thread's wait samples: this thread's CPU-time clock, and its locks.
  clockid_t clock{};
  int tid = 0;                         // its thread id (for /proc/self/task/TID)
  std::atomic<bool> clock_ready{false};
  LockTrace trace;
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
  unsigned user_iterations = 0;                 // of user_mode's loop, set before the run

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
  void user_mode(Thread& t);           // the user-mode stretch after a system call
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

// The time of one iteration of Kernel::user_mode's loop on this machine, measured (cpu.cpp).
double user_mode_ns_per_iteration();

// A process id: the slot in its low byte, the slot's generation above it.
inline std::uint32_t make_pid(std::uint32_t generation, unsigned slot) { return (generation << 8) | slot; }

}  // namespace smplock::pound::detail
