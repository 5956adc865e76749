#!/usr/bin/env python3
"""bench/alloc/table.py: turns bench/alloc/run.sh's runs.tsv into the markdown tables of
bench/results/alloc.md (median and spread per allocator, rank of ours, ratio to the best, peak RSS).

    bench/alloc/table.py <runs.tsv> [ours=smplock]

Metric per program: the program's own figure where it prints one (larson and larson-sized ops/s,
xmalloc-test Mfree/s, glibc-thread iterations, rptest memory ops per CPU second: higher is better;
alloc-test ms: lower is better), else wall seconds (lower is better). Spread is (max - min) / median
over the rounds. "x best" is ours' cost against the best allocator's median: a time ratio ours/best,
or a rate ratio best/ours, so 1.00 means first and 1.05 is the 5% goal.
"""
import csv
import statistics
import sys

ALLOCS = ["glibc", "mimalloc", "jemalloc", "tcmalloc", "smplock"]
HIGHER = {"larson", "larson-sized", "xmalloc-test", "glibc-thread", "rptest"}
UNIT = {"larson": "Mops/s", "larson-sized": "Mops/s", "xmalloc-test": "Mfree/s",
        "glibc-thread": "Miter", "rptest": "Mops/CPU-s", "alloc-test": "s (own)"}
SCALE = {"larson": 1e-6, "larson-sized": 1e-6, "glibc-thread": 1e-6, "rptest": 1e-6,
         "alloc-test": 1e-3}


def fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def main():
    path = sys.argv[1]
    ours = sys.argv[2] if len(sys.argv) > 2 else "smplock"
    rows = list(csv.DictReader(open(path), delimiter="\t"))
    programs = list(dict.fromkeys(r["program"] for r in rows))
    loads = [float(r["load1"]) for r in rows]
    rounds = sorted({int(r["round"]) for r in rows})
    failed = [r for r in rows if r["rc"] != "0"]
    print(f"Runs: {len(rows)}, rounds {rounds[0]}-{rounds[-1]}; 1-minute load average at the runs: "
          f"min {min(loads):.1f}, median {statistics.median(loads):.1f}, max {max(loads):.1f}; "
          f"runs with a non-zero exit: {len(failed)}\n")
    head = "| program (unit) | " + " | ".join(ALLOCS) + " | rank of ours | x best (best) | peak RSS MiB: ours / median allocator (min-max) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    cpu_lines = []
    for p in programs:
        cells, med, cpu = [], {}, {}
        rss = {}
        for a in ALLOCS:
            rs = [r for r in rows if r["program"] == p and r["allocator"] == a]
            if not rs:
                cells.append("-")
                continue
            if p in UNIT and all(r["figure"] for r in rs):
                v = [float(r["figure"]) * SCALE.get(p, 1) for r in rs]
            else:
                v = [float(r["wall_s"]) for r in rs]
            m = statistics.median(v)
            med[a] = m
            spread = (max(v) - min(v)) / m * 100 if m else 0
            cells.append(f"{fmt(m)} ±{spread:.0f}%")
            cpu[a] = statistics.median(float(r["user_s"]) + float(r["sys_s"]) for r in rs)
            rss[a] = statistics.median(int(r["maxrss_kib"]) for r in rs) / 1024
        higher = p in HIGHER
        order = sorted(med, key=lambda a: -med[a] if higher else med[a])
        best = order[0]
        rank = order.index(ours) + 1 if ours in med else 0
        ratio = (med[best] / med[ours] if higher else med[ours] / med[best]) if ours in med else 0
        rss_med = statistics.median(rss.values())
        print(f"| {p} ({UNIT.get(p, 's wall')}) | " + " | ".join(cells) +
              f" | {rank} of {len(med)} | {ratio:.2f} ({best}) | {rss.get(ours, 0):.1f} / {rss_med:.1f}"
              f" ({min(rss.values()):.1f}-{max(rss.values()):.1f}) |")
        corder = sorted(cpu, key=lambda a: cpu[a])
        cpu_lines.append(f"| {p} | " + " | ".join(fmt(cpu[a]) if a in cpu else "-" for a in ALLOCS) +
                         (f" | {corder.index(ours) + 1} | {cpu[ours] / cpu[corder[0]]:.2f} ({corder[0]}) |"
                          if ours in cpu else " | - | - |"))
    print("\nCPU seconds (user + sys), median over the rounds (less sensitive to the machine's other load"
          " than wall time; for the rate programs the run length is fixed, so it is not a cost):\n")
    print("| program | " + " | ".join(ALLOCS) + " | rank of ours | x best (best) |")
    print("|" + "---|" * (len(ALLOCS) + 3))
    print("\n".join(cpu_lines))


if __name__ == "__main__":
    main()
