#!/usr/bin/env python3
"""One markdown table of saved `smplock pound --json` runs: per run, whether the story held, the
machine's share, and per step its throughput and the contention of its split and top locks.

    summarise.py run1.json run2.json ...
"""
import json
import re
import sys


def pct(x):
    return "-" if x is None else f"{x:.2f}%"


def main(paths):
    paths = sorted(paths, key=lambda p: int(re.findall(r"(\d+)\.json$", p)[0]) if re.search(r"\d+\.json$", p) else 0)
    held = fair = 0
    print("| run | fair | story | lost | step | M ops/s (rounds) | split: before -> after | top lock | total |")
    print("|---|---|---|---|---|---|---|---|---|")
    for p in paths:
        s = json.load(open(p))["story"]
        held += bool(s["holds"])
        fair += bool(s["fair"])
        shown = "running holders" if s["busy"] else "measured"
        for i, st in enumerate(s["steps"]):
            ops = st["ops_per_second"]
            # The contention the story judged: behind running holders when the machine was busy.
            key = "running_contention" if s["busy"] else None
            cls = sorted(st["classes"], key=lambda c: -(c[key] if key else c["contention"]["median"]))
            top = cls[0] if cls else None
            topv = (top[key] if key else top["contention"]["median"]) if top else None
            split = "-"
            if st.get("split"):
                split = f'{st["split"]} {pct(st["split_before"])} -> {pct(st["split_after"])} {st["split_after_class"]}'
            first = i == 0
            print("| {} | {} | {} | {} | {} | {:.2f} ({:.2f}-{:.2f}) | {} | {} | {} |".format(
                re.sub(r".*?(\d+)\.json$", r"\1", p) if first else "",
                ("yes" if s["fair"] else "NO") if first else "",
                ("holds" if s["holds"] else "BROKEN: " + s.get("out_of_order", "")) if first else "",
                f'{100 * s["run_delay_share"]:.1f}% ({shown})' if first else "",
                st["name"], ops["median"] / 1e6, ops["low"] / 1e6, ops["high"] / 1e6, split,
                f'{top["name"]} {pct(topv)}' if top else "-", pct(st["total_contention"]["median"])))
    print(f"\nthe story held in {held} of {len(paths)} runs; {fair} of {len(paths)} were fair runs")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: summarise.py RUN.json...")
    main(sys.argv[1:])
