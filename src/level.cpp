// The names of the levels, built once into static storage so level_name() never allocates.
#include "smplock/level.hpp"

#include <array>

namespace smplock {
namespace {

struct Named {
  Level level;
  const char* name;
  const char* protects;
};

constexpr Named kNamed[] = {
    {Level::Null, "Null", "nothing held, softints on"},
    {Level::Softint, "Softint", "nothing held, softints off"},
    {Level::SH, "SH", "shutdown handler table"},
    {Level::HT, "HT", "per-process handle tables"},
    {Level::VL, "VL", "per-volume filesystem volume locks"},
    {Level::DV, "DV", "devices"},
    {Level::PT, "PT", "per-process page table"},
    {Level::GP, "GP", "global sections page table"},
    {Level::PM, "PM", "physical memory tables"},
    {Level::CP, "CP", "cache private lock (per-cache block lists)"},
    {Level::PS, "PS", "per-process state"},
    {Level::TF, "TF", "thread family list"},
    {Level::EV, "EV", "individual event flag state"},
    {Level::TP, "TP", "individual thread private lock"},
    {Level::TC, "TC", "thread COM queue lock"},
    {Level::PR, "PR", "process lists"},
    {Level::SE, "SE", "security structs"},
    {Level::NP, "NP", "non-paged pool"},
    {Level::QU, "QU", "quota"},
    {Level::KT, "KT", "kthread routines"},
    {Level::HI, "HI", "lowipl routines (top lock level)"},
};

struct NameTable {
  std::array<std::array<char, 8>, 256> text{};
  std::array<std::uint8_t, 256> length{};
  std::array<const char*, 256> protects{};

  NameTable() {
    constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned v = 0; v < 256; ++v) {
      auto& t = text[v];
      t = {'0', 'x', kHex[v >> 4], kHex[v & 15], 0};
      length[v] = 4;
      protects[v] = "";
    }
    for (const Named& n : kNamed) {
      const unsigned v = to_int(n.level);
      unsigned i = 0;
      for (; n.name[i] != 0; ++i) text[v][i] = n.name[i];
      text[v][i] = 0;
      length[v] = static_cast<std::uint8_t>(i);
      protects[v] = n.protects;
    }
    for (unsigned line = 0; line < kIrqCount; ++line) {
      const unsigned v = to_int(irq_level(line));
      auto& t = text[v];
      unsigned i = 0;
      for (const char c : {'I', 'R', 'Q', ' '}) t[i++] = c;
      if (line >= 10) t[i++] = '1';
      t[i++] = static_cast<char>('0' + line % 10);
      t[i] = 0;
      length[v] = static_cast<std::uint8_t>(i);
      protects[v] = "interrupt line";
    }
  }
};

const NameTable& table() {
  static const NameTable t;  // built at first use; thread-safe static initialisation
  return t;
}

// Built before main() so that level_name() is safe from the crash path and from signal handlers.
[[maybe_unused]] const NameTable& kWarm = table();

}  // namespace

std::string_view level_name(Level level) {
  const auto& t = table();
  const unsigned v = to_int(level);
  return {t.text[v].data(), t.length[v]};
}

std::string_view level_description(Level level) { return table().protects[to_int(level)]; }

}  // namespace smplock
