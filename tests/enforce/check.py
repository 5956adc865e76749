#!/usr/bin/env python3
"""`smplock enforce` end to end (tests/parts/enforce.cmake): record a program's safe run, learn a level
table with `smplock levels --infer --table`, then run the program under `smplock enforce`.

--planted PROGRAM: tests/enforce/order.c, whose first argument picks its half. The safe half and a
recursive re-lock run with output and exit status unchanged and no report; each unsafe half aborts
(SIGABRT, passed on by the command) with a report naming the rule and both classes, and under --warn
completes with its own output, the violation reported once and a summary at exit.

--real -- COMMAND...: a program nobody here wrote (skipped with 77 when missing), or one of
tests/record's planted programs: recorded, table learned, then run under enforce: output and status
unchanged, no violation (also under --warn, whose summary must say 0 violations), every class found
in the table (--allow-unknown: a program with a cycle, whose classes get no level).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys


def run(cmd, env=None):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def normalize(out, mode):
    if mode == "sysbench":
        # Times and rates differ from run to run: keep the lines without numbers that vary.
        return "\n".join(l for l in out.splitlines()
                         if not re.search(r"\d+\.\d+|time|latency|events|per second|min:|max:|avg:|sum:|percentile", l))
    return out


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def learn(smplock, work, name, command):
    trace = os.path.join(work, name + ".safe.trace.json")
    table = os.path.join(work, name + ".table.json")
    rc, out, err = run([smplock, "record", "-o", trace, "--"] + command)
    if not os.path.exists(trace):
        fail("record wrote no trace (rc %d): %s" % (rc, err))
    rc2, _, err2 = run([smplock, "levels", "--infer", trace, "--table", table])
    if not os.path.exists(table):
        fail("levels --infer wrote no table (rc %d): %s" % (rc2, err2))
    with open(table) as f:
        t = json.load(f)
    if t.get("schema") != "smplock-levels" or not (t.get("classes") or t.get("unleveled")):
        fail("the table has no classes: %s" % t)
    return table, t


def check_clean(smplock, table, command, mode, what, all_known=False):
    """The program under enforce (and --warn) as bare: same output and status, no report; with
    all_known (the same run as the one learned), every class found in the table."""
    brc, bout, _ = run(command)
    for extra in ([], ["--warn"]):
        rc, out, err = run([smplock, "enforce", "--levels", table] + extra + ["--"] + command)
        if rc != brc:
            fail("%s under enforce %s: exit %d, bare %d; stderr:\n%s" % (what, extra, rc, brc, err))
        if normalize(out, mode) != normalize(bout, mode):
            fail("%s under enforce %s: output differs:\n%s\n--- bare:\n%s" % (what, extra, out, bout))
        if re.search(r"smplock enforce: (warning: )?R\d", err):
            fail("%s under enforce %s: a violation was reported:\n%s" % (what, extra, err))
        if extra and not re.search(r"smplock enforce: 0 distinct violation", err):
            fail("%s under enforce --warn: no summary at exit:\n%s" % (what, err))
        if extra and all_known and not re.search(r"smplock enforce: 0 lock class\(es\) not in the table", err):
            fail("%s under enforce --warn: classes of the learned run not found in the table:\n%s" % (what, err))
    print("ok: %s: output and status unchanged, no violation" % what)


def check_violation(smplock, table, program, half, rule, acquired, held, function):
    command = [program, half]
    brc, bout, _ = run(command)
    rc, out, err = run([smplock, "enforce", "--levels", table, "--", program, half])
    if rc != -signal.SIGABRT:
        fail("%s: enforce exited %d, expected death by SIGABRT; stderr:\n%s" % (half, rc, err))
    pattern = (r"smplock enforce: %s \(.*\) broken\n  acquiring 0x[0-9a-f]+: \"%s\" level \d+.*\n.*\n"
               r"  while holding 0x[0-9a-f]+: \"%s\" level \d+.*\n.*\n  this acquisition:\n    #0 0x" % (rule, acquired, held))
    if not re.search(pattern, err):
        fail("%s: the report does not name %s, %s inside %s:\n%s" % (half, rule, acquired, held, err))
    # After the program's end, the command names the report's places in the program's own code.
    named = (r"smplock enforce: the %s report's places, named:\n  this acquisition:\n    #0 %s\(order\.c:\d+\).*\n"
             r"(    #\d+ .*\n)*  the held lock was taken at:\n    #0 %s\(order\.c:\d+\)" % (rule, function, function))
    if not re.search(named, err):
        fail("%s: the report's places are not named in %s:\n%s" % (half, function, err))
    print("ok: %s aborts with %s: %s inside %s, both taken in %s" % (half, rule, acquired, held, function))
    rc, out, err = run([smplock, "enforce", "--levels", table, "--warn", "--", program, half])
    if rc != brc or out != bout:
        fail("%s under --warn: exit %d output %r, bare %d %r; stderr:\n%s" % (half, rc, out, brc, bout, err))
    reports = re.findall(r"smplock enforce: warning: %s " % rule, err)
    if len(reports) != 1:
        fail("%s under --warn: %d reports of %s, expected 1 (the half breaks it 3 times):\n%s" % (half, len(reports), rule, err))
    if not re.search(r"smplock enforce: 1 distinct violation\(s\), 3 occurrence\(s\)\n  %s x3: \"%s\"" % (rule, acquired), err):
        fail("%s under --warn: no summary of 1 violation seen 3 times:\n%s" % (half, err))
    print("ok: %s under --warn: reported once, output unchanged" % half)


def planted(args):
    program = args.command[0]
    table, t = learn(args.smplock, args.work, args.name, [program, "safe"])
    names = {c["name"] for c in t["classes"]}
    for want in ("outer", "inner", "again", "make_account:27"):
        if want not in names:
            fail("the table has no class %s: %s" % (want, sorted(names)))
    check_clean(args.smplock, table, [program, "safe"], "exact", "safe half", all_known=True)
    check_clean(args.smplock, table, [program, "relock"], "exact", "recursive re-lock (R3)")
    check_violation(args.smplock, table, program, "r1", "R1", "outer", "inner", "inner_then_outer")
    check_violation(args.smplock, table, program, "r2", "R2", "make_account:27", "make_account:27", "transfer")
    # Two threads, one order each, never at once: enforce catches what a run seldom shows.
    rc, _, err = run([args.smplock, "enforce", "--levels", table, "--", program, "abba"])
    if rc != -signal.SIGABRT or not re.search(r"R1 .*broken\n  acquiring .*\"outer\"", err):
        fail("abba: exit %d, stderr:\n%s" % (rc, err))
    print("ok: abba aborts on the second thread's reverse order")
    # Enforce and record at once: the trace is a finished one, with the new order in it.
    trace = os.path.join(args.work, args.name + ".enforce.trace.json")
    rc, _, err = run([args.smplock, "enforce", "--levels", table, "--warn", "-o", trace, "--", program, "r1"])
    with open(trace) as f:
        tr = json.load(f)
    if rc != 0 or tr.get("schema") != "smplock-trace":
        fail("enforce -o: exit %d, schema %s" % (rc, tr.get("schema")))
    by_id = {c["id"]: c["name"] for c in tr["classes"]}
    if not any(by_id[e["from"]] == "inner" and by_id[e["to"]] == "outer" for e in tr["edges"]):
        fail("enforce -o: the trace lacks the edge inner -> outer")
    print("ok: enforce -o records the run (edge inner -> outer in the trace)")
    # A file that is not a level table (here: a trace) is refused before the program runs.
    rc, out, err = run([args.smplock, "enforce", "--levels", trace, "--", program, "safe"])
    if rc != 2 or out or "is not a level table" not in err:
        fail("a trace given as the table: exit %d, stdout %r, stderr %r" % (rc, out, err))
    print("ok: a file that is not a level table is refused (exit 2, the program not run)")
    # A class the table does not know is listed at exit under --warn.
    reduced = dict(t)
    reduced["classes"] = [c for c in t["classes"] if c["name"] != "again"]
    small = os.path.join(args.work, args.name + ".reduced.json")
    with open(small, "w") as f:
        json.dump(reduced, f)
    rc, out, err = run([args.smplock, "enforce", "--levels", small, "--warn", "--", program, "safe"])
    if rc != 0 or not re.search(r"1 lock class\(es\) not in the table.*\n  a class the table does not know \(symbol", err):
        fail("unknown class not listed (exit %d):\n%s" % (rc, err))
    print("ok: a class missing from the table is listed at exit")


def real(args):
    if shutil.which(args.command[0]) is None and not os.path.exists(args.command[0]):
        print("skip: %s is not installed" % args.command[0])
        sys.exit(77)
    table, t = learn(args.smplock, args.work, args.name, args.command)
    print("table: %d classes" % len(t["classes"]))
    check_clean(args.smplock, table, args.command, args.compare, args.name, all_known=not args.allow_unknown)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smplock", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--compare", default="exact")
    ap.add_argument("--real", action="store_true")
    ap.add_argument("--allow-unknown", action="store_true", help="classes in a cycle get no level: not all known")
    ap.add_argument("command", nargs="+")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    if args.real:
        real(args)
    else:
        planted(args)


if __name__ == "__main__":
    main()
