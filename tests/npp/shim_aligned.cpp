// The aligned-allocation grid (issue 11, defect 1) through the preload library's C functions:
// aligned_alloc, posix_memalign and memalign, each with sizes 0, 1, 15, 16, 64 KiB-1, 64 KiB and
// 1 MiB+1 at every alignment from 8 B to 16 MiB, contents checked, every live block apart.
// Run under LD_PRELOAD=libsmplock-malloc.so; exit status 0 when every check holds.
#include <malloc.h>
#include <stdlib.h>

#include <cstdio>

#include "aligned_grid.hpp"
#include "on_shim.hpp"

int main() {
  if (!on_shim()) return 2;
  auto usable = [](void* p) { return malloc_usable_size(p); };
  auto release = [](void* p) { free(p); };
  const bool a = npp_grid::run_grid([](std::size_t n, std::size_t al) { return aligned_alloc(al, n); }, release, usable);
  const bool b = npp_grid::run_grid(
      [](std::size_t n, std::size_t al) -> void* {
        void* p = nullptr;
        return posix_memalign(&p, al, n) == 0 ? p : nullptr;
      },
      release, usable);
  const bool c = npp_grid::run_grid([](std::size_t n, std::size_t al) { return memalign(al, n); }, release, usable);
  std::printf("aligned_alloc %s, posix_memalign %s, memalign %s\n", a ? "ok" : "FAILED", b ? "ok" : "FAILED",
              c ? "ok" : "FAILED");
  return a && b && c ? 0 : 1;
}
