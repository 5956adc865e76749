// std::mutex, std::shared_mutex and a std::mutex member of a heap object, through the std guards:
// the classes and edges name this file's functions, not std::lock_guard or std::mutex::lock.
// table_lock -> catalog (shared) here, catalog (exclusive) -> table_lock there: a cycle.
#include <cstdio>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

std::mutex table_lock;
std::shared_mutex catalog;

struct Account {
  std::mutex lock;
  long balance = 0;
};

__attribute__((noinline)) void read_under_table(Account& acc) {
  std::lock_guard<std::mutex> g(table_lock);
  std::shared_lock<std::shared_mutex> s(catalog);
  std::unique_lock<std::mutex> a(acc.lock);  // a member std::mutex: no init call, a first-use class
  acc.balance += 1;
}

__attribute__((noinline)) void write_catalog() {
  std::unique_lock<std::shared_mutex> w(catalog);
  std::scoped_lock g(table_lock);
}

int main() {
  auto acc = std::make_unique<Account>();
  std::thread t1([&] { read_under_table(*acc); });
  t1.join();
  std::thread t2(write_catalog);
  t2.join();
  std::printf("balance %ld\n", acc->balance);
  return 0;
}
