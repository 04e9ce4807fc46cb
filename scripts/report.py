#!/usr/bin/python3
"""Result tables and plots of a pipeline run (scripts/pipeline.sh).

Reads OUT/schedules/b<B>-<algo>.json (or .infeasible) and the pooled msrun
scores OUT/runs/b<B>-<algo>/pooled.json; writes into --out:
  apps.csv       one row per (budget, algorithm, app): the schedule's choice,
                 predicted and measured recall / precision / F1 with 95% CIs,
                 the number of true events behind them, achieved fps
  schedules.csv  one row per (budget, algorithm): predicted and measured mean
                 F1, predicted and measured cost
  results.md     the tables below and the goals, as printed
  f1_vs_budget.png, pred_vs_measured.png
Measured figures pool PHASES sampling phases; CIs are bootstraps over true
events (docs/runtime.md). Run with /usr/bin/python3 (matplotlib).
"""
import argparse
import csv
import json
import os
import sys

ALGO_LABEL = {
    "greedy": "Mainstream (greedy)",
    "exhaustive": "Mainstream (exhaustive)",
    "maxmin": "Max-min",
    "nosharing": "No-Sharing",
    "maxsharing": "Max-Sharing",
}


def write_atomic(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def plot_f1_vs_budget(path, budgets, algos, measured, predicted, ylabel, title):
    """Measured (solid) and predicted (dashed) mean F1 per algorithm over budgets;
    measured/predicted map (budget, algo) to a number (missing: not drawn).
    Returns False when matplotlib is not available."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib not available; skipped the plots (apt-get install python3-matplotlib)",
              file=sys.stderr)
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [float(b) for b in budgets]
    nan = float("nan")
    for a in algos:
        marker, width = {"greedy": ("o", 3.0), "exhaustive": ("x", 1.2)}.get(a, ("s", 1.5))
        line, = ax.plot(xs, [measured.get((b, a), nan) for b in budgets], marker=marker, lw=width,
                        label=ALGO_LABEL.get(a, a))
        ax.plot(xs, [predicted.get((b, a), nan) for b in budgets], "--", color=line.get_color(), alpha=0.6)
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(budgets)
    ax.set_xlabel("budget (ms of compute per second of video)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def cpu_cost(run):
    """Mean over a pooled run's phases of the loop thread's CPU ms per second
    of video (summary.json cost.measured_cpu.total), or "" when unknown."""
    vals = []
    for d in run.get("runs", []):
        try:
            vals.append(json.load(open(os.path.join(d, "summary.json")))["cost"]["measured_cpu"]["total"])
        except (OSError, KeyError, ValueError):
            return ""
    return sum(vals) / len(vals) if vals else ""


def load(work, budgets, algos):
    rows = {}
    for b in budgets:
        for a in algos:
            base = os.path.join(work, "schedules", f"b{b}-{a}.json")
            entry = {"budget": float(b), "algo": a, "feasible": True}
            if os.path.exists(base + ".infeasible"):
                entry["feasible"] = False
                entry["why"] = open(base + ".infeasible").read().strip()
            elif os.path.exists(base):
                entry["schedule"] = json.load(open(base))
                pooled = os.path.join(work, "runs", f"b{b}-{a}", "pooled.json")
                if os.path.exists(pooled):
                    entry["run"] = json.load(open(pooled))
            else:
                continue
            rows[(b, a)] = entry
    return rows


def fmt_ci(ci):
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="the pipeline's OUT directory")
    ap.add_argument("--out", required=True, help="where to write the tables and plots")
    ap.add_argument("--budgets", required=True, help="space-separated budgets, as in the config")
    ap.add_argument("--algos", required=True)
    ap.add_argument("--apps", required=True)
    ap.add_argument("--test-frames", default="")
    ap.add_argument("--phases", default="")
    ap.add_argument("--tight", type=int, default=3, help="the lowest N feasible budgets count as tight")
    args = ap.parse_args()
    budgets = args.budgets.split()
    algos = args.algos.split()
    rows = load(args.work, budgets, algos)
    if not rows:
        sys.exit(f"report: no schedules under {args.work}/schedules (run the schedule step)")
    os.makedirs(args.out, exist_ok=True)
    lines = []

    def say(s=""):
        print(s)
        lines.append(s)

    # --- per app --------------------------------------------------------------
    app_rows = []
    for (b, a), e in rows.items():
        run = e.get("run")
        if not e["feasible"] or "schedule" not in e:
            continue
        measured = {x["app"]: x for x in run["apps"]} if run else {}
        for s in e["schedule"]["apps"]:
            m = measured.get(s["app"], {}).get("evaluation") or {}
            mm = m.get("measured", {})
            ph = m.get("phases", {})
            app_rows.append({
                "budget": b, "algo": a, "app": s["app"], "branchpoint": s["branchpoint"],
                "x_vote": s["x_vote"], "fps": s["fps"],
                "achieved_fps": measured.get(s["app"], {}).get("achieved_fps", ""),
                "pred_recall": s["predicted"]["recall"], "pred_precision": s["predicted"]["precision"],
                "pred_f1": s["predicted"]["f1"],
                "true_events": mm.get("true_events", ""), "reports": mm.get("reports", ""),
                "recall": mm.get("recall", ""), "recall_ci": mm.get("recall_ci"),
                "precision": mm.get("precision", ""), "precision_ci": mm.get("precision_ci"),
                "f1": mm.get("f1", ""), "f1_ci": mm.get("f1_ci"),
                "f1_phase_sd": ph.get("f1_sd", ""), "phases": mm.get("runs", ""),
            })
    with open(os.path.join(args.out, "apps.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        cols = ["budget", "algo", "app", "branchpoint", "x_vote", "fps", "achieved_fps", "pred_recall",
                "pred_precision", "pred_f1", "true_events", "reports", "recall", "recall_lo", "recall_hi",
                "precision", "precision_lo", "precision_hi", "f1", "f1_lo", "f1_hi", "f1_phase_sd", "phases"]
        w.writerow(cols)
        for r in app_rows:
            out = dict(r)
            for k in ("recall", "precision", "f1"):
                ci = r[k + "_ci"] or ["", ""]
                out[k + "_lo"], out[k + "_hi"] = ci
            w.writerow([out[c] for c in cols])
    os.replace(os.path.join(args.out, "apps.csv.tmp"), os.path.join(args.out, "apps.csv"))

    # --- per schedule ---------------------------------------------------------
    sched_rows = []
    for b in budgets:
        for a in algos:
            e = rows.get((b, a))
            if e is None:
                continue
            r = {"budget": b, "algo": a, "feasible": e["feasible"], "pred_f1": 0.0, "f1": 0.0 if not e["feasible"] else "",
                 "pred_cost": "", "cost": "", "cpu_cost": "", "recall": "", "precision": "", "min_pred_f1": 0.0}
            if e["feasible"] and "schedule" in e:
                s = e["schedule"]
                r.update(pred_f1=s["predicted"]["mean_f1"], min_pred_f1=s["predicted"]["min_f1"],
                         pred_cost=s["total_cost"])
                run = e.get("run")
                if run and run.get("evaluation"):
                    ev = run["evaluation"]
                    r.update(f1=ev["mean_f1"], recall=ev["mean_recall"], precision=ev["mean_precision"],
                             cost=run["cost"]["measured_mean"]["total"], cpu_cost=cpu_cost(run))
            sched_rows.append(r)
    cols = ["budget", "algo", "feasible", "pred_f1", "f1", "recall", "precision", "min_pred_f1", "pred_cost", "cost",
            "cpu_cost"]
    with open(os.path.join(args.out, "schedules.csv.tmp"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in sched_rows:
            w.writerow([r[c] for c in cols])
    os.replace(os.path.join(args.out, "schedules.csv.tmp"), os.path.join(args.out, "schedules.csv"))

    phases = args.phases or "?"
    say(f"# Results: {len(args.apps.split())} apps, held-out frames {args.test_frames}, {phases} sampling phases per schedule")
    say()
    say("## Mean event F1 per budget (measured on held-out frames / predicted by the schedule; 0 = infeasible)")
    say()
    header = "| budget ms/s | " + " | ".join(ALGO_LABEL.get(a, a) for a in algos) + " |"
    say(header)
    say("|" + "---|" * (len(algos) + 1))
    by = {(r["budget"], r["algo"]): r for r in sched_rows}
    for b in budgets:
        cells = []
        for a in algos:
            r = by.get((b, a))
            if r is None:
                cells.append("")
            elif not r["feasible"]:
                cells.append("infeasible")
            else:
                meas = f"{r['f1']:.3f}" if r["f1"] != "" else "-"
                cells.append(f"{meas} / {r['pred_f1']:.3f}")
        say(f"| {b} | " + " | ".join(cells) + " |")
    say()

    # --- per app detail for the Mainstream schedules ------------------------------
    say("## Per app: predicted vs measured (Mainstream greedy)")
    say()
    say("| budget | app | bp | X | fps | true events | recall [95% CI] | precision [95% CI] | F1 [95% CI] | predicted F1 | note |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    within = total = 0
    for r in app_rows:
        if r["algo"] != "greedy" or r["f1"] == "":
            continue
        err = r["f1"] - r["pred_f1"]
        total += 1
        within += abs(err) <= 0.1
        note = "" if abs(err) <= 0.1 else f"off by {err:+.2f}"
        say(f"| {r['budget']} | {r['app']} | {r['branchpoint']} | {r['x_vote']} | {r['fps']:g} | {r['true_events']} | "
            f"{r['recall']:.2f} {fmt_ci(r['recall_ci'])} | {r['precision']:.2f} {fmt_ci(r['precision_ci'])} | "
            f"{r['f1']:.2f} {fmt_ci(r['f1_ci'])} | {r['pred_f1']:.2f} | {note} |")
    say()

    # --- cost -------------------------------------------------------------------
    say("## Cost (ms of compute per second of video): predicted by the schedule / measured by msrun, wall time / "
        "CPU time of its loop thread (means over phases; wall time grows when other processes share the cores)")
    say()
    say(header)
    say("|" + "---|" * (len(algos) + 1))
    for b in budgets:
        cells = []
        for a in algos:
            r = by.get((b, a))
            if r is None or not r["feasible"]:
                cells.append("-")
            else:
                meas = f"{r['cost']:.1f}" if r["cost"] != "" else "-"
                cpu = f"{r['cpu_cost']:.1f}" if r["cpu_cost"] != "" else "-"
                cells.append(f"{r['pred_cost']:.1f} / {meas} / {cpu}")
        say(f"| {b} | " + " | ".join(cells) + " |")
    say()

    # --- goals ------------------------------------------------------------------
    say("## Goals")
    say()
    feasible_budgets = [b for b in budgets if by.get((b, "greedy"), {}).get("feasible")]
    tight = feasible_budgets[: args.tight]
    if "greedy" in algos:
        wins = 0
        for b in tight:
            g = by[(b, "greedy")]["f1"] or 0.0
            others = [by[(b, a)]["f1"] or 0.0 for a in ("nosharing", "maxsharing") if (b, a) in by]
            wins += all(g > o for o in others)
            say(f"- budget {b}: Mainstream measured mean F1 {g:.3f} vs "
                + ", ".join(f"{ALGO_LABEL[a]} {(by[(b, a)]['f1'] or 0.0):.3f}" for a in ("nosharing", "maxsharing") if (b, a) in by))
        say(f"- Mainstream beats No-Sharing and Max-Sharing (measured) at {wins} of {len(tight)} tight budgets {tight}")
    if total:
        say(f"- predicted F1 within 0.1 of measured for {within} of {total} app-schedules (Mainstream greedy)")
    if "greedy" in algos and "exhaustive" in algos:
        gaps = []
        for b in feasible_budgets:
            g, x = by[(b, "greedy")]["pred_f1"], by[(b, "exhaustive")]["pred_f1"]
            gaps.append((b, 100.0 * (x - g) / x if x > 0 else 0.0))
        worst = max(g for _, g in gaps) if gaps else 0.0
        say("- greedy vs exhaustive (predicted objective): " + ", ".join(f"{b}: {g:.2f}%" for b, g in gaps)
            + f"; worst {worst:.2f}% (goal <= 1%)")
    write_atomic(os.path.join(args.out, "results.md"), "\n".join(lines) + "\n")

    # --- plots --------------------------------------------------------------------
    measured = {k: r["f1"] for k, r in by.items() if r["f1"] != ""}
    predicted = {k: r["pred_f1"] for k, r in by.items()}
    if not plot_f1_vs_budget(os.path.join(args.out, "f1_vs_budget.png"), budgets, algos, measured, predicted,
                             "mean event F1 (held-out frames)",
                             "Measured (solid) vs predicted (dashed) mean event F1\n"
                             "(greedy, thick, lies under exhaustive where they agree)"):
        return
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 5))
    for a in algos:
        pts = [r for r in app_rows if r["algo"] == a and r["f1"] != ""]
        if not pts:
            continue
        ax.errorbar([r["pred_f1"] for r in pts], [r["f1"] for r in pts],
                    yerr=[[r["f1"] - r["f1_ci"][0] for r in pts], [r["f1_ci"][1] - r["f1"] for r in pts]],
                    fmt="o", ms=3, alpha=0.6, elinewidth=0.6, label=ALGO_LABEL.get(a, a))
    ax.plot([0, 1], [0, 1], "k-", lw=0.8)
    ax.fill_between([0, 1], [-0.1, 0.9], [0.1, 1.1], color="gray", alpha=0.15, label="within 0.1")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted event F1 (analytical model)")
    ax.set_ylabel("measured event F1 (95% CI over events)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "pred_vs_measured.png"), dpi=110)
    plt.close(fig)
    print(f"report: wrote {args.out}/results.md, apps.csv, schedules.csv, f1_vs_budget.png, pred_vs_measured.png",
          file=sys.stderr)


if __name__ == "__main__":
    main()
