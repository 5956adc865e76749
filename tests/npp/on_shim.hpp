// tests/npp/on_shim.hpp: whether this program's malloc is libsmplock-malloc.so's. The preload
// programs check it first, so that a test run without the preload fails instead of passing on
// glibc's malloc.
#pragma once

#include <dlfcn.h>

#include <cstdio>
#include <cstring>

inline bool on_shim() {
  Dl_info info{};
  void* m = dlsym(RTLD_DEFAULT, "malloc");
  if (m == nullptr || dladdr(m, &info) == 0 || info.dli_fname == nullptr ||
      std::strstr(info.dli_fname, "smplock-malloc") == nullptr) {
    std::fprintf(stderr, "not running on libsmplock-malloc.so (malloc from %s)\n",
                 info.dli_fname != nullptr ? info.dli_fname : "?");
    return false;
  }
  return true;
}
