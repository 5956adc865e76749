// The enforce side of libsmplock-record.so (see enforce.hpp): the table loaded from $SMPLOCK_ENFORCE,
// the level a new class gets, the order check, the violation report and the summary at exit.
// Everything here runs inside somebody else's program: no malloc, no stdio, reports go out with
// write(2), names come from dladdr (the dynamic symbol table: what async-safe code can name; the
// table's own names and places say the rest).
#include "enforce.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "digits.hpp"
#include "state.hpp"

namespace smplock::record {

bool g_enforcing = false;
bool g_recording = true;

namespace {

struct Entry {
  char how = 0;  // 'S' symbol, 'I' init, 'F' first use (the key's "site:"), 'A' alloc
  std::uintptr_t vaddr = 0;
  std::uintptr_t offset = 0;  // 'A': the lock's offset in its heap block (the address field's "+N")
  std::int32_t level = -1;
  bool nest = false;
  const char* object = "";  // base name
  const char* name = "";
  const char* key = "";
  const char* where = "";
};

Entry* g_entries = nullptr;
std::size_t g_nentries = 0;
bool g_warn = false;
pid_t g_root = 0;
char g_exe[1024];
char g_frames[4096];  // $SMPLOCK_ENFORCE_FRAMES: where each report's raw frames go, for the command to name

// --- stderr, in one write per report -------------------------------------------------------------
class Err {
 public:
  void put(const char* s) {
    if (s == nullptr) return;
    while (*s != 0 && len_ < sizeof buf_) buf_[len_++] = *s++;
  }
  void num(std::uint64_t v) {
    char tmp[kDigitsCap];
    for (int i = dec_digits(v, tmp); i < kDigitsCap && len_ < sizeof buf_; ++i) buf_[len_++] = tmp[i];
  }
  void hex(std::uint64_t v) {
    char tmp[kDigitsCap];
    int i = hex_digits(v, tmp);
    put("0x");
    for (; i < kDigitsCap && len_ < sizeof buf_; ++i) buf_[len_++] = tmp[i];
  }
  void flush(int fd = 2) {
    const char* p = buf_;
    std::size_t n = len_;
    while (n != 0) {
      const ssize_t w = write(fd, p, n);
      if (w <= 0) break;
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    len_ = 0;
  }

 private:
  char buf_[16384];
  std::size_t len_ = 0;
};

const char* base_name(const char* path) {
  const char* b = path;
  for (const char* p = path; *p != 0; ++p)
    if (*p == '/') b = p + 1;
  return b;
}

// Where `addr` lies: its object's base name and its address in that object (as the trace writes it).
bool object_of(std::uintptr_t addr, const char*& object, std::uintptr_t& vaddr, const char** symbol = nullptr,
               std::uintptr_t* sym_off = nullptr, const char** full = nullptr) {
  Dl_info info;
  link_map* lm = nullptr;
  if (dladdr1(reinterpret_cast<void*>(addr), &info, reinterpret_cast<void**>(&lm), RTLD_DL_LINKMAP) == 0 || lm == nullptr)
    return false;
  vaddr = addr - lm->l_addr;
  const char* path = lm->l_name != nullptr && lm->l_name[0] != 0 ? lm->l_name : g_exe;
  object = base_name(path);
  if (full != nullptr) *full = path;
  if (symbol != nullptr) {
    *symbol = info.dli_sname;
    *sym_off = info.dli_saddr != nullptr ? addr - reinterpret_cast<std::uintptr_t>(info.dli_saddr) : 0;
  }
  return true;
}

const Entry* find_entry(char how, const char* object, std::uintptr_t vaddr, std::uintptr_t offset = 0) {
  for (std::size_t i = 0; i < g_nentries; ++i) {
    const Entry& e = g_entries[i];
    if (e.how == how && e.vaddr == vaddr && e.offset == offset && std::strcmp(e.object, object) == 0) return &e;
  }
  return nullptr;
}

std::uintptr_t parse_hex(const char* s) {
  std::uintptr_t v = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
  for (; *s != 0; ++s) {
    const char c = *s;
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) break;
    v = v * 16 + static_cast<std::uintptr_t>(d);
  }
  return v;
}

// --- distinct violations (--warn): (held class, acquired class, rule), lock-free ------------------
constexpr std::size_t kSeen = 4096;
struct Seen {
  std::atomic<std::uint64_t> key{0};
  std::atomic<std::uint64_t> count{0};
};
Seen* g_seen = nullptr;
std::atomic<std::uint64_t> g_seen_overflow{0};

// True the first time this violation is seen.
bool first_time(std::uint32_t held, std::uint32_t cls, int rule) {
  if (g_seen == nullptr) return true;
  const std::uint64_t key = (std::uint64_t{held} + 1) << 32 | (std::uint64_t{cls} + 1) << 2 | static_cast<std::uint64_t>(rule);
  std::size_t i = (key * 0x9e3779b97f4a7c15ULL) >> 52;
  for (std::size_t probes = 0; probes < kSeen; ++probes, i = (i + 1) & (kSeen - 1)) {
    std::uint64_t k = g_seen[i].key.load(std::memory_order_acquire);
    if (k == 0 && g_seen[i].key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) {
      g_seen[i].count.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    if (k == key) {
      g_seen[i].count.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  g_seen_overflow.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// --- the report ----------------------------------------------------------------------------------
void describe_pc(Err& e, std::uintptr_t pc) {
  e.hex(pc);
  const char* object = nullptr;
  const char* symbol = nullptr;
  std::uintptr_t vaddr = 0, off = 0;
  if (object_of(pc, object, vaddr, &symbol, &off)) {
    e.put(" ");
    e.put(object);
    e.put("+");
    e.hex(vaddr);
    if (symbol != nullptr) {
      e.put(" (");
      e.put(symbol);
      e.put("+");
      e.hex(off);
      e.put(")");
    }
  }
}

void describe_class(Err& e, std::uint32_t cls) {
  const Class* c = cls < kMaxClasses - 1 ? g_classes[cls].load(std::memory_order_acquire) : nullptr;
  if (c == nullptr) {
    e.put("(unknown class)");
    return;
  }
  if (c->entry >= 0) {
    const Entry& t = g_entries[c->entry];
    e.put("\"");
    e.put(t.name);
    e.put("\" level ");
    e.num(static_cast<std::uint64_t>(t.level));
    e.put(", made at ");
    e.put(t.where);
    e.put("\n      key ");
    e.put(t.key);
    return;
  }
  e.put("a class the table does not know (");
  e.put(how_name(c->how));
  e.put(", made at ");
  if (c->how == How::Symbol) {
    describe_pc(e, c->addr);
  } else if (c->site.n != 0) {
    describe_pc(e, c->site.pc[0]);
  }
  e.put(")");
}

// One raw frame for the command: "A|H<TAB>object path<TAB>0xaddress in the object".
void raw_frame(Err& e, char kind, std::uintptr_t pc) {
  const char* object = nullptr;
  const char* full = nullptr;
  std::uintptr_t vaddr = 0;
  if (!object_of(pc, object, vaddr, nullptr, nullptr, &full)) return;
  const char k[3] = {kind, '\t', 0};
  e.put(k);
  e.put(full);
  e.put("\t");
  e.hex(vaddr);
  e.put("\n");
}

const char* rule_text(int rule) {
  return rule == 1 ? "R1 (a lock below a level this thread holds)" : "R2 (a second lock at a level this thread holds)";
}

__attribute__((noinline, cold)) void violation(const void* lock, std::uint32_t cls, const Held& held, int rule) {
  Inside in;
  if (g_warn && !first_time(held.cls, cls, rule)) return;
  Stack s;
  capture(s);
  Err e;
  e.put(g_warn ? "smplock enforce: warning: " : "smplock enforce: ");
  e.put(rule_text(rule));
  e.put(" broken\n  acquiring ");
  e.hex(reinterpret_cast<std::uintptr_t>(lock));
  e.put(": ");
  describe_class(e, cls);
  e.put("\n  while holding ");
  e.hex(reinterpret_cast<std::uintptr_t>(held.lock));
  e.put(": ");
  describe_class(e, held.cls);
  e.put("\n  this acquisition:\n");
  for (std::uint32_t i = 0; i < s.n; ++i) {
    e.put("    #");
    e.num(i);
    e.put(" ");
    describe_pc(e, s.pc[i]);
    e.put("\n");
  }
  e.put("  the held lock was taken at:\n    #0 ");
  describe_pc(e, held.pc);
  e.put(g_warn ? "\n  (reported once; the program carries on)\n" : "\n");
  e.flush();
  if (g_frames[0] != 0) {
    // The same frames for `smplock enforce`, which names them with debug info once the program ends.
    e.put("R\t");
    e.put(rule == 1 ? "R1" : "R2");
    e.put("\n");
    for (std::uint32_t i = 0; i < s.n; ++i) raw_frame(e, 'A', s.pc[i]);
    raw_frame(e, 'H', held.pc);
    const int fd = open(g_frames, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      e.flush(fd);
      close(fd);
    }
  }
  if (!g_warn) abort();
}

}  // namespace

void load_enforce() {
  const char* path = std::getenv("SMPLOCK_ENFORCE");
  if (path == nullptr || path[0] == 0) return;
  g_recording = std::getenv("SMPLOCK_RECORD_OUT") != nullptr;
  const char* warn = std::getenv("SMPLOCK_ENFORCE_WARN");
  g_warn = warn != nullptr && warn[0] == '1';
  const char* root = std::getenv("SMPLOCK_ENFORCE_ROOT");
  g_root = root != nullptr ? static_cast<pid_t>(std::atoi(root)) : 0;
  const char* frames = std::getenv("SMPLOCK_ENFORCE_FRAMES");
  if (frames != nullptr) {
    std::strncpy(g_frames, frames, sizeof g_frames - 1);
    g_frames[sizeof g_frames - 1] = 0;
  }
  const ssize_t n = readlink("/proc/self/exe", g_exe, sizeof g_exe - 1);
  g_exe[n > 0 ? n : 0] = 0;

  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0) {
    // A table with no leveled class: nothing to check, but every class is listed at exit.
    close(fd);
    g_seen = static_cast<Seen*>(pages(kSeen * sizeof(Seen)));
    g_enforcing = true;
    return;
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  char* text = static_cast<char*>(pages(size + 1));
  std::size_t got = 0;
  while (text != nullptr && got < size) {
    const ssize_t r = read(fd, text + got, size - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  close(fd);
  if (text == nullptr) return;
  std::size_t lines = 0;
  for (std::size_t i = 0; i < got; ++i) lines += text[i] == '\n';
  g_entries = static_cast<Entry*>(pages((lines + 1) * sizeof(Entry)));
  g_seen = static_cast<Seen*>(pages(kSeen * sizeof(Seen)));
  if (g_entries == nullptr) return;
  // Fields split in place: each tab and newline becomes the end of a string.
  char* p = text;
  char* end = text + got;
  while (p < end) {
    char* field[8] = {};
    int nf = 0;
    while (p < end && *p != '\n') {
      if (nf < 8) field[nf++] = p;
      while (p < end && *p != '\t' && *p != '\n') ++p;
      if (p < end && *p == '\t') *p++ = 0;
    }
    if (p < end) *p++ = 0;
    if (nf < 8) continue;  // a malformed line: that class stays unknown
    Entry& e = g_entries[g_nentries++];
    e.how = field[0][0];
    e.vaddr = parse_hex(field[1]);
    if (const char* plus = std::strchr(field[1], '+'); plus != nullptr && e.how == 'A')
      e.offset = static_cast<std::uintptr_t>(std::strtoull(plus + 1, nullptr, 10));
    e.level = std::atoi(field[2]);
    e.nest = field[3][0] == '1';
    e.object = field[4];
    e.name = field[5];
    e.key = field[6];
    e.where = field[7];
  }
  g_enforcing = true;
}

TableLevel resolve_level(How how, std::uintptr_t addr, const Stack& site) {
  TableLevel out;
  if (!g_enforcing) return out;
  Inside in;
  const char* object = nullptr;
  std::uintptr_t vaddr = 0;
  const Entry* found = nullptr;
  if (how == How::Symbol) {
    if (object_of(addr, object, vaddr)) found = find_entry('S', object, vaddr);
  } else {
    const char want = how == How::Init ? 'I' : how == How::Alloc ? 'A' : 'F';
    const std::uintptr_t offset = how == How::Alloc ? addr : 0;  // an Alloc class's `addr` is its offset
    // The innermost frame the table knows: the frames inside it are wrappers the key skipped.
    for (std::uint32_t i = 0; i < site.n && found == nullptr; ++i)
      if (object_of(site.pc[i], object, vaddr)) found = find_entry(want, object, vaddr, offset);
  }
  if (found != nullptr) {
    out.level = found->level;
    out.nest = found->nest;
    out.entry = static_cast<std::int32_t>(found - g_entries);
  }
  return out;
}

void check_order(Thread* t, const void* lock, std::uint32_t cls, const Acquire& a) {
  if (t->nheld == 0 || a.trylock || cls >= kMaxClasses - 1) return;  // a trylock cannot wait
  const Class* c = g_classes[cls].load(std::memory_order_relaxed);
  const std::int32_t mine = c->level;
  if (mine < 0) return;  // not in the table: listed at exit
  const Held* worst = nullptr;
  int rule = 0;
  for (std::size_t i = 0; i < t->nheld; ++i) {
    const Held& h = t->held[i];
    if (h.lock == lock) return;  // a re-lock: R3's no-op for a recursive mutex (else the program's own hang)
    if (h.level < 0 || h.level < mine) continue;
    if (h.level > mine) {
      if (a.read && h.read) continue;  // read under read cannot wait on each other
      if (rule != 1 || h.level > worst->level) {
        rule = 1;
        worst = &h;
      }
    } else if (rule == 0) {
      if (h.cls == cls && c->nest && reinterpret_cast<std::uintptr_t>(lock) > reinterpret_cast<std::uintptr_t>(h.lock))
        continue;  // same-class nesting the table allows, in address order
      rule = 2;
      worst = &h;
    }
  }
  if (rule != 0) violation(lock, cls, *worst, rule);
}

void enforce_exit() {
  if (!g_enforcing || !g_warn || (g_root != 0 && getpid() != g_root)) return;
  Inside in;
  Err e;
  std::uint64_t distinct = 0, total = 0;
  for (std::size_t i = 0; g_seen != nullptr && i < kSeen; ++i) {
    const std::uint64_t k = g_seen[i].key.load(std::memory_order_acquire);
    if (k == 0) continue;
    ++distinct;
    total += g_seen[i].count.load(std::memory_order_relaxed);
  }
  e.put("smplock enforce: ");
  e.num(distinct);
  e.put(" distinct violation(s), ");
  e.num(total);
  e.put(" occurrence(s)\n");
  for (std::size_t i = 0; g_seen != nullptr && i < kSeen; ++i) {
    const std::uint64_t k = g_seen[i].key.load(std::memory_order_acquire);
    if (k == 0) continue;
    const auto held = static_cast<std::uint32_t>((k >> 32) - 1);
    const auto cls = static_cast<std::uint32_t>(((k & 0xffffffffu) >> 2) - 1);
    e.put("  ");
    e.put((k & 3) == 1 ? "R1" : "R2");
    e.put(" x");
    e.num(g_seen[i].count.load(std::memory_order_relaxed));
    e.put(": ");
    describe_class(e, cls);
    e.put("\n    inside ");
    describe_class(e, held);
    e.put("\n");
  }
  e.flush();
  std::uint32_t unknown = 0;
  const std::uint32_t n = g_nclasses.load(std::memory_order_acquire);
  for (std::uint32_t id = 0; id < n; ++id) {
    const Class* c = g_classes[id].load(std::memory_order_acquire);
    if (c != nullptr && c->entry < 0 && c->used.load(std::memory_order_relaxed)) ++unknown;
  }
  e.put("smplock enforce: ");
  e.num(unknown);
  e.put(" lock class(es) not in the table");
  e.put(unknown != 0 ? " (record again with -o and re-run levels --infer to give them levels):\n" : "\n");
  for (std::uint32_t id = 0; id < n; ++id) {
    const Class* c = g_classes[id].load(std::memory_order_acquire);
    if (c == nullptr || c->entry >= 0 || !c->used.load(std::memory_order_relaxed)) continue;
    e.put("  ");
    describe_class(e, id);
    e.put("\n");
    e.flush();
  }
  e.flush();
}

}  // namespace smplock::record
