#!/usr/bin/env python3
"""The tables of bench/record/gbench.sh: one per benchmark, the ways it ran side by side.

Reads OUT_DIR/MODE.ROUND.json (Google Benchmark's JSON, every repetition kept) and prints, for
each benchmark, the median wall and CPU ns per iteration over all repetitions of all rounds, their
spread (min-max of the wall time) and the ratio of the medians to the bare program's.
"""
import glob
import json
import os
import statistics
import sys

MODES = [("bare", "bare"), ("record", "smplock record"), ("interposer", "interposer only"),
         ("dyndd", "TSan dyndd"), ("helgrind", "helgrind")]


def load(out):
    """{benchmark: {mode: [(real_ns, cpu_ns), ...]}} over every repetition of every round."""
    times = {}
    order = []
    for mode, _ in MODES:
        for path in sorted(glob.glob(os.path.join(out, f"{mode}.*.json"))):
            if path.endswith(".trace.json") or ".raw.json" in path:
                continue
            with open(path) as f:
                data = json.load(f)
            for b in data["benchmarks"]:
                if b.get("run_type") != "iteration":
                    continue
                name = b["run_name"]
                if name not in times:
                    times[name] = {}
                    order.append(name)
                scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b["time_unit"]]
                times[name].setdefault(mode, []).append((b["real_time"] * scale, b["cpu_time"] * scale))
    return order, times


def main():
    out = sys.argv[1]
    order, times = load(out)
    for name in order:
        rows = times[name]
        print(f"#### `{name}`\n")
        print("| run | wall ns/iter (median) | wall min-max | CPU ns/iter (median) | × bare (wall) | × bare (CPU) | samples |")
        print("|---|---|---|---|---|---|---|")
        base = rows.get("bare")
        base_real = statistics.median(r for r, _ in base) if base else None
        base_cpu = statistics.median(c for _, c in base) if base else None
        for mode, label in MODES:
            if mode not in rows:
                continue
            real = [r for r, _ in rows[mode]]
            cpu = [c for _, c in rows[mode]]
            mr, mc = statistics.median(real), statistics.median(cpu)
            xr = f"{mr / base_real:.2f}" if base_real else ""
            xc = f"{mc / base_cpu:.2f}" if base_cpu else ""
            print(f"| {label} | {mr:.1f} | {min(real):.1f}-{max(real):.1f} | {mc:.1f} | {xr} | {xc} | {len(real)} |")
        print()


if __name__ == "__main__":
    main()
