// The lock sets as data, one per step of the seed's story: one row per role, saying which level and
// which lock (or none) the role's objects get, and the story itself (what each step split). LockSet
// (kernel.hpp) turns a table into Lock objects.
#include <stdexcept>

#include "kernel.hpp"

namespace smplock::pound {
namespace {

using G = Granularity;

// The final table (DESIGN §3): a lock per object wherever the data is per object, the pool and
// quota lock-free.
constexpr std::array<RoleLock, kRoles> kOzone = {{
    {Role::HT, Level::HT, "HT", G::PerObject, "per process"},
    {Role::VL, Level::VL, "VL", G::PerObject, "per volume"},
    {Role::CN, kConnectionLevel, "CN", G::PerObject, "per connection"},
    {Role::DV, Level::DV, "DV", G::PerObject, "per device"},
    {Role::PT, Level::PT, "PT", G::PerObject, "per process"},
    {Role::PM, Level::PM, "PM", G::One, "one: the free page list"},
    {Role::CP, Level::CP, "CP", G::PerObject, "per block cache (split out of PM)"},
    {Role::PS, Level::PS, "PS", G::PerObject, "per process"},
    {Role::TF, Level::TF, "TF", G::PerObject, "per thread family"},
    {Role::EV, Level::EV, "EV", G::PerObject, "per event flag"},
    {Role::TP, Level::TP, "TP", G::PerObject, "per thread"},
    {Role::TC, Level::TC, "TC", G::One, "one: the COM queue"},
    {Role::PR, Level::PR, "PR", G::One, "one: the process list"},
    {Role::SE, Level::SE, "SE", G::One, "one: the security profiles"},
    {Role::NP, Level::NP, "NP", G::LockFree, "npp: per-CPU caches, the NP lock only on refill"},
    {Role::QU, Level::QU, "QU", G::LockFree, "npp::Quota: a compare-and-swap"},
}};

// The seed's first short list: the ozone table before its three splits. One lock for all thread
// state (PS, TF, EV, TP and TC share "TS" at PS's level), PM also guarding the cache lists, and
// the pool and quota each under one lock taken on every call.
constexpr std::array<RoleLock, kRoles> kCoarse = {{
    {Role::HT, Level::HT, "HT", G::PerObject, "per process"},
    {Role::VL, Level::VL, "VL", G::PerObject, "per volume"},
    {Role::CN, kConnectionLevel, "CN", G::PerObject, "per connection"},
    {Role::DV, Level::DV, "DV", G::PerObject, "per device"},
    {Role::PT, Level::PT, "PT", G::PerObject, "per process"},
    {Role::PM, Level::PM, "PM", G::One, "one: free pages"},
    {Role::CP, Level::PM, "PM", G::One, "PM's lock guards the cache lists too"},
    {Role::PS, Level::PS, "TS", G::One, "one thread-state lock"},
    {Role::TF, Level::PS, "TS", G::One, "one thread-state lock"},
    {Role::EV, Level::PS, "TS", G::One, "one thread-state lock"},
    {Role::TP, Level::PS, "TS", G::One, "one thread-state lock"},
    {Role::TC, Level::PS, "TS", G::One, "one thread-state lock"},
    {Role::PR, Level::PR, "PR", G::One, "one: the process list"},
    {Role::SE, Level::SE, "SE", G::One, "one: the security profiles"},
    {Role::NP, Level::NP, "NP", G::One, "one lock on every allocation and free"},
    {Role::QU, Level::QU, "QU", G::One, "one lock on every charge and credit"},
}};

// Step 3: coarse with the pool's malloc made lock-free in the common case (npp: per-CPU caches,
// the NP lock only to refill them; quota charged with a compare-and-swap).
constexpr std::array<RoleLock, kRoles> kPool = [] {
  std::array<RoleLock, kRoles> t = kCoarse;
  t[static_cast<unsigned>(Role::NP)] = {Role::NP, Level::NP, "NP", G::LockFree, "npp: per-CPU caches, the NP lock only on refill"};
  t[static_cast<unsigned>(Role::QU)] = {Role::QU, Level::QU, "QU", G::LockFree, "npp::Quota: a compare-and-swap"};
  return t;
}();

// Step 4: the thread-state lock TS split into PS, TF, EV, TP and TC, each at its own level.
constexpr std::array<RoleLock, kRoles> kThreads = [] {
  std::array<RoleLock, kRoles> t = kPool;
  for (Role r : {Role::PS, Role::TF, Role::EV, Role::TP, Role::TC}) t[static_cast<unsigned>(r)] = kOzone[static_cast<unsigned>(r)];
  return t;
}();

// The strawman: every role gets the one lock. It sits below every lock the kernel takes besides
// its own (IRQ lines), so a role taken inside another role is a nested (R3) acquire of the same
// lock and every path stays legal.
constexpr RoleLock giant_row(Role r) { return {r, kGiantLevel, "GIANT", G::One, "the one lock"}; }
constexpr std::array<RoleLock, kRoles> kGiant = {{
    giant_row(Role::HT), giant_row(Role::VL), giant_row(Role::CN), giant_row(Role::DV),
    giant_row(Role::PT), giant_row(Role::PM), giant_row(Role::CP), giant_row(Role::PS),
    giant_row(Role::TF), giant_row(Role::EV), giant_row(Role::TP), giant_row(Role::TC),
    giant_row(Role::PR), giant_row(Role::SE), giant_row(Role::NP), giant_row(Role::QU),
}};

constexpr bool rows_in_role_order(const std::array<RoleLock, kRoles>& t) {
  for (unsigned i = 0; i < kRoles; ++i)
    if (static_cast<unsigned>(t[i].role) != i) return false;
  return true;
}
static_assert(rows_in_role_order(kOzone) && rows_in_role_order(kCoarse) && rows_in_role_order(kGiant) &&
              rows_in_role_order(kPool) && rows_in_role_order(kThreads));
// The last step is the final table: ozone is threads with CP split out of PM.
static_assert(kThreads[static_cast<unsigned>(Role::CP)].level == Level::PM);

// In the ozone set the roles' levels rise in Role order: the order a path may take them in.
constexpr bool levels_rise(const std::array<RoleLock, kRoles>& t) {
  for (unsigned i = 1; i < kRoles; ++i)
    if (!(t[i - 1].level < t[i].level)) return false;
  return true;
}
static_assert(levels_rise(kOzone));

}  // namespace

std::string_view lock_set_name(LockSetKind kind) {
  switch (kind) {
    case LockSetKind::Giant: return "giant";
    case LockSetKind::Coarse: return "coarse";
    case LockSetKind::Pool: return "pool";
    case LockSetKind::Threads: return "threads";
    case LockSetKind::Ozone: return "ozone";
  }
  return "?";
}

std::optional<LockSetKind> parse_lock_set(std::string_view name) {
  for (LockSetKind k : kLockSets)
    if (lock_set_name(k) == name) return k;
  return std::nullopt;
}

const std::array<RoleLock, kRoles>& lock_set(LockSetKind kind) {
  switch (kind) {
    case LockSetKind::Giant: return kGiant;
    case LockSetKind::Coarse: return kCoarse;
    case LockSetKind::Pool: return kPool;
    case LockSetKind::Threads: return kThreads;
    case LockSetKind::Ozone: break;
  }
  return kOzone;
}

const std::array<Step, kSteps>& story() {
  static constexpr std::array<Step, kSteps> kStory = {{
      {LockSetKind::Giant, "one lock for everything", "", "", {}},
      {LockSetKind::Coarse, "the first short list: a lock per subsystem",
       "GIANT split into the first short list (one TS for thread state, PM over the cache, NP on "
       "every allocation)",
       "GIANT", {}},
      {LockSetKind::Pool, "the pool's malloc lock-free in the common case",
       "NP (and QU) made lock-free for the common case: npp's per-CPU caches, a CAS for quota", "NP", {"NP"}},
      {LockSetKind::Threads, "thread state split", "TS split into PS, TF, EV, TP and TC", "TS",
       {"PS", "TF", "EV", "TP", "TC"}},
      {LockSetKind::Ozone, "physical memory split: the final table", "PM split into PM and CP (the block cache)",
       "PM", {"PM", "CP"}},
  }};
  return kStory;
}

std::string_view role_name(Role role) {
  constexpr std::string_view kNames[kRoles] = {"HT", "VL", "CN", "DV", "PT", "PM", "CP", "PS",
                                               "TF", "EV", "TP", "TC", "PR", "SE", "NP", "QU"};
  return static_cast<unsigned>(role) < kRoles ? kNames[static_cast<unsigned>(role)] : "?";
}

std::string_view role_description(Role role) {
  constexpr std::string_view kText[kRoles] = {
      "handle table",         "volume (file map)",       "connection protocol state",
      "device driver state",  "page table",              "physical memory (free pages)",
      "block cache lists",    "process state",           "thread family list",
      "event flag",           "thread private state",    "COM (ready) queue",
      "process list and ids", "security profiles",       "non-paged pool",
      "quota"};
  return static_cast<unsigned>(role) < kRoles ? kText[static_cast<unsigned>(role)] : "?";
}

std::string_view path_name(Path path) {
  constexpr std::string_view kNames[kPaths] = {"net send",  "net recv",      "disk read", "page fault",
                                               "unmap",     "event post",    "event poll", "family signal",
                                               "proc info", "spawn/reap",    "handle open/close", "user work"};
  return static_cast<unsigned>(path) < kPaths ? kNames[static_cast<unsigned>(path)] : "?";
}

namespace detail {

LockSet::LockSet(LockSetKind kind) : kind_(kind), table_(lock_set(kind)) {}

Lock* LockSet::kernel_lock() {
  // The strawman's rule: enter the kernel, take the lock; leave it, release it.
  return kind_ == LockSetKind::Giant ? make(Role::HT) : nullptr;
}

Lock* LockSet::make(Role role) {
  const RoleLock& row = table_[static_cast<unsigned>(role)];
  switch (row.granularity) {
    case Granularity::LockFree:
      return nullptr;
    case Granularity::One:
      // Roles that name the same class share its one lock (coarse's TS, giant's GIANT).
      for (Lock* l : shared_)
        if (l->level() == row.level && std::string_view(l->name()) == row.name) return l;
      shared_.push_back(&locks_.emplace_back(row.level, row.name));
      return shared_.back();
    case Granularity::PerObject:
      return &locks_.emplace_back(row.level, row.name);
  }
  throw std::logic_error("pound: bad lock set row");
}

}  // namespace detail
}  // namespace smplock::pound
