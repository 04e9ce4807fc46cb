#!/usr/bin/env python3
"""Plot mean F1 against the memory budget from `msschedule simulate
--memory-budgets` summary CSVs (one panel per CSV; one line per algorithm).
The largest memory budget, when it does not bind, is drawn as a dashed level.
Usage: plot_memory.py a.csv [b.csv ...] -o memory.png"""
import argparse
import csv
import sys


def fail(msg):
    print(f"plot_memory: error: {msg}", file=sys.stderr)
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("csv", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(args.csv), figsize=(5.5 * len(args.csv), 4), squeeze=False)
    for ax, path in zip(axes[0], args.csv):
        try:
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
        except OSError as e:
            fail(f"{path}: cannot read ({e.strerror})")
        if not rows or "memory_budget_mb" not in rows[0]:
            fail(f"{path}: no memory_budget_mb column (run msschedule simulate with --memory-budgets)")
        series = {}
        for i, r in enumerate(rows, start=2):
            try:
                series.setdefault(r["algorithm"], []).append(
                    (float(r["memory_budget_mb"]), float(r["mean_f1"]), float(r["mean_memory_mb"])))
            except (KeyError, ValueError):
                fail(f"{path}: line {i}: memory_budget_mb, mean_f1 and mean_memory_mb must be numbers")
        apps = rows[0]["num_apps"]
        for algo, pts in series.items():
            pts.sort()
            top = pts[-1]
            finite = [p for p in pts if p[0] < top[0]] if top[0] > 2 * pts[-2][0] else pts
            line, = ax.plot([p[0] for p in finite], [p[1] for p in finite], marker="o", label=algo)
            if finite is not pts:
                ax.axhline(top[1], color=line.get_color(), linestyle="--", linewidth=0.8)
        ax.set_xlabel("memory budget (MB)")
        ax.set_ylabel("mean event F1 (predicted)")
        ax.set_title(f"{apps} apps, budget {rows[0]['budget']} ms/s (dashed: no memory budget)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    tmp = args.output + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    import os
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
