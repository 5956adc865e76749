// smplock/smplock.hpp: the umbrella header. Include this, or the one header you need.
#pragma once

#include "smplock/cpu.hpp"
#include "smplock/irq.hpp"
#include "smplock/level.hpp"
#include "smplock/lock.hpp"
#include "smplock/lowipl.hpp"
#include "smplock/npp.hpp"
#include "smplock/rules.hpp"
#include "smplock/stats.hpp"
