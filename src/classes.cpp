// Lock classes: the registry (name + level -> id) and the counters kept on contended paths.
#include <cstring>

#include "internal.hpp"

namespace smplock::detail {

ClassRecord g_classes[kMaxClasses];

namespace {
std::uint64_t hash_of(const char* name, Level level) {
  std::uint64_t h = 1469598103934665603ull ^ to_int(level);  // FNV-1a over the name's bytes
  for (const char* p = name; *p != 0; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return h;
}
}  // namespace

std::uint16_t class_register(const char* name, Level level) {
  if (name == nullptr) name = "";
  const auto ptr = reinterpret_cast<std::uintptr_t>(name);
  if ((ptr >> 56) != 0) violation(Rule::Fatal, "lock name pointer does not fit the class key", nullptr, nullptr, {});
  const std::uint64_t mine = ptr | (static_cast<std::uint64_t>(to_int(level)) << 56);
  // Open addressing over slots 1..kMaxClasses-1 (id 0 means "not registered").
  const unsigned start = static_cast<unsigned>(hash_of(name, level) % (kMaxClasses - 1));
  for (unsigned probe = 0; probe < kMaxClasses - 1; ++probe) {
    const unsigned id = 1 + (start + probe) % (kMaxClasses - 1);
    ClassRecord& slot = g_classes[id];
    std::uint64_t key = slot.key.load(std::memory_order_acquire);
    // free -> taken: acq_rel so the winner's key is what every later reader compares against.
    if (key == 0 && slot.key.compare_exchange_strong(key, mine, std::memory_order_acq_rel, std::memory_order_acquire))
      return static_cast<std::uint16_t>(id);
    if ((key >> 56) == to_int(level) && std::strcmp(reinterpret_cast<const char*>(key & ((1ull << 56) - 1)), name) == 0)
      return static_cast<std::uint16_t>(id);
  }
  violation(Rule::Fatal, "too many lock classes (raise detail::kMaxClasses)", nullptr, nullptr, {});
}

void class_note_contended(CpuRecord& cpu, std::uint16_t id, unsigned queued, std::uint64_t spins,
                          std::uint64_t parks, std::uint64_t wait_ns, std::uintptr_t caller) {
  // This CPU's own counters (plain load + store, like acquisitions).
  bump(cpu.contended[id]);
  if (spins != 0) bump(cpu.spins[id], spins);
  if (parks != 0) bump(cpu.parks[id], parks);
  bump(cpu.wait_ns[id], wait_ns);
  bump(queued == 0 ? cpu.queued_0[id] : queued == 1 ? cpu.queued_1[id] : queued == 2 ? cpu.queued_2[id] : cpu.queued_3plus[id]);
  // The class's shared maximum: a load, and a CAS only for a new record.
  ClassRecord& c = g_classes[id];
  atomic_max(c.max_wait_ns, wait_ns);
  // The call site's slot: the table of addresses fills once and is then only read; the count is
  // this CPU's own. Slot kCallSites counts sites past the table.
  unsigned slot = 0;
  for (; slot < kCallSites; ++slot) {
    CallSite& s = c.sites[slot];
    std::uintptr_t pc = s.pc.load(std::memory_order_acquire);
    // free -> claimed; acq_rel so a reader that sees the address sees it whole.
    if (pc == 0 && s.pc.compare_exchange_strong(pc, caller, std::memory_order_acq_rel)) pc = caller;
    if (pc == caller) break;
  }
  count_call_site(cpu, id, slot);
}

}  // namespace smplock::detail
