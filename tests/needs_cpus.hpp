// Tests that need more than one CPU skip themselves in the uniprocessor build, where a second
// CPU attaching is a crash by design (DESIGN §1).
#pragma once

#include <gtest/gtest.h>

#ifdef SMPLOCK_UNIPROCESSOR
#define SMPLOCK_NEEDS_SEVERAL_CPUS() GTEST_SKIP() << "needs several CPUs; this is the uniprocessor build"
#else
#define SMPLOCK_NEEDS_SEVERAL_CPUS() static_cast<void>(0)
#endif
