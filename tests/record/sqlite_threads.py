"""Python threads using sqlite3 (a real program's locks: CPython's and SQLite's own pthread
mutexes): four threads, each with an in-memory database, and one shared database they all write
to through one connection (SQLite serialises it with its mutexes). Prints what it computed."""
import sqlite3
import threading

shared = sqlite3.connect(":memory:", check_same_thread=False)
shared.execute("create table log(k integer, n integer)")
shared_lock = threading.Lock()
results = {}


def work(k):
    db = sqlite3.connect(":memory:")
    db.execute("create table t(a integer, b text)")
    db.executemany("insert into t values (?, ?)", [(i, str(i * (k + 3))) for i in range(3000)])
    count, total = db.execute("select count(*), sum(a) from t where b like '%1%'").fetchone()
    with shared_lock:
        shared.execute("insert into log values (?, ?)", (k, count))
    results[k] = (count, total)


threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sorted(results.items()))
print(shared.execute("select count(*), sum(n) from log").fetchone())
