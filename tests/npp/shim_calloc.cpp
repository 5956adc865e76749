// calloc under the preload library (issue 11, defect 11): memory fresh from the OS is already zero
// and must not be written. calloc(1, 512 MiB) and calloc(1, 3 MiB) (a page-heap block) must leave
// the resident set nearly as it was (VmRSS from /proc/self/status, before and after: a memory
// check, not a timing one), and calloc of memory that was used before must still be all zero.
// Run under LD_PRELOAD=libsmplock-malloc.so; exit status 0 when every check holds.
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "on_shim.hpp"

namespace {

long vm_rss_kib() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::strtol(line + 6, nullptr, 10);
  std::fclose(f);
  return kib;
}

bool all_zero(const unsigned char* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

// A block of n bytes is used (every byte written), freed, and then calloc'd again at that size:
// whatever block calloc gives must be all zero.
bool reused_is_zero(std::size_t n) {
  auto* p = static_cast<unsigned char*>(malloc(n));
  if (p == nullptr) return false;
  std::memset(p, 0xA5, n);
  free(p);
  auto* q = static_cast<unsigned char*>(calloc(n, 1));
  const bool ok = q != nullptr && all_zero(q, n);
  if (!ok) std::fprintf(stderr, "calloc(%zu, 1) after a used block of that size: not all zero\n", n);
  free(q);
  return ok;
}

}  // namespace

int main() {
  if (!on_shim()) return 2;
  bool ok = true;
  for (std::size_t n : {std::size_t{64}, std::size_t{16384}, std::size_t{100000}, std::size_t{300000},
                        std::size_t{2} << 20, std::size_t{8} << 20})
    ok = reused_is_zero(n) && ok;

  constexpr std::size_t kBig = std::size_t{512} << 20;
  constexpr std::size_t kLarge = std::size_t{3} << 20;
  const long before = vm_rss_kib();
  auto* big = static_cast<unsigned char*>(calloc(1, kBig));
  auto* large = static_cast<unsigned char*>(calloc(kLarge / 1024, 1024));
  const long after = vm_rss_kib();
  if (big == nullptr || large == nullptr || before < 0 || after < 0) {
    std::fprintf(stderr, "calloc failed or no VmRSS\n");
    return 1;
  }
  // A few bytes read: untouched anonymous pages read as zero without being committed.
  if (big[0] != 0 || big[kBig / 2] != 0 || big[kBig - 1] != 0 || large[0] != 0 || large[kLarge - 1] != 0) {
    std::fprintf(stderr, "calloc'd memory not zero\n");
    ok = false;
  }
  const long grown = after - before;
  std::printf("VmRSS before %ld KiB, after %ld KiB: grown %ld KiB for %zu MiB calloc'd\n", before, after, grown,
              (kBig + kLarge) >> 20);
  // glibc grows by nothing; writing the blocks would grow it by 515 MiB. 32 MiB is room for
  // whatever else the process touches meanwhile.
  if (grown > 32 * 1024) {
    std::fprintf(stderr, "calloc wrote memory fresh from the OS: VmRSS grew by %ld KiB\n", grown);
    ok = false;
  }
  free(big);
  free(large);
  return ok ? 0 : 1;
}
