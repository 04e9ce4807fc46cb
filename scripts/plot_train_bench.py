#!/usr/bin/python3
"""Plots bench_train's accuracy.csv: accuracy vs branchpoint per task, from a
pretrained and a random base, on validation frames (what the M-Package
records) and on held-out test frames. Pareto-kept candidates are filled.

    python3 scripts/plot_train_bench.py results/train    # -> results/train/accuracy_vs_branchpoint.png
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: plot_train_bench.py DIR  (DIR holds bench_train's accuracy.csv)")
    out_dir = sys.argv[1]
    path = os.path.join(out_dir, "accuracy.csv")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{path}: no rows")
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    series = list(dict.fromkeys((r["base"], r["head"]) for r in rows))
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    colors = {key: palette[i % len(palette)] for i, key in enumerate(series)}
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(7.0, 4.2 * len(tasks)), 3.8), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for base, head in series:
            rs = sorted((r for r in rows if r["task"] == task and r["base"] == base and r["head"] == head),
                        key=lambda r: int(r["branchpoint"]))
            if not rs:
                continue
            bp = [int(r["branchpoint"]) for r in rs]
            color = colors[(base, head)]
            label = base if len(set(h for _, h in series)) == 1 else f"{base}/{head}"
            ax.plot(bp, [float(r["val_accuracy"]) for r in rs], "-", color=color, label=f"{label} validation")
            ax.plot(bp, [float(r["test_accuracy"]) for r in rs], "--", color=color, label=f"{label} test")
            for r in rs:
                kept = r["kept"] == "1"
                ax.plot(int(r["branchpoint"]), float(r["val_accuracy"]), "o", color=color,
                        markerfacecolor=color if kept else "white")
        ax.set_title(task)
        ax.set_xlabel("branchpoint (frozen stages; more sharing ->)")
        ax.set_xticks(range(0, 8))
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("per-frame accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.suptitle("mstrain on PETS09-S2L1: accuracy per branchpoint (filled = kept by Pareto pruning)", fontsize=10)
    fig.tight_layout()
    png = os.path.join(out_dir, "accuracy_vs_branchpoint.png")
    fig.savefig(png, dpi=110)
    print(png)


if __name__ == "__main__":
    main()
