// std::mutex members of heap objects (no init call): their class is the allocation site of the
// block plus the member's offset, not the first place each one is locked.
//   (a) two objects from one `new` site, their `first` members first locked in two different
//       functions: one class, named by make_here (+ first's offset);
//   (b) `first` and `second` of one object (two offsets): two classes, an edge between them;
//   (c) the same type made at another site (std::make_unique in make_there): other classes;
//   (d) a std::mutex on the stack: no block, its first acquisition's site (lock_on_stack);
//   (e) an object freed and another made at make_again (most likely at the same address, reused by
//       the allocator): its mutex is of make_again's class, not the freed object's.
#include <cstdio>
#include <memory>
#include <mutex>

struct Pair {
  long value = 0;
  std::mutex first;
  std::mutex second;
};

__attribute__((noinline)) Pair* make_here() { return new Pair; }
__attribute__((noinline)) std::unique_ptr<Pair> make_there() { return std::make_unique<Pair>(); }
__attribute__((noinline)) Pair* make_again() { return new Pair; }

__attribute__((noinline)) void touch_one(Pair& p) {
  std::lock_guard<std::mutex> g(p.first);
  p.value += 1;
}

__attribute__((noinline)) void touch_two(Pair& p) {
  std::lock_guard<std::mutex> g(p.first);
  p.value += 2;
}

__attribute__((noinline)) void first_then_second(Pair& p) {
  std::lock_guard<std::mutex> a(p.first);
  std::lock_guard<std::mutex> b(p.second);
  p.value += 3;
}

__attribute__((noinline)) void here_then_there(Pair& here, Pair& there) {
  std::lock_guard<std::mutex> a(here.first);
  std::lock_guard<std::mutex> b(there.first);
  there.value += here.value;
}

__attribute__((noinline)) void lock_on_stack(Pair& p) {
  std::mutex local;
  std::lock_guard<std::mutex> a(p.second);
  std::lock_guard<std::mutex> b(local);
  p.value += 4;
}

int main() {
  Pair* one = make_here();
  Pair* two = make_here();
  touch_one(*one);  // (a) one's `first` is first locked here...
  touch_two(*two);  // ... and two's `first` here: still one class
  touch_one(*two);
  first_then_second(*one);  // (b)
  auto three = make_there();
  here_then_there(*one, *three);  // (c)
  lock_on_stack(*two);  // (d)
  std::printf("values %ld %ld %ld\n", one->value, two->value, three->value);
  delete one;
  Pair* four = make_again();  // (e)
  touch_one(*four);
  delete four;
  delete two;
  return 0;
}
