#!/usr/bin/env python3
"""bench/ck/table.py: turns bench/ck/run.sh's runs.tsv into the markdown tables of
bench/results/locks-ck.md (issue 16): one table per cell, every lock, ranked.

    bench/ck/table.py <runs.tsv> [ours=ours] [reference=ck_fas]

Per lock and cell: the median over the rounds, min-max, spread = (max - min) / median, rank by
median (latency: fewest ticks first; throughput: most Mops/s first), and the ratio of the lock's
median to the reference lock's (ck_fas): for latency > 1 means slower, for throughput < 1 means
slower. The closing summary also compares the best run of ours with the reference's best run (least
disturbed on a loaded machine). Throughput cells also give the median of the harness's deviation between threads (% of
the per-thread mean: 0 is perfectly fair). A run that failed (rc != 0) is left out and counted.
"""
import csv
import statistics
import sys


def fmt(x):
    return f"{x:.3g}" if abs(x) < 100 else f"{x:.0f}"


def main():
    rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
    ours = sys.argv[2] if len(sys.argv) > 2 else "ours"
    ref = sys.argv[3] if len(sys.argv) > 3 else "ck_fas"
    good = [r for r in rows if r["rc"] == "0" and r["figure"]]
    failed = [r for r in rows if not (r["rc"] == "0" and r["figure"])]
    loads = [float(r["load1"]) for r in rows]
    rounds = sorted({int(r["round"]) for r in rows})
    print(f"Runs: {len(rows)}, rounds {rounds[0]}-{rounds[-1]}; 1-minute load average at the runs: "
          f"min {min(loads):.2f}, median {statistics.median(loads):.2f}, max {max(loads):.2f}; "
          f"failed runs (left out): {len(failed)}"
          + ("".join(f"\n- failed: round {r['round']} {r['cell']} {r['lock']} rc={r['rc']}" for r in failed)))
    cells = list(dict.fromkeys(r["cell"] for r in rows))
    summary = []
    for c in cells:
        latency = c == "latency"
        locks = list(dict.fromkeys(r["lock"] for r in rows if r["cell"] == c))
        stats = {}
        for lock in locks:
            rs = [r for r in good if r["cell"] == c and r["lock"] == lock]
            if not rs:
                continue
            v = [float(r["figure"]) for r in rs]
            med = statistics.median(v)
            dev = [float(r["thread_dev_pct"]) for r in rs if r["thread_dev_pct"]]
            stats[lock] = dict(med=med, lo=min(v), hi=max(v), n=len(v),
                               spread=(max(v) - min(v)) / med if med else float("nan"),
                               dev=statistics.median(dev) if dev else None,
                               load=statistics.median(float(r["load1"]) for r in rs))
        order = sorted(stats, key=lambda k: stats[k]["med"], reverse=not latency)
        refmed = stats.get(ref, {}).get("med")
        if latency:
            title = "latency: uncontended lock+unlock pair, TSC ticks per pair (fewer is better)"
        else:
            title = (f"throughput, {c[2:]} thread(s), empty critical section: Mops/s, all threads "
                     "together (more is better)")
        print(f"\n### {title}\n")
        head = "| rank | lock | median | min-max | spread | x " + ref + " |"
        if not latency:
            head += " thread deviation (median) |"
        head += " runs | load (median) |"
        print(head)
        print("|" + "---|" * (head.count("|") - 1))
        for i, lock in enumerate(order, 1):
            s = stats[lock]
            ratio = f"{s['med'] / refmed:.2f}" if refmed else "-"
            name = f"**{lock}**" if lock == ours else lock
            line = (f"| {i} | {name} | {fmt(s['med'])} | {fmt(s['lo'])}-{fmt(s['hi'])} | "
                    f"{s['spread'] * 100:.0f}% | {ratio} |")
            if not latency:
                line += f" {s['dev']:.1f}% |" if s["dev"] is not None else " - |"
            line += f" {s['n']} | {s['load']:.2f} |"
            print(line)
        if ours in stats and refmed:
            s, r = stats[ours], stats[ref]
            # The best run of each (fewest ticks, most Mops/s): on a loaded machine the least
            # disturbed run, so the steadier comparison of the two.
            best, rbest = (s["lo"], r["lo"]) if latency else (s["hi"], r["hi"])
            summary.append(f"- {c}: {ours} {fmt(s['med'])} against {ref} {fmt(refmed)} "
                           f"({s['med'] / refmed:.2f}x; best runs {fmt(best)} against {fmt(rbest)}, "
                           f"{best / rbest:.2f}x), rank {order.index(ours) + 1} of {len(order)}, "
                           f"spread {s['spread'] * 100:.0f}%"
                           + (f", thread deviation {s['dev']:.1f}%" if s["dev"] is not None else ""))
    print(f"\n### {ours} against {ref}\n")
    print("\n".join(summary))


if __name__ == "__main__":
    main()
