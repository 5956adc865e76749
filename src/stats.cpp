// Contention statistics: the nesting samples taken on the acquire path, and the snapshot that adds
// every CPU's counters up per class and per level against the baseline of the last reset().
#include "smplock/stats.hpp"

#include <algorithm>
#include <array>
#include <mutex>
#include <thread>

#include "internal.hpp"
#include "platform/platform.hpp"

namespace smplock {
namespace detail {

namespace {

// A nesting slot's parent entry: (parent class id << kParentShift) | samples; 0: free. The slots
// (NestSlot) and the call-site counts live in each CPU's record (smplock/detail/cpu_record.hpp),
// written only by that CPU (its code and its signal handler, which samples only classes above the
// interrupted level, so never the slot being written), read by snapshots.
constexpr unsigned kParentShift = 48;

// 1 + the highest CPU index that has ever taken a lock. Attach hands out the lowest free index, so
// this is also the most CPUs that were attached at once. Every CPU's first acquisition of a class
// is sampled, so the sample path keeps it up to date: a read of a line that is written at most
// once per new index in the program's life.
std::atomic<unsigned> g_locking_high{0};

}  // namespace

void sample_nesting(CpuRecord& cpu, std::uint16_t id, std::uint8_t below) {
  const auto mine = static_cast<unsigned>(cpu.index) + 1;
  unsigned high = g_locking_high.load(std::memory_order_relaxed);
  // Relaxed: a count, read by snapshots that then read the CPU's counters (themselves atomics).
  while (high < mine && !g_locking_high.compare_exchange_weak(high, mine, std::memory_order_relaxed)) {
  }
  NestSlot& s = cpu.nesting[id];
  bump(s.nest_samples);
  if (below <= to_int(Level::Softint)) return;  // no lock below
  const Lock* parent = cpu.held[below].lock();
  if (parent == nullptr) return;
  const std::uint16_t pid = parent->class_id();
  if (pid == 0) return;
  bump(s.nest_nested);
  for (std::atomic<std::uint64_t>& slot : s.parent) {
    // Only this CPU writes the slot: relaxed load and store, as for every CPU-owned counter.
    const std::uint64_t v = slot.load(std::memory_order_relaxed);
    if (v == 0) {
      slot.store((std::uint64_t{pid} << kParentShift) | 1, std::memory_order_relaxed);
      return;
    }
    if ((v >> kParentShift) == pid) {
      slot.store(v + 1, std::memory_order_relaxed);
      return;
    }
  }
}

void count_call_site(CpuRecord& cpu, std::uint16_t id, unsigned slot) {
  bump(cpu.site_counts[id][slot]);
}

namespace {

// The raw (since program start) values of one class.
struct RawClass {
  stats::Counters sums;  // maxima: the largest over CPUs (max_hold_ns handled per CPU)
  std::array<std::uint64_t, kCallSites> site_pc{};
  std::array<std::uint64_t, kCallSites> site_count{};
  std::uint64_t other_sites = 0;
  std::vector<std::pair<std::uint16_t, std::uint64_t>> parents;  // (class id, samples)
};

struct Baseline {
  bool taken = false;
  std::uint64_t start_ns = 0;
  unsigned cpus = 0;                     // CPU records covered by max_hold
  std::vector<RawClass> classes;         // by class id
  std::vector<std::uint64_t> max_hold;   // [cpu * kMaxClasses + id]
};

std::mutex g_stats_mutex;  // serialises snapshot() and reset() (never taken on a lock path)
Baseline g_baseline;
const std::uint64_t g_start_ns = platform::now_ns();  // window start before the first reset()

// CPU records that may hold counts (see g_locking_high).
unsigned cpus_ever() { return g_locking_high.load(std::memory_order_relaxed); }

bool registered(unsigned id) { return g_classes[id].key.load(std::memory_order_acquire) != 0; }

// Reads class `id` now. `cpus` bounds the CPU records read. When `base_max_hold` is given, the
// class's max_hold_ns is the largest per-CPU maximum that rose above that CPU's baseline.
RawClass read_class(unsigned id, unsigned cpus, const std::uint64_t* base_max_hold, unsigned base_cpus) {
  RawClass r;
  constexpr auto relaxed = std::memory_order_relaxed;
  for (unsigned c = 0; c < cpus; ++c) {
    const CpuRecord* record = cpu_record(c);
    if (record == nullptr) continue;
    const CpuRecord& cpu = *record;
#define SMPLOCK_READ_CPU(name, key, text)                                         \
  {                                                                               \
    const std::uint64_t v = cpu.name[id].load(relaxed);                           \
    if constexpr (stats::detail::is_maximum(key)) {                               \
      const std::uint64_t floor =                                                 \
          base_max_hold != nullptr && c < base_cpus ? base_max_hold[c * kMaxClasses + id] : 0; \
      if (v > floor) r.sums.name = std::max(r.sums.name, v);                      \
    } else {                                                                      \
      r.sums.name += v;                                                           \
    }                                                                             \
  }
    SMPLOCK_CPU_CLASS_COUNTERS(SMPLOCK_READ_CPU)
#undef SMPLOCK_READ_CPU
    const auto& sites = cpu.site_counts[id];
    for (unsigned i = 0; i < kCallSites; ++i) r.site_count[i] += sites[i].load(relaxed);
    r.other_sites += sites[kCallSites].load(relaxed);
    const NestSlot& s = cpu.nesting[id];
#define SMPLOCK_READ_NEST(name, key, text) r.sums.name += s.name.load(relaxed);
    SMPLOCK_NESTING_COUNTERS(SMPLOCK_READ_NEST)
#undef SMPLOCK_READ_NEST
    for (const std::atomic<std::uint64_t>& slot : s.parent) {
      const std::uint64_t v = slot.load(relaxed);
      if (v == 0) continue;
      const auto pid = static_cast<std::uint16_t>(v >> kParentShift);
      const std::uint64_t n = v & ((std::uint64_t{1} << kParentShift) - 1);
      auto it = std::find_if(r.parents.begin(), r.parents.end(), [&](const auto& p) { return p.first == pid; });
      if (it == r.parents.end())
        r.parents.emplace_back(pid, n);
      else
        it->second += n;
    }
  }
  const ClassRecord& k = g_classes[id];
#define SMPLOCK_READ_SHARED(name, key, text) r.sums.name = k.name.load(relaxed);
  SMPLOCK_SHARED_CLASS_COUNTERS(SMPLOCK_READ_SHARED)
#undef SMPLOCK_READ_SHARED
  for (unsigned i = 0; i < kCallSites; ++i) {
    // The pc is published once by a CAS (acq_rel); acquire here sees it whole.
    r.site_pc[i] = k.sites[i].pc.load(std::memory_order_acquire);
  }
  return r;
}

std::uint64_t minus(std::uint64_t now, std::uint64_t then) { return now > then ? now - then : 0; }

}  // namespace
}  // namespace detail

namespace stats {

using smplock::detail::kMaxClasses;

void Counters::combine(const Counters& o) {
#define SMPLOCK_COMBINE(name, key, text) \
  if constexpr (detail::is_maximum(key)) name = std::max(name, o.name); else name += o.name;
  SMPLOCK_CLASS_COUNTERS(SMPLOCK_COMBINE)
#undef SMPLOCK_COMBINE
}

double Snapshot::cpu_ns() const {
  const double t = static_cast<double>(window_ns()) * std::max(cpus, 1u);
  return t > 0 ? t : 1.0;
}

double Snapshot::contention_percent(const Counters& c) const {
  return 100.0 * static_cast<double>(c.wait_ns) / cpu_ns();
}

const ClassStats* Snapshot::find(std::string_view name, Level level) const {
  for (const ClassStats& c : classes)
    if (c.name == name && c.level == level) return &c;
  return nullptr;
}

std::vector<LevelStats> by_level(const std::vector<ClassStats>& classes) {
  std::vector<LevelStats> levels;
  for (const ClassStats& c : classes) {
    auto it = std::find_if(levels.begin(), levels.end(), [&](const LevelStats& l) { return l.level == c.level; });
    if (it == levels.end()) it = levels.insert(levels.end(), LevelStats{c.level, 0, {}});
    ++it->classes;
    it->counters.combine(c.counters);
  }
  std::sort(levels.begin(), levels.end(), [](const LevelStats& a, const LevelStats& b) { return a.level < b.level; });
  return levels;
}

Snapshot snapshot() {
  namespace d = smplock::detail;
  std::lock_guard<std::mutex> hold(d::g_stats_mutex);
  const d::Baseline& base = d::g_baseline;
  Snapshot s;
  s.start_ns = base.taken ? base.start_ns : d::g_start_ns;
  s.cpus = d::cpus_ever();
  s.processors = std::thread::hardware_concurrency();
  s.hold_timing = hold_timing();
  s.nest_sample_period = d::kNestSamplePeriod;
  for (unsigned id = 1; id < kMaxClasses; ++id) {
    if (!d::registered(id)) continue;
    const bool has_base = base.taken && id < base.classes.size();
    d::RawClass now = d::read_class(id, s.cpus, base.taken ? base.max_hold.data() : nullptr, base.cpus);
    ClassStats c;
    c.id = id;
    c.name = d::g_classes[id].name();
    c.level = d::g_classes[id].level();
    c.counters = now.sums;
    if (has_base) {
      const d::RawClass& b = base.classes[id];
#define SMPLOCK_SUBTRACT(name, key, text) \
  if constexpr (!detail::is_maximum(key)) c.counters.name = d::minus(now.sums.name, b.sums.name);
      SMPLOCK_CLASS_COUNTERS(SMPLOCK_SUBTRACT)
#undef SMPLOCK_SUBTRACT
      for (unsigned i = 0; i < d::kCallSites; ++i)
        if (b.site_pc[i] == now.site_pc[i]) now.site_count[i] = d::minus(now.site_count[i], b.site_count[i]);
      now.other_sites = d::minus(now.other_sites, b.other_sites);
      for (auto& [pid, n] : now.parents)
        for (const auto& [bpid, bn] : b.parents)
          if (bpid == pid) n = d::minus(n, bn);
    }
    for (unsigned i = 0; i < d::kCallSites; ++i) {
      if (now.site_pc[i] == 0 || now.site_count[i] == 0) continue;
      // A site is the acquire's source_location (see Lock::wait_for_word): it names itself, no
      // debug information needed. One line reached through an inline function that several
      // translation units compiled has one source_location in each, so equal sites are merged.
      const std::source_location where = d::site_of(now.site_pc[i]);
      CallSite site{now.site_pc[i], now.site_count[i], where.function_name(), where.file_name(), where.line()};
      auto same = std::find_if(c.call_sites.begin(), c.call_sites.end(), [&](const CallSite& o) {
        return o.line == site.line && o.file == site.file && o.function == site.function;
      });
      if (same != c.call_sites.end())
        same->count += site.count;
      else
        c.call_sites.push_back(std::move(site));
    }
    std::stable_sort(c.call_sites.begin(), c.call_sites.end(),
                     [](const CallSite& a, const CallSite& b) { return a.count > b.count; });
    c.other_sites = now.other_sites;
    for (const auto& [pid, n] : now.parents)
      if (n != 0) c.parents.push_back(Parent{d::g_classes[pid].name(), d::g_classes[pid].level(), n});
    std::stable_sort(c.parents.begin(), c.parents.end(),
                     [](const Parent& a, const Parent& b) { return a.samples > b.samples; });
    s.classes.push_back(std::move(c));
  }
  s.levels = by_level(s.classes);
  s.end_ns = smplock::platform::now_ns();
  return s;
}

void reset() {
  namespace d = smplock::detail;
  std::lock_guard<std::mutex> hold(d::g_stats_mutex);
  d::Baseline& base = d::g_baseline;
  base.cpus = d::cpus_ever();
  base.classes.assign(kMaxClasses, {});
  base.max_hold.assign(std::size_t{base.cpus} * kMaxClasses, 0);
  for (unsigned id = 1; id < kMaxClasses; ++id) {
    if (!d::registered(id)) continue;
    // The shared maximum is nobody's own counter: clear it (a wait ending meanwhile may land on
    // either side of the reset, as any wait straddling it would).
    d::g_classes[id].max_wait_ns.store(0, std::memory_order_relaxed);
    base.classes[id] = d::read_class(id, base.cpus, nullptr, 0);
    for (unsigned c = 0; c < base.cpus; ++c)
      if (const d::CpuRecord* cpu = d::cpu_record(c))
        base.max_hold[std::size_t{c} * kMaxClasses + id] = cpu->max_hold_ns[id].load(std::memory_order_relaxed);
  }
  base.start_ns = smplock::platform::now_ns();
  base.taken = true;
}

void set_hold_timing(bool on) {
  // Relaxed: a flag read on each acquire; a CPU that sees the change late times one more or one
  // fewer hold, and release_slow() copes with either.
  smplock::detail::g_hold_timing.store(on, std::memory_order_relaxed);
}

bool hold_timing() { return smplock::detail::g_hold_timing.load(std::memory_order_relaxed); }

}  // namespace stats
}  // namespace smplock
