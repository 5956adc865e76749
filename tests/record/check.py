#!/usr/bin/env python3
"""Runs one program bare and under `smplock record`, checks that its output and exit status are the
same, and checks the trace it leaves against the answer the program must give (CHECKS below).

  check.py --smplock SMPLOCK --trace OUT.trace.json --name NAME [--input-bytes N] [--compare MODE]
           -- PROGRAM [ARGS...]

The trace stays in the build tree (tests/record/<name>.trace.json), for `smplock levels --infer`
tests to reuse. Exit 77 (ctest SKIP_RETURN_CODE) when PROGRAM is not installed.
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys


class Trace:
    def __init__(self, path):
        with open(path) as f:
            self.j = json.load(f)
        assert self.j["schema"] == "smplock-trace" and self.j["version"] == 1, f"{path}: not a finished trace"
        self.classes = self.j["classes"]
        self.edges = self.j["edges"]
        self.nesting = self.j["nesting"]
        for i, c in enumerate(self.classes):
            assert c["id"] == i, f"class ids must be indexes: {c['id']} at {i}"

    def cls(self, name):
        found = [c for c in self.classes if c["name"] == name]
        assert len(found) == 1, f"one class named {name!r} expected, found {len(found)}: {self.names()}"
        return found[0]

    def cls_at(self, function):
        """The classes made (first-use, init, alloc) in `function` (a demangled name, parameters left off)."""
        return [c for c in self.classes if c["site"].get("function", "").split("(")[0] == function]

    def names(self):
        return [c["name"] for c in self.classes]

    def edge(self, a, b):
        ia = a if isinstance(a, int) else self.cls(a)["id"]
        ib = b if isinstance(b, int) else self.cls(b)["id"]
        found = [e for e in self.edges if e["from"] == ia and e["to"] == ib]
        return found[0] if found else None

    def need_edge(self, a, b):
        e = self.edge(a, b)
        assert e is not None, f"edge {a} -> {b} expected; edges: {self.edge_names()}"
        return e

    def edge_names(self):
        n = [c["name"] for c in self.classes]
        return [f"{n[e['from']]}->{n[e['to']]}" for e in self.edges]


def frames_name(stack):
    return [f.get("function", "") for f in stack]


# --- the planted programs' answers -----------------------------------------------------------------

def check_abba_time(t, children):
    a, b = t.cls("lock_a"), t.cls("lock_b")
    assert a["how"] == "symbol" and a["key"].startswith("symbol:") and a["key"].endswith(":lock_a"), a
    ab, ba = t.need_edge("lock_a", "lock_b"), t.need_edge("lock_b", "lock_a")
    assert ab["thread_count"] == 1 and ba["thread_count"] == 1
    assert ab["threads"] != ba["threads"], "the two orders were taken on two threads"
    assert ab["blocking"] == ab["count"] == 1 and ab["guards"] == [] and ba["guards"] == []
    assert frames_name(ab["to_stack"])[0] == "forward", ab["to_stack"]
    assert frames_name(ab["from_stack"])[0] == "forward", ab["from_stack"]
    assert ab["to_stack"][0].get("file", "").endswith("abba_time.c"), ab["to_stack"][0]
    assert a["acquisitions"] == 2 and b["acquisitions"] == 2


def check_abba_one_thread(t, children):
    ab, ba = t.need_edge("lock_a", "lock_b"), t.need_edge("lock_b", "lock_a")
    assert ab["threads"] == ba["threads"] and ab["thread_count"] == 1
    assert ab["count"] == 3 and ba["count"] == 3
    assert t.j["threads"] == 1


def check_cycles(t, children):
    ring3 = ["c1", "c2", "c3"]
    ring4 = ["d1", "d2", "d3", "d4"]
    for ring in (ring3, ring4):
        for i, n in enumerate(ring):
            t.need_edge(n, ring[(i + 1) % len(ring)])
    assert len(t.edges) == 7, t.edge_names()


def check_gated(t, children):
    gate = t.cls("gate")["id"]
    ab, ba = t.need_edge("lock_a", "lock_b"), t.need_edge("lock_b", "lock_a")
    assert ab["guards"] == [gate] and ba["guards"] == [gate], (ab["guards"], ba["guards"])
    assert ab["count"] == 100 and ba["count"] == 100
    for n in ("lock_a", "lock_b"):
        assert t.need_edge("gate", n)["guards"] == []


def check_trylock_reverse(t, children):
    ab = t.need_edge("lock_a", "lock_b")
    ba = t.need_edge("lock_b", "lock_a")
    assert ab["blocking"] == 1 and ba["count"] == 1 and ba["blocking"] == 0, (ab, ba)


def check_rwlocks(t, children):
    for a, b in (("r1", "r2"), ("r2", "r1")):
        e = t.need_edge(a, b)
        assert e["read_read"] == e["count"] == 1, e
    for a, b in (("w1", "w2"), ("w2", "w1")):
        e = t.need_edge(a, b)
        assert e["read_read"] == 0 and e["count"] == 1, e
    assert all(c["kind"] == "rwlock" for c in t.classes)


def check_recursive(t, children):
    rec = t.cls("rec")
    assert rec["kind"] == "recursive" and rec["acquisitions"] == 3, rec
    assert t.need_edge("rec", "inner")["count"] == 1
    assert len(t.edges) == 1 and t.nesting == [], (t.edge_names(), t.nesting)


def check_condwait(t, children):
    box = t.cls("box")
    # 2000 lock calls, and a re-acquisition after every wait that returned.
    assert box["acquisitions"] >= 2000, box
    assert t.edges == [] and t.nesting == [], t.edge_names()


def check_remade(t, children):
    first, second = t.cls_at("make_first"), t.cls_at("make_second")
    assert len(first) == 1 and len(second) == 1, t.names()
    assert first[0]["how"] == "init" and first[0]["key"].startswith("init:"), first[0]
    t.need_edge(first[0]["id"], "global")
    t.need_edge("global", second[0]["id"])
    assert t.edge("global", first[0]["id"]) is None and t.edge(second[0]["id"], "global") is None
    assert len(t.edges) == 2, t.edge_names()


def check_heap100(t, children):
    made = t.cls_at("main")
    assert len(made) == 1, t.names()
    c = made[0]
    assert c["how"] == "init" and c["instances"] == 100 and c["acquisitions"] == 100, c
    assert len(t.nesting) == 1, t.nesting
    n = t.nesting[0]
    assert n["class"] == c["id"] and n["count"] == 99 and n["address_order"] == 99, n
    assert t.edges == []


def check_cxx_locks(t, children):
    table, catalog = t.cls("table_lock"), t.cls("catalog")
    assert catalog["kind"] == "rwlock" and table["kind"] == "mutex"
    tc = t.need_edge("table_lock", "catalog")
    ct = t.need_edge("catalog", "table_lock")
    assert frames_name(tc["to_stack"])[0].startswith("read_under_table"), tc["to_stack"]
    assert frames_name(ct["to_stack"])[0].startswith("write_catalog"), ct["to_stack"]
    # The member std::mutex: its block's allocation site (std::make_unique in main) and offset 0.
    member = [c for c in t.cls_at("main") if c["how"] == "alloc"]
    assert len(member) == 1 and member[0]["offset"] == 0 and member[0]["key"].endswith("+0"), t.names()
    assert member[0]["site"]["file"].endswith("cxx_locks.cpp"), member[0]["site"]
    t.need_edge("table_lock", member[0]["id"])
    t.need_edge("catalog", member[0]["id"])
    for c in t.classes:
        assert not c["name"].startswith("std::"), c


def check_heap_classes(t, children):
    def alloc_at(function):
        return sorted((c for c in t.cls_at(function) if c["how"] == "alloc"), key=lambda c: c["offset"])

    here, there = alloc_at("make_here"), alloc_at("make_there")
    # (a) + (b): make_here's blocks hold two classes, `first` and `second` at their two offsets,
    # each one class however many objects and first-lock places (touch_one, touch_two).
    assert len(here) == 2, t.names()
    first, second = here
    assert first["offset"] == 8 and second["offset"] == 48, (first, second)
    assert first["key"].startswith("alloc:") and first["key"].endswith("+8"), first["key"]
    assert first["name"].endswith("+8") and "heap_classes.cpp" in first["site"].get("file", ""), first
    assert first["instances"] == 2 and first["acquisitions"] == 5, first
    assert second["instances"] == 2 and second["acquisitions"] == 2, second
    t.need_edge(first["id"], second["id"])
    assert t.nesting == [], t.nesting
    # (c) the same members made at make_there: their own class.
    assert len(there) == 1 and there[0]["offset"] == 8 and there[0]["instances"] == 1, t.names()
    t.need_edge(first["id"], there[0]["id"])
    # (d) the stack mutex: its first acquisition's site.
    local = t.cls_at("lock_on_stack")
    assert len(local) == 1 and local[0]["how"] == "first-use", t.names()
    t.need_edge(second["id"], local[0]["id"])
    assert not [c for c in t.classes if c["how"] == "first-use" and c is not local[0]], t.names()
    # (e) a new object (likely at a freed one's address): its own site's class.
    again = alloc_at("make_again")
    assert len(again) == 1 and again[0]["instances"] == 1 and again[0]["acquisitions"] == 1, t.names()


def check_dlopen_cycle(t, children):
    plugin = t.cls("plugin_lock")
    assert "libplugin" in plugin["key"], plugin["key"]
    t.need_edge("main_lock", "plugin_lock")
    back = t.need_edge("plugin_lock", "main_lock")
    assert frames_name(back["to_stack"])[0] == "take_main", back["to_stack"]
    assert "plugin_call_back" in frames_name(back["to_stack"]), back["to_stack"]


def check_fork_held(t, children):
    assert len(children) == 1, f"one child trace expected, found {len(children)}"
    c = children[0]
    assert c.j["pid"] != t.j["pid"] and c.j["ppid"] == t.j["pid"]
    c.need_edge("held_lock", "child_lock")
    assert "parent_lock" not in c.names() or c.edge("parent_lock", "held_lock") is None, c.edge_names()
    assert c.j["threads"] == 1
    t.need_edge("parent_lock", "held_lock")
    assert all(x["name"] != "child_lock" for x in t.classes), t.names()


def check_threads300(t, children):
    e = t.need_edge("outer", "inner")
    assert e["count"] == 300 and e["thread_count"] == 300 and len(e["threads"]) == 16, e
    assert t.j["threads"] >= 300


def check_c11_mtx(t, children):
    first, second = t.cls_at("main"), None
    kinds = sorted(c["kind"] for c in t.classes)
    assert kinds == ["mtx", "recursive"], kinds
    f = [c for c in t.classes if c["kind"] == "mtx"][0]
    s = [c for c in t.classes if c["kind"] == "recursive"][0]
    e = t.need_edge(f["id"], s["id"])
    assert e["count"] == 1 and t.nesting == [] and len(t.edges) == 1, (t.edge_names(), t.nesting)
    assert f["acquisitions"] == 2 and s["acquisitions"] == 2, (f, s)


def check_contended(t, children):
    busy = t.cls("busy")
    assert busy["acquisitions"] == 2 and busy["contended"] == 1, busy
    assert busy["wait_ns"] > 0 and busy["max_wait_ns"] == busy["wait_ns"], busy
    sites = busy["contended_sites"]
    assert len(sites) == 1 and sites[0]["count"] == 1 and sites[0]["frame"]["function"] == "waiter", sites
    spin = [c for c in t.classes if c["kind"] == "spin"]
    assert len(spin) == 1 and spin[0]["how"] == "symbol", t.names()
    t.need_edge("busy", spin[0]["id"])


def check_wrapper(t, children):
    outer, inner = t.cls_at("take_outer"), t.cls_at("take_inner")
    assert len(outer) == 1 and len(inner) == 1, t.names()
    assert outer[0]["how"] == "first-use" and not t.cls_at("my_lock"), t.names()
    e = t.need_edge(outer[0]["id"], inner[0]["id"])
    assert e["count"] == 2 and frames_name(e["to_stack"])[0] == "take_inner", e
    assert t.nesting == []


def ended_by(t, how, signal=0):
    end = t.j.get("end")
    assert end is not None and end["by"] == how and end["signal"] == signal, f"end {how} {signal} expected: {end}"


def check_killed(t, children):
    # Written by the fatal-signal handler, with the lock held at the kill.
    assert t.cls("lock")["acquisitions"] == 1, t.names()
    ended_by(t, "signal", 15)
    assert t.j["end"]["locked"] is True


def check_fatal_segv(t, children):
    e = t.need_edge("outer_lock", "segv_lock")
    assert e["count"] == 1 and frames_name(e["to_stack"])[0] == "crash", e
    ended_by(t, "signal", 11)


def check_fatal_abort(t, children):
    t.need_edge("abort_outer", "abort_inner")
    ended_by(t, "signal", 6)


def check_own_handler(t, children):
    # The program's own SIGTERM handler ran (the program went on); the SIGINT set back to SIG_DFL
    # ended it through the record tool's handler, which had come back.
    assert t.cls("handler_lock")["acquisitions"] == 1, t.names()
    ended_by(t, "signal", 2)


def check_fatal_storm(t, children):
    # The storm's edge storm_lock -> the init-site class, however far the workers got.
    storm = t.cls("storm_lock")
    assert storm["acquisitions"] >= 3000, storm
    assert any(e["from"] == storm["id"] for e in t.edges), t.edge_names()
    ended_by(t, "signal", 15)


def check_fork_killed(t, children):
    assert t.names() == ["parent_lock"], t.names()
    ended_by(t, "exit")
    assert len(children) == 1, [c.j["pid"] for c in children]
    c = children[0]
    assert c.j["ppid"] == t.j["pid"] and c.cls("child_lock")["acquisitions"] == 1, (c.j["ppid"], c.names())
    ended_by(c, "signal", 15)


def check_stack_overflow(t, children):
    assert t.cls("overflow_lock")["acquisitions"] == 1, t.names()
    ended_by(t, "signal", 11)


def check_exec_self(t, children):
    # Two images of one pid: the second (the usual name), the first (FILE.<pid>.1, written before
    # the successful exec, after a failed one whose file was taken back).
    assert t.names() == ["again_lock"], t.names()
    ended_by(t, "exit")
    assert len(children) == 1, [c.j["pid"] for c in children]
    first = children[0]
    assert first.j["pid"] == t.j["pid"], (first.j["pid"], t.j["pid"])
    assert sorted(first.names()) == ["after_fail_lock", "first_lock"], first.names()
    ended_by(first, "exec")


def check_some_locks(t, children):
    assert t.classes, "no lock class recorded"
    assert sum(c["acquisitions"] for c in t.classes) > 0


CHECKS = {
    "abba_time": check_abba_time,
    "abba_one_thread": check_abba_one_thread,
    "cycles": check_cycles,
    "gated": check_gated,
    "trylock_reverse": check_trylock_reverse,
    "rwlocks": check_rwlocks,
    "recursive": check_recursive,
    "condwait": check_condwait,
    "remade": check_remade,
    "heap100": check_heap100,
    "cxx_locks": check_cxx_locks,
    "heap_classes": check_heap_classes,
    "dlopen_cycle": check_dlopen_cycle,
    "fork_held": check_fork_held,
    "threads300": check_threads300,
    "c11_mtx": check_c11_mtx,
    "contended": check_contended,
    "wrapper": check_wrapper,
    "killed": check_killed,
    "fatal_segv": check_fatal_segv,
    "fatal_abort": check_fatal_abort,
    "own_handler": check_own_handler,
    "exec_self": check_exec_self,
    "fatal_storm": check_fatal_storm,
    "fork_killed": check_fork_killed,
    "stack_overflow": check_stack_overflow,
}


def run(cmd, stdin_path, env=None):
    with open(stdin_path or os.devnull, "rb") as stdin:
        p = subprocess.run(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240, env=env)
    return p.returncode, p.stdout, p.stderr


def normalize(out, mode):
    if mode == "sysbench":
        # Times and rates differ from run to run: keep the lines without numbers that vary.
        keep = []
        for line in out.decode(errors="replace").splitlines():
            if re.search(r"\d+\.\d+|time|latency|events|per second|min:|max:|avg:|sum:|percentile", line):
                continue
            keep.append(line)
        return "\n".join(keep).encode()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smplock", required=True)
    ap.add_argument("--trace", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--record-arg", action="append", default=[], help="an option for `smplock record`")
    ap.add_argument("--input-bytes", type=int, help="the program's stdin: this many bytes of generated text")
    ap.add_argument("--compare", default="exact", choices=["exact", "sysbench"])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        ap.error("no program")
    if shutil.which(cmd[0]) is None:
        print(f"SKIP: {cmd[0]} is not installed")
        return 77

    stdin = None
    if a.input_bytes:
        # Text with some repetition, the same every time (a compressor has work to do).
        stdin = a.trace + ".input"
        with open(stdin, "wb") as f:
            line, n = 0, 0
            while n < a.input_bytes:
                chunk = f"{line:08d} {(line * 2654435761) % 1000003:07d} lock order {line % 97}\n".encode()
                f.write(chunk)
                n += len(chunk)
                line += 1
    bare = run(cmd, stdin)
    for old in set([a.trace] + glob.glob(a.trace + ".*")):
        # FILE, FILE.<pid>, FILE.<pid>.<n> (an image exec replaced), and any unfinished one.
        if re.fullmatch(re.escape(a.trace) + r"(\.\d+)*(\.partial)?", old) and os.path.exists(old):
            os.remove(old)
    rec = run([a.smplock, "record", "-o", a.trace] + a.record_arg + ["--"] + cmd, stdin)
    assert rec[0] == bare[0], f"exit status {rec[0]} under record, {bare[0]} bare; stderr: {rec[2][-2000:]!r}"
    assert normalize(rec[1], a.compare) == normalize(bare[1], a.compare), \
        f"stdout differs:\n--- bare\n{bare[1][-2000:]!r}\n--- recorded\n{rec[1][-2000:]!r}"
    if a.compare == "exact":
        assert rec[2] == bare[2], f"stderr differs:\n--- bare\n{bare[2][-2000:]!r}\n--- recorded\n{rec[2][-2000:]!r}"

    # A trace is written whole or not at all (PATH.partial, then renamed).
    partial = glob.glob(glob.escape(a.trace) + "*.partial")
    assert not partial, f"unfinished traces left: {partial}"
    main_trace = Trace(a.trace)
    children = [Trace(p) for p in sorted(glob.glob(a.trace + ".*")) if re.fullmatch(r".*\.\d+", p)]
    CHECKS.get(a.name, check_some_locks)(main_trace, children)
    print(f"ok: {a.name}: exit {rec[0]}, {len(main_trace.classes)} classes, {len(main_trace.edges)} edges, "
          f"{len(main_trace.nesting)} nestings, {len(children)} child traces")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except AssertionError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        sys.exit(1)
