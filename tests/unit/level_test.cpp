// The level table: values, names, and the IRQ mapping of DESIGN §3.
#include <gtest/gtest.h>

#include <set>

#include "smplock/level.hpp"

namespace smplock {
namespace {

TEST(Level, ValuesAreTheTable) {
  EXPECT_EQ(to_int(Level::Null), 0x00);
  EXPECT_EQ(to_int(Level::Softint), 0x01);
  EXPECT_EQ(to_int(Level::SH), 0x10);
  EXPECT_EQ(to_int(Level::HT), 0x18);
  EXPECT_EQ(to_int(Level::VL), 0x20);
  EXPECT_EQ(to_int(Level::DV), 0x28);
  EXPECT_EQ(to_int(Level::PT), 0x30);
  EXPECT_EQ(to_int(Level::GP), 0x40);
  EXPECT_EQ(to_int(Level::PM), 0x48);
  EXPECT_EQ(to_int(Level::CP), 0x49);
  EXPECT_EQ(to_int(Level::PS), 0x4A);
  EXPECT_EQ(to_int(Level::TF), 0x4C);
  EXPECT_EQ(to_int(Level::EV), 0x4E);
  EXPECT_EQ(to_int(Level::TP), 0x50);
  EXPECT_EQ(to_int(Level::TC), 0x52);
  EXPECT_EQ(to_int(Level::PR), 0x54);
  EXPECT_EQ(to_int(Level::SE), 0x60);
  EXPECT_EQ(to_int(Level::NP), 0x68);
  EXPECT_EQ(to_int(Level::QU), 0x70);
  EXPECT_EQ(to_int(Level::KT), 0xF8);
  EXPECT_EQ(to_int(Level::HI), 0xFC);
}

TEST(Level, PoolSitsBelowEveryIrq) {
  for (unsigned n = 0; n < kIrqCount; ++n) {
    EXPECT_LT(Level::QU, irq_level(n));
    EXPECT_LT(irq_level(n), Level::KT);
  }
}

TEST(Level, IrqMappingFollowsThe8259Cascade) {
  // From highest priority to lowest: 0 1 2 8 9 10 11 12 13 14 15 3 4 5 6 7.
  const unsigned order[kIrqCount] = {0, 1, 2, 8, 9, 10, 11, 12, 13, 14, 15, 3, 4, 5, 6, 7};
  for (unsigned i = 0; i < kIrqCount; ++i) EXPECT_EQ(to_int(irq_level(order[i])), 0xEF - i) << "IRQ " << order[i];
  std::set<unsigned> distinct;
  for (unsigned n = 0; n < kIrqCount; ++n) distinct.insert(to_int(irq_level(n)));
  EXPECT_EQ(distinct.size(), kIrqCount);
  static_assert(irq_level(0) == static_cast<Level>(0xEF) && irq_level(7) == static_cast<Level>(0xE0));
}

TEST(Level, IrqOfLevelInvertsTheMapping) {
  for (unsigned n = 0; n < kIrqCount; ++n) EXPECT_EQ(irq_of_level(irq_level(n)), static_cast<int>(n));
  EXPECT_EQ(irq_of_level(Level::NP), -1);
  EXPECT_EQ(irq_of_level(Level::HI), -1);
}

TEST(Level, Names) {
  EXPECT_EQ(level_name(Level::NP), "NP");
  EXPECT_EQ(level_name(Level::Null), "Null");
  EXPECT_EQ(level_name(Level::HI), "HI");
  EXPECT_EQ(level_name(irq_level(3)), "IRQ 3");
  EXPECT_EQ(level_name(irq_level(15)), "IRQ 15");
  EXPECT_EQ(level_name(static_cast<Level>(0x69)), "0x69");
  EXPECT_EQ(level_name(static_cast<Level>(0xFF)), "0xFF");
  EXPECT_EQ(level_description(Level::CP), "cache private lock (per-cache block lists)");
  EXPECT_EQ(level_description(static_cast<Level>(0x69)), "");
}

TEST(Level, OrderingOperators) {
  EXPECT_TRUE(Level::PM < Level::CP);
  EXPECT_TRUE(Level::HI > Level::KT);
  EXPECT_TRUE(Level::NP <= Level::NP);
  EXPECT_FALSE(Level::SE >= Level::NP);
}

}  // namespace
}  // namespace smplock
