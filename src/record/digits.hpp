// src/record/digits.hpp: a number's decimal or hexadecimal digits, written without allocating or
// locking, for the interposer's two writers (the trace's JSON and the enforce report on stderr).
#pragma once

#include <cstdint>

namespace smplock::record {

inline constexpr int kDigitsCap = 24;  // enough for any 64-bit value in either base

// Writes v's digits at the end of tmp and returns the index of the first one.
inline int dec_digits(std::uint64_t v, char (&tmp)[kDigitsCap]) {
  int i = kDigitsCap;
  do {
    tmp[--i] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  return i;
}

inline int hex_digits(std::uint64_t v, char (&tmp)[kDigitsCap]) {
  int i = kDigitsCap;
  do {
    tmp[--i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0);
  return i;
}

}  // namespace smplock::record
