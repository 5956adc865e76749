// N alloc+free pairs of one size through one allocator, for exact instruction counts under
// valgrind --tool=callgrind (the machine's timings are noisy; instruction counts are not).
//   npp_callgrind <npp|glibc|mimalloc|jemalloc|tcmalloc|tbbmalloc> <size> <pairs>
// Run with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=65536 for jemalloc.
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "smplock/npp.hpp"

namespace {
void* ours_malloc(std::size_t n) { return smplock::npp::malloc(n); }
void ours_free(void* p) { smplock::npp::free(p); }
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s <npp|glibc|mimalloc|jemalloc|tcmalloc|tbbmalloc> <size> <pairs>\n", argv[0]);
    return 2;
  }
  void* (*alloc)(std::size_t) = ours_malloc;
  void (*release)(void*) = ours_free;
  struct Peer {
    const char *name, *lib, *a, *f;
  };
  const Peer peers[] = {{"mimalloc", "libmimalloc.so.2", "mi_malloc", "mi_free"},
                        {"jemalloc", "libjemalloc.so.2", "malloc", "free"},
                        {"tcmalloc", "libtcmalloc_minimal.so.4", "tc_malloc", "tc_free"},
                        {"tbbmalloc", "libtbbmalloc.so.2", "scalable_malloc", "scalable_free"}};
  if (std::strcmp(argv[1], "glibc") == 0) {
    alloc = ::malloc;
    release = ::free;
  }
  for (const Peer& p : peers) {
    if (std::strcmp(argv[1], p.name) != 0) continue;
    void* h = dlopen(p.lib, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "%s\n", dlerror());
      return 1;
    }
    alloc = reinterpret_cast<void* (*)(std::size_t)>(dlsym(h, p.a));
    release = reinterpret_cast<void (*)(void*)>(dlsym(h, p.f));
  }
  const std::size_t size = std::strtoul(argv[2], nullptr, 10);
  const long pairs = std::strtol(argv[3], nullptr, 10);
  for (long i = 0; i < pairs; ++i) {
    void* p = alloc(size);
    static_cast<volatile char*>(p)[0] = 1;
    release(p);
  }
  return 0;
}
