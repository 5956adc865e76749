// Two threads move money between two accounts both ways at once, each transfer holding both
// accounts' locks together through ClassGuard (one class, "account", one level). Taken in address
// order by both threads, the pair can never deadlock: a fixed number of transfers each, every one
// completes, and the total is what it started as. A third thread takes each account alone with a
// plain Guard meanwhile (the group and single locks of the class mix freely, never two at once
// outside the group). Nothing is timed: a deadlock would be a hang, which the count never reaches.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "needs_cpus.hpp"
#include "smplock/smplock.hpp"

namespace smplock {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kTransfers = 20'000;
#else
constexpr int kTransfers = 200'000;
#endif

struct Account {
  Lock lock{Level::TP, "account"};
  long balance = 1'000'000;
};

void transfer(Account& from, Account& to, long amount) {
  ClassGuard both(from.lock, to.lock);
  from.balance -= amount;
  to.balance += amount;
}

TEST(SameClassStress, TwoThreadsTransferBothWaysAndNeverDeadlock) {
  SMPLOCK_NEEDS_SEVERAL_CPUS();
  Account a, b;
  std::atomic<int> done{0};
  std::thread ab([&] {
    for (int i = 0; i < kTransfers; ++i) transfer(a, b, 3);
    done.fetch_add(1);
  });
  std::thread ba([&] {
    for (int i = 0; i < kTransfers; ++i) transfer(b, a, 2);
    done.fetch_add(1);
  });
  // Takes each account alone meanwhile, with a plain Guard (one lock of the class at a time).
  std::thread reader([&] {
    long seen = 0;
    while (done.load() < 2)
      for (Account* acc : {&a, &b}) {
        Guard g(acc->lock);
        seen += acc->balance;
      }
    EXPECT_GE(seen, 0);
  });
  ab.join();
  ba.join();
  reader.join();
  EXPECT_EQ(a.balance + b.balance, 2'000'000);
  EXPECT_EQ(a.balance, 1'000'000 - 3L * kTransfers + 2L * kTransfers);
  EXPECT_EQ(b.balance, 1'000'000 + 3L * kTransfers - 2L * kTransfers);
  EXPECT_EQ(current_level(), Level::Null);
  EXPECT_EQ(a.lock.owner(), -1);
  EXPECT_EQ(b.lock.owner(), -1);
}

}  // namespace
}  // namespace smplock
