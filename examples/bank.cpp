// A small program to copy from: two accounts guarded by locks at two levels, moved between by
// several threads. Levels make the order fixed: the ledger (lower) is always taken before an
// account (higher), so no two threads can ever wait for each other in a circle.
#include <smplock/smplock.hpp>

#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

namespace {

// A user's own levels sit between the table's (any 8-bit value is a level).
constexpr smplock::Level kLedgerLevel = smplock::Level::PS;
constexpr smplock::Level kAccountLevel = smplock::Level::TP;

constinit smplock::Lock ledger_lock{kLedgerLevel, "ledger"};
long ledger_entries = 0;

struct Account {
  smplock::Lock lock{kAccountLevel, "account"};  // every account shares the class "account"
  long balance = 1000;
};

void transfer(Account& from, Account& to, long amount) {
  smplock::Guard ledger(ledger_lock);  // level PS
  {
    std::lock_guard guard(from.lock);    // level TP: above PS, allowed
    from.balance -= amount;
  }                                      // back down to PS
  {
    std::lock_guard guard(to.lock);
    to.balance += amount;
  }
  ++ledger_entries;
}

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
