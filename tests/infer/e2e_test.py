#!/usr/bin/env python3
"""e2e_test.py SMPLOCK BINDIR WORKDIR: `smplock record` then `smplock levels --infer` on the record
helper's planted programs (tests/record/, built by tests/parts/infer.cmake as infer_rec_<name>),
each with the answer it must give: every planted cycle found and judged right, no cycle among the
planted non-cycles, a table consistent with every kept edge. Exits 77 (skipped) when this smplock
has no `record` subcommand or the interposer cannot be found."""
import json, os, subprocess, sys

smplock, bindir, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
probe = subprocess.run([smplock, "record", "--help"], capture_output=True, text=True)
if probe.returncode != 0:
    print("skipped: this smplock has no record subcommand")
    sys.exit(77)

failures = []


def infer(name, args=(), traces_glob=None):
    prog = os.path.join(bindir, "infer_rec_" + name)
    trace = os.path.join(work, name + ".json")
    for old in os.listdir(work):
        if old.startswith(name + ".json"):
            os.remove(os.path.join(work, old))
    run = subprocess.run([smplock, "record", "-o", trace, "--", prog, *args], capture_output=True, text=True,
                         timeout=120)
    if "cannot find libsmplock-record" in run.stderr:
        print("skipped: " + run.stderr.strip())
        sys.exit(77)
    # The program's own exit status is passed on (abba_time exits 3): only a missing trace is wrong.
    if not os.path.exists(trace):
        raise AssertionError(f"record {name}: exit {run.returncode}, no trace: {run.stderr}")
    traces = sorted(os.path.join(work, f) for f in os.listdir(work)
                    if f == name + ".json" or f.startswith(name + ".json."))
    out = subprocess.run([smplock, "levels", "--infer", *traces, "--json", "-"], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0:
        raise AssertionError(f"levels --infer {name}: exit {out.returncode}: {out.stderr}")
    answer = json.loads(out.stdout)
    # The table is consistent with every kept edge, whatever the program.
    levels = {c["key"]: c["level"] for c in answer["table"]["classes"]}
    for e in answer["edges"]:
        if e["kept"]:
            assert levels[e["from"]] < levels[e["to"]], f"{name}: kept edge against the levels: {e}"
    return answer, len(traces)


def names(answer, keys):
    by_key = {c["key"]: c["name"] for c in answer["classes"]}
    return sorted(by_key[k] for k in keys)


def check(name, test, *args):
    try:
        answer, _ = infer(name, args)
        test(answer)
        print(f"ok: {name}")
    except Exception as e:  # one program's failure does not hide the others'
        failures.append(f"{name}: {e!r}")
        print(f"FAIL: {name}: {e!r}")


def real(a):
    return [c for c in a["cycles"] if c["can_deadlock"]]


def abba_time(a):
    assert len(a["cycles"]) == 1 and len(real(a)) == 1, a["cycles"]
    assert names(a, a["cycles"][0]["classes"]) == ["lock_a", "lock_b"], a["cycles"][0]
    assert names(a, [u["key"] for u in a["table"]["unleveled"]]) == ["lock_a", "lock_b"]


def abba_one_thread(a):
    assert len(a["cycles"]) == 1 and not real(a), a["cycles"]
    assert a["cycles"][0]["one_thread"] is not None and a["cycles"][0]["needs_choice"]


def cycles(a):
    assert sorted(len(c["classes"]) for c in a["cycles"]) == [3, 4], a["cycles"]
    assert len(real(a)) == 2


def gated(a):
    assert len(a["cycles"]) == 1 and not real(a), a["cycles"]
    assert names(a, a["cycles"][0]["common_guards"]) == ["gate"], a["cycles"][0]
    assert "gate" in names(a, levels_keys(a))


def levels_keys(a):
    return [c["key"] for c in a["table"]["classes"]]


def trylock_reverse(a):
    assert len(a["cycles"]) == 1 and not real(a), a["cycles"]
    assert len(a["cycles"][0]["trylock_edges"]) == 1
    assert names(a, levels_keys(a)) == ["lock_a", "lock_b"] and len(a["table"]["exempt"]) == 1


def rwlocks(a):
    assert len(a["cycles"]) == 2, a["cycles"]
    rr = [c for c in a["cycles"] if c["read_read"]]
    assert len(rr) == 1 and names(a, rr[0]["classes"]) == ["r1", "r2"], a["cycles"]
    assert len(real(a)) == 1 and names(a, real(a)[0]["classes"]) == ["w1", "w2"]


def no_cycle(a):
    assert not a["cycles"] and not a["table"]["unleveled"], a["cycles"]


def heap100(a):
    no_cycle(a)
    nests = [c for c in a["table"]["classes"] if c["same_class_nesting"]]
    assert len(nests) == 1 and not a["nesting_out_of_address_order"], a["nesting"]


def threads300(a):
    no_cycle(a)
    assert any(e["thread_count"] >= 300 for e in a["edges"]), a["edges"]


def fork_held(a):
    assert len(a["sources"]) == 2, a["sources"]  # the parent's trace and the child's, merged
    edges = {(names(a, [e["from"]])[0], names(a, [e["to"]])[0]) for e in a["edges"]}
    assert ("held_lock", "child_lock") in edges, edges


def cxx_locks(a):
    assert len(real(a)) == 1, a["cycles"]


checks = {"abba_time": abba_time, "abba_one_thread": abba_one_thread, "cycles": cycles, "gated": gated,
          "trylock_reverse": trylock_reverse, "rwlocks": rwlocks, "heap100": heap100, "remade": no_cycle,
          "recursive": no_cycle, "condwait": no_cycle, "threads300": threads300, "fork_held": fork_held,
          "cxx_locks": cxx_locks}
for name, test in checks.items():
    if os.path.exists(os.path.join(bindir, "infer_rec_" + name)):
        check(name, test)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("all passed")
