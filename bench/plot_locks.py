#!/usr/bin/env python3
"""bench/plot_locks.py: turns the lock benchmarks' Google Benchmark JSON into the tables of
bench/results/locks.md and an SVG plot of throughput against thread count.

    plot_locks.py --json locks.json [locks-absl-nodd.json ...] [--callgrind locks-callgrind.txt]
                  [--machine locks-machine.txt] --tables OUT.md --svg OUT.svg

Each cell is the median of the repetitions with their min and max. Only the standard library is
used (the SVG is written by hand), so the script runs wherever python3 does.
"""
import argparse
import json
import math
import statistics
import sys
from collections import defaultdict

# Row order: ours first, then the floor, then the peers.
ORDER = ["ours", "ours_nocounters", "ours_holdtimed", "ttas", "pthread_spin", "pthread_mutex", "pthread_adaptive", "std_mutex",
         "absl_mutex_dd", "absl_mutex", "absl_spinlock", "tbb_spin", "tbb_queuing", "ck_fas", "ck_ticket", "ck_mcs"]
OURS = {"ours", "ours_nocounters", "ours_holdtimed"}
FIFO = {"tbb_queuing", "ck_ticket", "ck_mcs"}
DYNAMICALLY_CHECKED = {"absl_mutex_dd"}
# The peers issue 16 names for the contended cells: ours must reach the best of these.
ISSUE16_PEERS = ("std_mutex", "pthread_spin", "pthread_adaptive", "tbb_spin", "ck_fas", "absl_mutex")


def order_key(lock):
    return (ORDER.index(lock) if lock in ORDER else len(ORDER), lock)


class Cell:
    """The repetitions of one benchmark: each metric as a list of values."""

    def __init__(self):
        self.values = defaultdict(list)
        self.error = None

    def med(self, metric):
        v = self.values.get(metric)
        return statistics.median(v) if v else None

    def lo(self, metric):
        v = self.values.get(metric)
        return min(v) if v else None

    def hi(self, metric):
        v = self.values.get(metric)
        return max(v) if v else None

    def spread(self, metric):
        """(max - min) / median over the repetitions, as a percentage; None without a median."""
        m = self.med(metric)
        return (self.hi(metric) - self.lo(metric)) / m * 100 if m else None


def load(paths):
    """{(scenario, lock, threads): Cell} from Google Benchmark JSON files (raw repetitions)."""
    cells = defaultdict(Cell)
    context = {}
    for path in paths:
        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            # A filter that matches nothing in one program leaves its output empty.
            print(f"plot_locks.py: skipping {path}: {e}", file=sys.stderr)
            continue
        context.setdefault("files", []).append(path)
        for k, v in doc.get("context", {}).items():
            context.setdefault(k, v)
        for b in doc.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            parts = b.get("run_name", b["name"]).split("/")
            scenario, lock = parts[0], parts[1]
            threads = 1
            for p in parts[2:]:
                if p.startswith("threads:"):
                    threads = int(p.split(":")[1])
            if scenario == "handoff":
                threads = 2
            cell = cells[(scenario, lock, threads)]
            if b.get("error_occurred"):
                cell.error = b.get("error_message", "error")
                continue
            scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            cell.values["ns_per_iter"].append(b["real_time"] * scale)
            cell.values["cpu_ns_per_iter"].append(b["cpu_time"] * scale)
            for key in ("items_per_second", "fairness", "p50_ns", "p90_ns", "p99_ns", "max_wait_ns", "min_ops",
                        "max_ops"):
                if key in b:
                    cell.values[key].append(b[key])
    return cells, context


def load_callgrind(path):
    """{(lock, mode): instructions per pair} from the lines 'lock mode instructions' of bench.sh."""
    result = {}
    if not path:
        return result
    with open(path) as f:
        for line in f:
            fields = line.split()
            if len(fields) == 3 and not line.startswith("#"):
                result[(fields[0], fields[1])] = float(fields[2])
    return result


def fmt_num(x, digits=3):
    if x is None:
        return "-"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:.{decimals}f}"


def fmt_rate(x):
    """Operations per second as M/s or k/s."""
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{fmt_num(x / 1e6)}M"
    return f"{fmt_num(x / 1e3)}k"


def fmt_pct(x):
    return "-" if x is None else f"{x:.0f}%"


def fmt_ns(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{fmt_num(x / 1e6)} ms"
    if x >= 1e3:
        return f"{fmt_num(x / 1e3)} µs"
    return f"{fmt_num(x)} ns"


def locks_in(cells, scenario, threads=None):
    found = {lock for (s, lock, t) in cells if s == scenario and (threads is None or t == threads)}
    return sorted(found, key=order_key)


def best_peer(cells, scenario, threads, metric, higher=True, exclude=()):
    best = None
    for lock in locks_in(cells, scenario, threads):
        if lock in OURS or lock in exclude:
            continue
        c = cells[(scenario, lock, threads)]
        v = c.med(metric)
        if v is None:
            continue
        if best is None or (v > best[1] if higher else v < best[1]):
            best = (lock, v)
    return best


def table_time(cells, scenario, callgrind, mode, title, unit_word):
    """One thread, no contention: CPU time is the figure (it is what the pair costs when the thread
    runs; wall time also counts the time other programs had the core). Ratios use CPU time."""
    out = [f"### {title}", "",
           f"| lock | CPU {unit_word} median | min | max | spread | vs ttas | wall median | instructions (callgrind) |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    floor = cells.get((scenario, "ttas", 1))
    floor_med = floor.med("cpu_ns_per_iter") if floor else None
    for lock in locks_in(cells, scenario, 1):
        c = cells[(scenario, lock, 1)]
        if c.error:
            out.append(f"| {lock} | ERROR: {c.error} | | | | | | |")
            continue
        m = c.med("cpu_ns_per_iter")
        ratio = f"{m / floor_med:.2f}x" if floor_med else "-"
        ins = callgrind.get((lock, mode))
        name = f"**{lock}**" if lock in OURS else lock
        out.append(f"| {name} | {fmt_num(m)} ns | {fmt_num(c.lo('cpu_ns_per_iter'))} | "
                   f"{fmt_num(c.hi('cpu_ns_per_iter'))} | {fmt_pct(c.spread('cpu_ns_per_iter'))} | {ratio} | {fmt_num(c.med('ns_per_iter'))} ns | "
                   f"{fmt_num(ins) if ins is not None else '-'} |")
    out.append("")
    return out


def table_rate(cells, scenario, threads, title):
    out = [f"### {title}", "",
           "| lock | ops/s median | min | max | spread | vs best peer | fairness (min/max ops per thread) | wait p50 "
           "| wait p99 | longest wait |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    best = best_peer(cells, scenario, threads, "items_per_second")
    for lock in locks_in(cells, scenario, threads):
        c = cells[(scenario, lock, threads)]
        if c.error:
            out.append(f"| {lock} | ERROR: {c.error} | | | | | | | | |")
            continue
        m = c.med("items_per_second")
        vs = f"{m / best[1]:.2f}" if best and best[1] else "-"
        name = f"**{lock}**" if lock in OURS else lock
        if lock in FIFO:
            name += " (FIFO)"
        out.append(f"| {name} | {fmt_rate(m)} | {fmt_rate(c.lo('items_per_second'))} | "
                   f"{fmt_rate(c.hi('items_per_second'))} | {fmt_pct(c.spread('items_per_second'))} | {vs} | "
                   f"{fmt_num(c.med('fairness'), 2)} | {fmt_ns(c.med('p50_ns'))} | {fmt_ns(c.med('p99_ns'))} | "
                   f"{fmt_ns(c.hi('max_wait_ns'))} |")
    if best:
        out.append("")
        out.append(f"Best peer: {best[0]} ({fmt_rate(best[1])} ops/s). Spread = (max - min) / median over the "
                   "repetitions. Wait = time to get the lock, one acquisition in 128 sampled; longest wait = the "
                   "longest sampled wait of any repetition.")
    out.append("")
    return out


def table_handoff(cells):
    out = ["### Hand-off latency (2 threads pass one lock back and forth)", "",
           "Delay from the holder's unlock() to the waiter's return from lock(), the waiter having "
           "called lock() about 0.5 µs earlier.", "",
           "| lock | p50 | p90 | p99 | hand-offs/s (median) |",
           "|---|---:|---:|---:|---:|"]
    for lock in locks_in(cells, "handoff"):
        c = cells[("handoff", lock, 2)]
        if c.error:
            out.append(f"| {lock} | ERROR: {c.error} | | | |")
            continue
        name = f"**{lock}**" if lock in OURS else lock
        out.append(f"| {name} | {fmt_ns(c.med('p50_ns'))} | {fmt_ns(c.med('p90_ns'))} | {fmt_ns(c.med('p99_ns'))} | "
                   f"{fmt_rate(c.med('items_per_second'))} |")
    out.append("")
    return out


def table_sweep(cells, scenario, title):
    threads = sorted({t for (s, _, t) in cells if s == scenario})
    out = [f"### {title}", "", "Median ops/s (min-max over the repetitions).", "",
           "| lock | " + " | ".join(f"{t} thread{'s' if t > 1 else ''}" for t in threads) + " |",
           "|---|" + "---:|" * len(threads)]
    for lock in locks_in(cells, scenario):
        row = []
        for t in threads:
            c = cells.get((scenario, lock, t))
            if c is None:
                row.append("-")
            elif c.error:
                row.append("ERROR")
            else:
                row.append(f"{fmt_rate(c.med('items_per_second'))} "
                           f"({fmt_rate(c.lo('items_per_second'))}-{fmt_rate(c.hi('items_per_second'))})")
        name = f"**{lock}**" if lock in OURS else lock
        out.append(f"| {name} | " + " | ".join(row) + " |")
    out.append("")
    return out


def goals(cells):
    """The figures of DESIGN §10 this suite measures, each with its verdict."""
    rows = []

    def med(s, lock, t, metric):
        c = cells.get((s, lock, t))
        return c.med(metric) if c and not c.error else None

    # Single-thread cells compare CPU time (robust to other programs sharing the cores).
    ours_u, ttas_u, spin_u = (med("uncontended", l, 1, "cpu_ns_per_iter") for l in ("ours", "ttas", "pthread_spin"))
    if None not in (ours_u, ttas_u, spin_u):
        rows.append(("uncontended: within 1.25x of ttas", f"{ours_u / ttas_u:.2f}x", ours_u <= 1.25 * ttas_u))
        rows.append(("uncontended: at most half of pthread_spin", f"{ours_u / spin_u:.2f}x", ours_u <= 0.5 * spin_u))
    ours_c, ttas_c, spin_c = (med("chain1", l, 1, "cpu_ns_per_iter") for l in ("ours", "ttas", "pthread_spin"))
    if None not in (ours_c, ttas_c, spin_c):
        plain = min(ttas_c, spin_c)
        rows.append(("4-lock chain: within 1.25x of plain spinlocks (best of ttas, pthread_spin)",
                     f"{ours_c / plain:.2f}x", ours_c <= 1.25 * plain))
    dd = med("chain1", "absl_mutex_dd", 1, "cpu_ns_per_iter")
    if None not in (ours_c, dd):
        rows.append(("4-lock chain: 10x faster than absl::Mutex with deadlock detection",
                     f"{dd / ours_c:.1f}x faster", dd >= 10 * ours_c))
    for scen, t, need, label in (("short", 2, 1.0, "2 threads, short: at least the best peer"),
                                 ("long", 2, 1.0, "2 threads, long: at least the best peer"),
                                 ("short", 8, 0.9, "8 threads, short: at least 90% of the best peer"),
                                 ("long", 8, 0.9, "8 threads, long: at least 90% of the best peer")):
        o = med(scen, "ours", t, "items_per_second")
        b = best_peer(cells, scen, t, "items_per_second")
        if o is not None and b:
            rows.append((label, f"{o / b[1]:.2f} of {b[0]}", o >= need * b[1]))
    for scen in ("short", "long"):
        for t in (2, 8):
            o = med(scen, "ours", t, "items_per_second")
            n = med(scen, "ours_nocounters", t, "items_per_second")
            if o and n:
                rows.append((f"counters on vs off (ours vs ours_nocounters), {t} threads {scen}: under 3% apart",
                             f"{(o - n) / n * 100:+.1f}%", abs(o - n) / n < 0.03))
    for scen in ("short", "long"):
        for t in (2, 8):
            o = med(scen, "ours", t, "items_per_second")
            h = med(scen, "ours_holdtimed", t, "items_per_second")
            if o and h:
                rows.append((f"hold timing on vs off, {t} threads {scen} (informative: hold timing is a switch)",
                             f"{(h - o) / o * 100:+.1f}%", abs(o - h) / o < 0.03))
    # Issue 16: the contended cells against the best of the peers it names, at 2 and 8 threads alike.
    for scen in ("short", "long"):
        for t in (2, 8):
            o = med(scen, "ours", t, "items_per_second")
            b = best_peer(cells, scen, t, "items_per_second",
                          exclude=tuple(l for l in ORDER if l not in ISSUE16_PEERS))
            if o is not None and b:
                rows.append((f"issue 16: {t} threads, {scen}: at least the best named peer",
                             f"{o / b[1]:.2f} of {b[0]}", o >= b[1]))
    out = ["### DESIGN §10 and issue 16 goals", "",
           "Ours is the `ours` row (every check and counter on, hold timing off). Best peer = the best "
           "median among the peers (ours_* rows excluded); issue 16's named peers are "
           + ", ".join(ISSUE16_PEERS) + ".", "",
           "| figure | measured | met |", "|---|---:|:---:|"]
    for label, value, ok in rows:
        out.append(f"| {label} | {value} | {'yes' if ok else '**no**'} |")
    out.append("")
    return out


def svg_plot(cells, path):
    """Two panels (short and long critical sections): ops/s against threads, log scale."""
    panels = [("short", "short critical section (counter)"), ("long", "long critical section (~1 µs)")]
    # One fixed colour per lock, so a lock keeps its colour whichever rows a run has.
    fixed = {"ours": "#d62728", "ours_nocounters": "#ff9896", "ours_holdtimed": "#f7b6d2", "ttas": "#111111",
             "pthread_spin": "#1f77b4", "pthread_mutex": "#aec7e8", "pthread_adaptive": "#17becf",
             "std_mutex": "#2ca02c", "absl_mutex_dd": "#98df8a", "absl_mutex": "#bcbd22",
             "absl_spinlock": "#9467bd", "tbb_spin": "#8c564b", "tbb_queuing": "#e377c2", "ck_fas": "#7f7f7f",
             "ck_ticket": "#ff7f0e", "ck_mcs": "#c49c94"}
    spare = ["#c5b0d5", "#dbdb8d", "#9edae5", "#c7c7c7"]
    width, height, pw, ph = 1260, 500, 430, 380
    left, top = 70, 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="16">Lock throughput against threads '
             f'on this machine (median of repetitions; log scale)</text>']
    all_locks = sorted({lock for (s, lock, _) in cells if s in ("short", "long")}, key=order_key)
    colour = {lock: fixed.get(lock, spare[i % len(spare)]) for i, lock in enumerate(all_locks)}
    for pi, (scenario, label) in enumerate(panels):
        x0 = left + pi * (pw + 90)
        pts = {lock: [(t, cells[(scenario, lock, t)].med("items_per_second"))
                      for t in (1, 2, 4, 8) if (scenario, lock, t) in cells
                      and cells[(scenario, lock, t)].med("items_per_second")]
               for lock in all_locks}
        vals = [v for p in pts.values() for _, v in p if v and v > 0]
        if not vals:
            continue
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        xs = {1: 0, 2: 1, 4: 2, 8: 3}

        def px(t):
            return x0 + xs[t] * pw / 3

        def py(v):
            return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

        parts.append(f'<text x="{x0 + pw / 2}" y="{top - 12}" text-anchor="middle" font-size="14">{label}</text>')
        parts.append(f'<rect x="{x0}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        decade = lo
        while decade <= hi * 1.0001:
            y = py(decade)
            parts.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#eee"/>')
            parts.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_rate(decade)}/s</text>')
            decade *= 10
        for t in (1, 2, 4, 8):
            parts.append(f'<line x1="{px(t):.1f}" y1="{top}" x2="{px(t):.1f}" y2="{top + ph}" stroke="#eee"/>')
            parts.append(f'<text x="{px(t):.1f}" y="{top + ph + 16}" text-anchor="middle">{t}</text>')
        parts.append(f'<text x="{x0 + pw / 2}" y="{top + ph + 34}" text-anchor="middle">threads (2 cores)</text>')
        for lock in all_locks:
            p = pts.get(lock)
            if not p:
                continue
            w = 3.5 if lock == "ours" else 1.5
            dash = ' stroke-dasharray="5,3"' if lock in FIFO else ""
            d = " ".join(f"{px(t):.1f},{py(v):.1f}" for t, v in p)
            parts.append(f'<polyline points="{d}" fill="none" stroke="{colour[lock]}" stroke-width="{w}"{dash}/>')
            for t, v in p:
                parts.append(f'<circle cx="{px(t):.1f}" cy="{py(v):.1f}" r="{3 if lock == "ours" else 2}" '
                             f'fill="{colour[lock]}"/>')
    lx = left + 2 * (pw + 90) - 60
    for i, lock in enumerate(all_locks):
        y = top + 10 + i * 18
        dash = ' stroke-dasharray="5,3"' if lock in FIFO else ""
        w = 3.5 if lock == "ours" else 1.5
        parts.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 24}" y2="{y}" stroke="{colour[lock]}" stroke-width="{w}"{dash}/>')
        parts.append(f'<text x="{lx + 30}" y="{y + 4}">{lock}{" (FIFO)" if lock in FIFO else ""}</text>')
    parts.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(parts) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", nargs="+", required=True, help="Google Benchmark JSON files")
    ap.add_argument("--callgrind", help="instruction counts written by scripts/bench.sh")
    ap.add_argument("--machine", help="machine description (lscpu, uptime) to quote")
    ap.add_argument("--tables", required=True, help="Markdown file to write")
    ap.add_argument("--svg", required=True, help="SVG file to write")
    args = ap.parse_args()

    cells, context = load(args.json)
    callgrind = load_callgrind(args.callgrind)
    out = ["<!-- generated by bench/plot_locks.py; do not edit by hand -->", ""]
    if args.machine:
        with open(args.machine) as f:
            out += ["### Machine and load", "", "```", f.read().rstrip(), "```", ""]
    out += [f"Context: run_ms={context.get('run_ms')}, work_steps_per_us={context.get('work_steps_per_us')}, "
            f"Google Benchmark library build={context.get('library_build_type')}, date={context.get('date')}", ""]
    out += goals(cells)
    out += table_time(cells, "uncontended", callgrind, "pair", "Uncontended acquire+release (1 thread)", "time per pair")
    out += table_time(cells, "chain1", callgrind, "chain",
                      "4-lock nested chain, 1 thread (take 4, release 4)", "time per chain")
    out += table_rate(cells, "short", 2, "2 threads, short critical section (counter increment)")
    out += table_rate(cells, "long", 2, "2 threads, long critical section (~1 µs)")
    out += table_rate(cells, "short", 8, "8 threads on 2 cores, short critical section")
    out += table_rate(cells, "long", 8, "8 threads on 2 cores, long critical section")
    out += table_rate(cells, "chain4", 2, "4-lock nested chain, 2 threads contending")
    out += table_handoff(cells)
    out += table_sweep(cells, "short", "Thread sweep, short critical section (the plot's left panel)")
    out += table_sweep(cells, "long", "Thread sweep, long critical section (the plot's right panel)")
    with open(args.tables, "w") as f:
        f.write("\n".join(out) + "\n")
    svg_plot(cells, args.svg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
