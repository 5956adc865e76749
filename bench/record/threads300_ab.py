#!/usr/bin/env python3
"""The 300-thread figures of bench/results/record.md: record_threads300 run bare, under
`smplock record` and the interposer alone with each given record library, and under TSan's
LD_PRELOAD detector, in interleaved rounds (every way once per round, the order rotated by one
each round, two warm-up rounds dropped); the median CPU time (user + system, from wait4) and wall
time of each way, as a Markdown table.

  bench/record/threads300_ab.py BUILD_DIR OUT_DIR ROUNDS [NAME=LIBRARY ...]

Without NAME=LIBRARY the build's own libsmplock-record.so is the only one (as "build"); with them,
e.g. a library built from a patched runtime, each gets its own `smplock record` and interposer rows.
"""
import glob
import os
import statistics
import subprocess
import sys
import time


def main():
    build, out, rounds = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]), int(sys.argv[3])
    libs = [a.split("=", 1) for a in sys.argv[4:]] or [["build", os.path.join(build, "libsmplock-record.so")]]
    os.makedirs(out, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    warm = os.path.join(out, "libdd_warmup.so")
    subprocess.check_call(["gcc", "-O2", "-shared", "-fPIC", "-pthread", os.path.join(here, "dd_warmup.c"), "-o", warm])
    dd = sorted(glob.glob("/usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.dyndd-x86_64.so"))[0]
    prog = [os.path.join(build, "tests", "record_threads300")]
    smplock = os.path.join(build, "tools", "smplock")
    ways = {"bare": prog}
    for name, lib in libs:
        ways[f"smplock record, {name}"] = ["env", f"SMPLOCK_RECORD_LIB={lib}", smplock, "record", "-o",
                                           os.path.join(out, "t.json"), "--"] + prog
        ways[f"interposer only, {name}"] = ["env", f"LD_PRELOAD={lib}",
                                            f"SMPLOCK_RECORD_OUT={os.path.join(out, 'raw.json')}"] + prog
    ways["TSan dyndd"] = ["env", "DSAN_OPTIONS=symbolize=0", f"LD_PRELOAD={dd}:{warm}"] + prog
    names = list(ways)
    times = {n: [] for n in names}
    loads = []
    devnull = os.open(os.devnull, os.O_WRONLY)
    for r in range(rounds + 2):
        loads.append(os.getloadavg()[0])
        for i in range(len(names)):
            name = names[(i + r) % len(names)]
            t0 = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                os.dup2(devnull, 1)
                os.execvp(ways[name][0], ways[name])
            _, status, usage = os.wait4(pid, 0)
            wall = time.perf_counter() - t0
            if status != 0:
                sys.exit(f"{name}: exit status {status}")
            if r >= 2:
                times[name].append((wall * 1e3, (usage.ru_utime + usage.ru_stime) * 1e3))
            for f in glob.glob(os.path.join(out, "raw.json*")):
                os.unlink(f)
    base_wall = statistics.median(w for w, _ in times["bare"])
    base_cpu = statistics.median(c for _, c in times["bare"])
    print(f"{rounds} rounds, load average (1 min) {min(loads):.1f}-{max(loads):.1f}\n")
    print("| run | CPU median | × bare (CPU) | wall median | wall min-max | × bare (wall) |")
    print("|---|---|---|---|---|---|")
    for name in names:
        wall = [w for w, _ in times[name]]
        cpu = [c for _, c in times[name]]
        print(f"| {name} | {statistics.median(cpu):.1f} ms | {statistics.median(cpu) / base_cpu:.2f} | "
              f"{statistics.median(wall):.1f} ms | {min(wall):.1f}-{max(wall):.1f} | {statistics.median(wall) / base_wall:.2f} |")


if __name__ == "__main__":
    main()
