#!/usr/bin/python3
"""Plot the scheduler benchmark's CSVs (bench_schedule) as PNGs, in the style
of the Mainstream paper's Figs. 6, 8 and 9.
Usage: /usr/bin/python3 scripts/plot_schedule.py results/schedule
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def series(data, key, algo_field="algorithm"):
    out = {}
    for r in data:
        out.setdefault(r[algo_field], []).append(r)
    return out


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "results/schedule"
    labels = {"greedy": "Mainstream (greedy)", "nosharing": "No-Sharing", "maxsharing": "Max-Sharing"}

    f6 = rows(os.path.join(d, "fig6_apps.csv"))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
    for algo, rs in series(f6, "num_apps").items():
        x = [int(r["num_apps"]) for r in rs]
        for ax, key in zip(axes, ["mean_f1", "mean_recall", "mean_precision", "mean_fps"]):
            ax.plot(x, [float(r[key]) for r in rs], marker="o", label=labels.get(algo, algo))
    for ax, t in zip(axes, ["event F1", "recall", "precision", "mean fps"]):
        ax.set_xlabel("concurrent apps")
        ax.set_title(t)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("Budget 350 ms/s (paper's edge node); infeasible schedules count as F1 = 0")
    fig.tight_layout()
    fig.savefig(os.path.join(d, "fig6_apps.png"), dpi=110)

    f8 = rows(os.path.join(d, "fig8_budget.csv"))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for algo, rs in series(f8, "budget").items():
        ax.plot([float(r["budget"]) for r in rs], [float(r["mean_f1"]) for r in rs], marker="o",
                label=labels.get(algo, algo))
    ax.set_xlabel("budget (ms of compute per second of video)")
    ax.set_ylabel("mean event F1")
    ax.set_title("3 apps")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(d, "fig8_budget.png"), dpi=110)

    f9 = rows(os.path.join(d, "fig9_xvote.csv"))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for x, rs in series(f9, "num_apps", algo_field="x_vote").items():
        ax.plot([int(r["num_apps"]) for r in rs], [float(r["mean_f1"]) for r in rs], marker="o",
                label=("X searched" if x == "searched" else f"{x}-voting"),
                linewidth=2.5 if x == "searched" else 1)
    ax.set_xlabel("concurrent apps")
    ax.set_ylabel("mean event F1")
    ax.set_title("X-voting (greedy, budget 350)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(d, "fig9_xvote.png"), dpi=110)
    print(os.path.join(d, "fig6_apps.png"))


if __name__ == "__main__":
    main()
