// A small program to copy from: accounts moved between by several threads, each transfer holding
// both accounts at once. Every account's lock is of one class ("account") at one level, and two
// locks of one level are never held together (R2) except through smplock::ClassGuard, which takes
// them in address order: the same order on every thread, so two transfers going opposite ways can
// never wait for each other in a circle. The ledger sits one level above the accounts and is taken
// inside the transfer (upward, as levels require).
#include <smplock/smplock.hpp>

#include <cstdio>
#include <thread>
#include <vector>

namespace {

// A user's own levels sit between the table's (any 8-bit value is a level).
constexpr smplock::Level kAccountLevel = smplock::Level::TP;
constexpr smplock::Level kLedgerLevel = smplock::Level::TC;  // above the accounts

constinit smplock::Lock ledger_lock{kLedgerLevel, "ledger"};
long ledger_entries = 0;

struct Account {
  smplock::Lock lock{kAccountLevel, "account"};  // every account shares the class "account"
  long balance = 1000;
};

void transfer(Account& from, Account& to, long amount) {
  smplock::ClassGuard accounts(from.lock, to.lock);  // level TP, both accounts, address order
  from.balance -= amount;                            // (two plain Guards here would be R2)
  to.balance += amount;
  smplock::Guard ledger(ledger_lock);                // level TC: above TP, allowed
  ++ledger_entries;
}  // the ledger, then both accounts, then back to where the thread was

}  // namespace

int main() {
  Account a, b;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10000; ++i) (t % 2 ? transfer(a, b, 1) : transfer(b, a, 1));
    });
  for (auto& th : threads) th.join();
  std::printf("balances %ld + %ld = %ld (expected 2000), %ld ledger entries (expected 40000)\n", a.balance,
              b.balance, a.balance + b.balance, ledger_entries);
  std::printf("this thread is CPU %d at level %s\n", smplock::cpu_index(),
              smplock::level_name(smplock::current_level()).data());
  return a.balance + b.balance == 2000 && ledger_entries == 40000 ? 0 : 1;
}
