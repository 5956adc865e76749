// The raw trace, written once per process image (at exit, before an exec, or on a fatal signal:
// signals.hpp says who writes it and when): classes, edges and counts, with every address as
// (loaded object, address in that object's file), so that `smplock record` can name functions,
// files and lines after the program is gone, with libdw, outside the program. The schema of the
// finished trace is in docs/record.md; this raw form ("smplock-trace-raw") differs in its frames
// ([object index, "0xaddress"]) and carries the numbers the finisher needs to merge classes.
//
// Where: $SMPLOCK_RECORD_OUT for the process whose pid is $SMPLOCK_RECORD_ROOT (the program
// `smplock record` started), $SMPLOCK_RECORD_OUT.<pid> for every other (forked or executed
// children), FILE.<pid>.<n> for an image that exec replaced; each path written is appended to
// $SMPLOCK_RECORD_LIST. Written as PATH.partial, then renamed: a write cut short leaves no
// truncated trace. No stdio, no malloc, no lock a signal handler could wait on for good: the text
// goes into mmap'd pages and out with write(2).
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "digits.hpp"
#include "signals.hpp"
#include "state.hpp"

namespace smplock::record {
namespace {

// --- output buffer -------------------------------------------------------------------------------
class Out {
 public:
  ~Out() {
    if (buf_ != nullptr) munmap(buf_, cap_);
  }
  void put(const char* s, std::size_t n) {
    if (len_ + n > cap_ && !grow(len_ + n)) return;
    std::memcpy(buf_ + len_, s, n);
    len_ += n;
  }
  void put(const char* s) { put(s, std::strlen(s)); }
  void num(std::uint64_t v) {
    char tmp[kDigitsCap];
    const int i = dec_digits(v, tmp);
    put(tmp + i, static_cast<std::size_t>(kDigitsCap - i));
  }
  void snum(std::int64_t v) {
    if (v < 0) {
      put("-");
      num(static_cast<std::uint64_t>(-v));
    } else {
      num(static_cast<std::uint64_t>(v));
    }
  }
  void hex(std::uint64_t v) {
    char tmp[kDigitsCap];
    const int i = hex_digits(v, tmp);
    put("\"0x");
    put(tmp + i, static_cast<std::size_t>(kDigitsCap - i));
    put("\"");
  }
  void str(const char* s, std::size_t n) {
    put("\"");
    for (std::size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"' || c == '\\') {
        const char e[2] = {'\\', static_cast<char>(c)};
        put(e, 2);
      } else if (c < 0x20) {
        char e[7] = {'\\', 'u', '0', '0', "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15], 0};
        put(e, 6);
      } else {
        put(reinterpret_cast<const char*>(&s[i]), 1);
      }
    }
    put("\"");
  }
  void str(const char* s) { str(s, std::strlen(s)); }
  const char* data() const { return buf_; }
  std::size_t size() const { return len_; }

 private:
  bool grow(std::size_t need) {
    std::size_t cap = cap_ == 0 ? (1u << 16) : cap_;
    while (cap < need) cap *= 2;
    char* n = static_cast<char*>(pages(cap));
    if (n == nullptr) return false;
    if (buf_ != nullptr) {
      std::memcpy(n, buf_, len_);
      munmap(buf_, cap_);
    }
    buf_ = n;
    cap_ = cap;
    return true;
  }
  char* buf_ = nullptr;
  std::size_t len_ = 0, cap_ = 0;
};

// --- loaded objects ----------------------------------------------------------------------------
struct Object {
  char path[512];
  std::uintptr_t bias;
  std::uintptr_t lo[16], hi[16];
  int nseg;
};
struct Objects {
  Object* obj = nullptr;
  int n = 0, cap = 0;
};

[[maybe_unused]] int note_object(dl_phdr_info* info, std::size_t, void* arg) {
  auto* all = static_cast<Objects*>(arg);
  if (all->n == all->cap) return 1;
  Object& o = all->obj[all->n];
  o.nseg = 0;
  o.bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum && o.nseg < 16; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    o.lo[o.nseg] = info->dlpi_addr + ph.p_vaddr;
    o.hi[o.nseg] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    ++o.nseg;
  }
  const char* name = info->dlpi_name;
  if (all->n == 0 && (name == nullptr || name[0] == 0)) {
    // The main program has no name in the link map.
    const ssize_t n = readlink("/proc/self/exe", o.path, sizeof o.path - 1);
    o.path[n > 0 ? n : 0] = 0;
  } else {
    std::strncpy(o.path, name != nullptr ? name : "", sizeof o.path - 1);
    o.path[sizeof o.path - 1] = 0;
  }
  if (o.path[0] == 0 || o.nseg == 0) return 0;  // the vdso and alike: nothing to name
  ++all->n;
  return 0;
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
// Objects are found as addresses need them, with _dl_find_object: no loader lock (dl_iterate_phdr
// takes one, which a thread stopped in dlopen may hold while it waits for a lock the thread in a
// signal handler holds), so the objects table is written after everything that names them.
#define SMPLOCK_FIND_OBJECT 1
int find_object(Objects& objs, std::uintptr_t pc) {
  if (objs.obj == nullptr || objs.n == objs.cap) return -1;
  dl_find_object info;
  if (_dl_find_object(reinterpret_cast<void*>(pc), &info) != 0 || info.dlfo_link_map == nullptr) return -1;
  const link_map* lm = info.dlfo_link_map;
  Object& o = objs.obj[objs.n];
  o.bias = lm->l_addr;
  o.lo[0] = reinterpret_cast<std::uintptr_t>(info.dlfo_map_start);
  o.hi[0] = reinterpret_cast<std::uintptr_t>(info.dlfo_map_end);
  o.nseg = 1;
  if (lm->l_prev == nullptr || lm->l_name == nullptr || lm->l_name[0] == 0) {
    const ssize_t n = readlink("/proc/self/exe", o.path, sizeof o.path - 1);  // the main program
    o.path[n > 0 ? n : 0] = 0;
  } else {
    std::strncpy(o.path, lm->l_name, sizeof o.path - 1);
    o.path[sizeof o.path - 1] = 0;
  }
  return objs.n++;
}
#else
int find_object(Objects&, std::uintptr_t) { return -1; }
#endif

// [object, "0xaddress in the object"], or [-1, "0xpc"] for an address in no loaded object (code
// unloaded before exit).
void frame(Out& out, Objects& objs, std::uintptr_t pc) {
  int found = -1;
  for (int i = 0; i < objs.n && found < 0; ++i) {
    const Object& o = objs.obj[i];
    for (int s = 0; s < o.nseg; ++s) {
      if (pc >= o.lo[s] && pc < o.hi[s]) found = i;
    }
  }
  if (found < 0) found = find_object(objs, pc);
  if (found >= 0) {
    out.put("[");
    out.num(static_cast<std::uint64_t>(found));
    out.put(",");
    out.hex(pc - objs.obj[found].bias);
    out.put("]");
    return;
  }
  out.put("[-1,");
  out.hex(pc);
  out.put("]");
}

void stack(Out& out, Objects& objs, const Stack& s) {
  out.put("[");
  for (std::uint32_t i = 0; i < s.n; ++i) {
    if (i != 0) out.put(",");
    frame(out, objs, s.pc[i]);
  }
  out.put("]");
}

void argv(Out& out) {
  out.put("[");
  const int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[8192];
    ssize_t n = 0, r;
    while (n < static_cast<ssize_t>(sizeof buf) && (r = read(fd, buf + n, sizeof buf - static_cast<std::size_t>(n))) > 0) n += r;
    close(fd);
    bool first = true;
    for (ssize_t i = 0; i < n;) {
      const std::size_t len = strnlen(buf + i, static_cast<std::size_t>(n - i));
      if (!first) out.put(",");
      first = false;
      out.str(buf + i, len);
      i += static_cast<ssize_t>(len) + 1;
    }
  }
  out.put("]");
}

void field(Out& out, const char* name, std::uint64_t v) {
  out.put(",\"");
  out.put(name);
  out.put("\":");
  out.num(v);
}

struct ClassTotals {
  std::uint64_t acquisitions, contended, wait_ns, max_wait_ns, hold_ns, hold_samples;
};
struct EdgeTotals {
  std::uint64_t count, blocking, read_read, address_order;
  std::uint32_t nguards;
  std::uint32_t guards[kMaxGuards];
};

// The class and edge totals: exited threads' (already merged) plus each live thread's. g_lock held.
void totals(ClassTotals* ct, std::uint32_t nclasses, EdgeTotals* et, std::uint32_t nedges) {
  for (std::uint32_t id = 0; id < nclasses; ++id) {
    const Class* c = g_classes[id].load(std::memory_order_acquire);
    ct[id] = {c->acquisitions.load(std::memory_order_relaxed), c->contended.load(std::memory_order_relaxed),
              c->wait_ns.load(std::memory_order_relaxed),      c->max_wait_ns.load(std::memory_order_relaxed),
              c->hold_ns.load(std::memory_order_relaxed),      c->hold_samples.load(std::memory_order_relaxed)};
  }
  for (std::uint32_t id = 0; id < nedges; ++id) {
    const Edge* e = g_edges[id].load(std::memory_order_acquire);
    EdgeTotals& t = et[id];
    t = {e->count.load(std::memory_order_relaxed), e->blocking.load(std::memory_order_relaxed),
         e->read_read.load(std::memory_order_relaxed), e->address_order.load(std::memory_order_relaxed), e->nguards, {}};
    for (std::uint32_t k = 0; k < e->nguards; ++k) t.guards[k] = e->guards[k];
  }
  for (Thread* th = g_threads.load(std::memory_order_acquire); th != nullptr; th = th->next) {
    if (!th->live.load(std::memory_order_acquire)) continue;
    for (std::uint32_t id = 0; id < nclasses; ++id) {
      const ClassLocal* chunk = th->dir[id / kChunkClasses].load(std::memory_order_acquire);
      if (chunk == nullptr) {
        id += kChunkClasses - 1 - id % kChunkClasses;
        continue;
      }
      const ClassLocal& l = chunk[id % kChunkClasses];
      ClassTotals& t = ct[id];
      t.acquisitions += l.acquisitions.load(std::memory_order_relaxed);
      t.contended += l.contended.load(std::memory_order_relaxed);
      t.wait_ns += l.wait_ns.load(std::memory_order_relaxed);
      t.hold_ns += l.hold_ns.load(std::memory_order_relaxed);
      t.hold_samples += l.hold_samples.load(std::memory_order_relaxed);
      const std::uint64_t mw = l.max_wait_ns.load(std::memory_order_relaxed);
      if (mw > t.max_wait_ns) t.max_wait_ns = mw;
    }
    const EdgeTable* tab = th->edges.load(std::memory_order_acquire);
    if (tab == nullptr) continue;
    const std::uint64_t life = th->life.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i <= tab->mask; ++i) {
      const EdgeLocal* e = tab->slot[i].load(std::memory_order_acquire);
      if (e == nullptr || e->life.load(std::memory_order_relaxed) != life) continue;
      EdgeTotals& t = et[e->edge->id];
      t.count += e->count.load(std::memory_order_relaxed);
      t.blocking += e->blocking.load(std::memory_order_relaxed);
      t.read_read += e->read_read.load(std::memory_order_relaxed);
      t.address_order += e->address_order.load(std::memory_order_relaxed);
      std::uint32_t kept = 0;
      const std::uint32_t ln = e->nguards.load(std::memory_order_relaxed);
      for (std::uint32_t k = 0; k < t.nguards; ++k) {
        bool in_local = false;
        for (std::uint32_t j = 0; j < ln && j < kMaxGuards; ++j) in_local |= e->guards[j].load(std::memory_order_relaxed) == t.guards[k];
        if (in_local) t.guards[kept++] = t.guards[k];
      }
      t.nguards = kept;
    }
  }
}

char g_out_path[4096];
char g_list_path[4096];
pid_t g_root = 0;

void copy_env(char* dst, std::size_t cap, const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr) v = fallback;
  std::strncpy(dst, v, cap - 1);
  dst[cap - 1] = 0;
}

// Read when the library loads: the program may change its environment later.
__attribute__((constructor)) void read_environment() {
  copy_env(g_out_path, sizeof g_out_path, "SMPLOCK_RECORD_OUT", "smplock-trace.json");
  copy_env(g_list_path, sizeof g_list_path, "SMPLOCK_RECORD_LIST", "");
  const char* root = std::getenv("SMPLOCK_RECORD_ROOT");
  g_root = root != nullptr ? static_cast<pid_t>(std::atoi(root)) : 0;
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n != 0) {
    const ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Appends "." and `v` to the path of length `n`.
void append_num(char* path, std::size_t& n, std::uint64_t v) {
  char tmp[kDigitsCap];
  const int i = dec_digits(v, tmp);
  path[n++] = '.';
  std::memcpy(path + n, tmp + i, static_cast<std::size_t>(kDigitsCap - i));
  n += static_cast<std::size_t>(kDigitsCap - i);
  path[n] = 0;
}

// The runtime's lock, or after `wait_ns` without it (a signal handler: the holder may be this very
// thread, interrupted).
bool take_lock(std::uint64_t wait_ns) {
  if (wait_ns == kWaitForever) {
    g_lock.lock();
    return true;
  }
  const std::uint64_t t0 = now_ns();
  while (!g_lock.try_lock()) {
    if (now_ns() - t0 >= wait_ns) return false;
    sched_yield();
  }
  return true;
}

struct Unlock {
  bool locked;
  ~Unlock() {
    if (locked) g_lock.unlock();
  }
};

const char* end_name(End e) {
  switch (e) {
    case End::Exit: return "exit";
    case End::Exec: return "exec";
    case End::Signal: return "signal";
  }
  return "exit";
}

}  // namespace

void write_trace() {
  if (!claim_trace(0)) return;  // a fatal signal's handler or an exec writes it
  emit_trace(End::Exit, 0, kWaitForever, nullptr);
  release_trace(true);
}

bool emit_trace(End end, int signal, std::uint64_t lock_wait_ns, char* written) {
  if (g_classes == nullptr) return false;
  Inside in;
  const pid_t pid = getpid();
  const int saved_errno = errno;

  Out out;
  Objects objs;
  objs.cap = 1024;
  objs.obj = static_cast<Object*>(pages(sizeof(Object) * static_cast<std::size_t>(objs.cap)));
#ifndef SMPLOCK_FIND_OBJECT
  if (objs.obj != nullptr) dl_iterate_phdr(note_object, &objs);
#endif
  char program[512];
  const ssize_t plen = readlink("/proc/self/exe", program, sizeof program - 1);
  program[plen > 0 ? plen : 0] = 0;

  bool locked = false;
  {
    locked = take_lock(lock_wait_ns);
    Unlock unlock{locked};
    const std::uint32_t nclasses = g_nclasses.load(std::memory_order_acquire);
    const std::uint32_t nedges = g_nedges.load(std::memory_order_acquire);
    auto* ct = static_cast<ClassTotals*>(pages(sizeof(ClassTotals) * (nclasses + 1)));
    auto* et = static_cast<EdgeTotals*>(pages(sizeof(EdgeTotals) * (nedges + 1)));
    if (ct == nullptr || et == nullptr) return false;
    totals(ct, nclasses, et, nedges);

    out.put("{\"schema\":\"smplock-trace-raw\",\"version\":1,\"program\":");
    out.str(program);
    out.put(",\"argv\":");
    argv(out);
    field(out, "pid", static_cast<std::uint64_t>(pid));
    field(out, "ppid", static_cast<std::uint64_t>(getppid()));
    field(out, "started_unix_ns", g_started_unix_ns);
    field(out, "wall_ns", now_ns() - g_started_mono_ns);
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    field(out, "cpus", cpus > 0 ? static_cast<std::uint64_t>(cpus) : 1);
    field(out, "threads", g_threads_seen.load(std::memory_order_relaxed));
    // How this image ended: exit, exec, or a fatal signal (and whether the runtime's lock was had).
    out.put(",\"end\":{\"by\":");
    out.str(end_name(end));
    field(out, "signal", static_cast<std::uint64_t>(signal));
    out.put(locked ? ",\"locked\":true}" : ",\"locked\":false}");
    out.put(",\n\"classes\":[");
    for (std::uint32_t id = 0; id < nclasses; ++id) {
      const Class* c = g_classes[id].load(std::memory_order_acquire);
      const ClassTotals& t = ct[id];
      if (id != 0) out.put(",\n");
      out.put("{\"id\":");
      out.num(id);
      out.put(",\"how\":");
      out.str(how_name(c->how));
      out.put(",\"kind\":");
      out.str(kind_name(c->kind));
      if (c->how == How::Symbol) {
        out.put(",\"addr\":");
        frame(out, objs, c->addr);
      } else if (c->how == How::Alloc) {
        field(out, "offset", c->addr);  // the lock's offset in its heap block
      }
      out.put(",\"site\":");
      stack(out, objs, c->site);
      field(out, "instances", c->instances.load(std::memory_order_relaxed));
      field(out, "acquisitions", t.acquisitions);
      field(out, "contended", t.contended);
      field(out, "wait_ns", t.wait_ns);
      field(out, "max_wait_ns", t.max_wait_ns);
      field(out, "hold_ns", t.hold_ns);
      field(out, "hold_samples", t.hold_samples);
      out.put(",\"contended_sites\":[");
      bool first = true;
      for (const ContendedSite& s : c->sites) {
        const std::uintptr_t pc = s.pc.load(std::memory_order_relaxed);
        if (pc == 0) continue;
        if (!first) out.put(",");
        first = false;
        out.put("{\"pc\":");
        frame(out, objs, pc);
        field(out, "count", s.count.load(std::memory_order_relaxed));
        out.put("}");
      }
      out.put("]}");
    }
    out.put("],\n\"edges\":[");
    bool first_edge = true;
    for (std::uint32_t id = 0; id < nedges; ++id) {
      const Edge* e = g_edges[id].load(std::memory_order_acquire);
      const EdgeTotals& t = et[id];
      if (t.count == 0) continue;  // made before a fork, not seen in this child
      if (!first_edge) out.put(",\n");
      first_edge = false;
      out.put("{\"from\":");
      out.num(e->from);
      field(out, "to", e->to);
      field(out, "count", t.count);
      field(out, "blocking", t.blocking);
      field(out, "read_read", t.read_read);
      field(out, "address_order", t.address_order);
      out.put(",\"threads\":[");
      for (std::uint32_t k = 0; k < e->thread_count && k < kMaxTids; ++k) {
        if (k != 0) out.put(",");
        out.num(static_cast<std::uint64_t>(e->tids[k]));
      }
      out.put("]");
      field(out, "thread_count", e->thread_count);
      out.put(",\"guards\":[");
      for (std::uint32_t k = 0; k < t.nguards; ++k) {
        if (k != 0) out.put(",");
        out.num(t.guards[k]);
      }
      out.put("],\"from_pc\":");
      if (e->from_pc != 0) {
        frame(out, objs, e->from_pc);
      } else {
        out.put("null");
      }
      out.put(",\"to_stack\":");
      stack(out, objs, e->to_stack);
      out.put("}");
    }
    // The objects the frames above named (found as they were needed).
    out.put("],\n\"objects\":[");
    for (int i = 0; i < objs.n; ++i) {
      if (i != 0) out.put(",");
      out.put("{\"path\":");
      out.str(objs.obj[i].path);
      out.put(",\"bias\":");
      out.hex(objs.obj[i].bias);
      out.put("}");
    }
    out.put("]}\n");
    munmap(ct, sizeof(ClassTotals) * (nclasses + 1));
    munmap(et, sizeof(EdgeTotals) * (nedges + 1));
  }

  // FILE for the first process, FILE.<pid> for the others; an image exec replaces: FILE.<pid>.<n>,
  // the first n free (the next image of this pid writes the usual name).
  char path[kPathCap];
  std::size_t n = std::strlen(g_out_path);
  std::memcpy(path, g_out_path, n + 1);
  if (pid != g_root || end == End::Exec) append_num(path, n, static_cast<std::uint64_t>(pid));
  if (end == End::Exec) {
    const std::size_t base = n;
    for (std::uint64_t k = 1;; ++k) {
      n = base;
      append_num(path, n, k);
      const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);  // reserves the name
      if (fd >= 0) {
        close(fd);
        break;
      }
      if (errno != EEXIST || k == 10000) {
        if (objs.obj != nullptr) munmap(objs.obj, sizeof(Object) * static_cast<std::size_t>(objs.cap));
        errno = saved_errno;
        return false;
      }
    }
  }
  char partial[kPathCap + 16];
  std::memcpy(partial, path, n);
  std::memcpy(partial + n, ".partial", 9);
  bool wrote = false;
  const int fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    wrote = write_all(fd, out.data(), out.size());
    wrote = close(fd) == 0 && wrote && rename(partial, path) == 0;
    if (!wrote) unlink(partial);
  }
  if (!wrote && end == End::Exec) unlink(path);  // the reserved name
  if (wrote && g_list_path[0] != 0) {
    const int lf = open(g_list_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lf >= 0) {
      char line[kPathCap + 1];
      std::memcpy(line, path, n);
      line[n] = '\n';
      write_all(lf, line, n + 1);  // one write: lines of several processes never mix
      close(lf);
    }
  }
  if (wrote && written != nullptr) std::memcpy(written, path, n + 1);
  if (objs.obj != nullptr) munmap(objs.obj, sizeof(Object) * static_cast<std::size_t>(objs.cap));
  errno = saved_errno;
  return wrote;
}

}  // namespace smplock::record
