#!/usr/bin/python3
"""Pools the folds of scripts/crossval.sh into one table over the whole video.

Every fold's msrun --phases output (OUT/runs/b<B>-<algo>/pooled.json) lists,
per app, the bootstrap units msrun scores with: one cycle per true event of
the fold's frames, [start, end, detected, true_reports, false_reports], counts
summed over the sampling phases (docs/runtime.md). The folds' frames are
disjoint, so their cycles together are the whole video's: recall = detected /
(events x phases), precision = true reports / all reports, F1 from both, and
a percentile bootstrap over the pooled cycles gives the 95% CI (the same
estimator msrun uses within one run). Predicted figures are the folds'
schedules' predictions, averaged over folds.

Writes --out/apps.csv, schedules.csv, results.md and f1_vs_budget.png.
"""
import argparse
import csv
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report import ALGO_LABEL as LABEL, plot_f1_vs_budget, write_atomic  # noqa: E402


def score(cycles, runs):
    events = len(cycles)
    det = sum(c[2] for c in cycles)
    tr = sum(c[3] for c in cycles)
    fr = sum(c[4] for c in cycles)
    recall = det / (events * runs) if events else 0.0
    precision = tr / (tr + fr) if tr + fr else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return recall, precision, f1


def bootstrap(cycles, runs, rng, resamples=2000):
    if not cycles:
        return None
    draws = []
    for _ in range(resamples):
        draws.append(score([cycles[rng.randrange(len(cycles))] for _ in cycles], runs))
    out = []
    for i in range(3):
        v = sorted(d[i] for d in draws)
        out.append((v[int(0.025 * (len(v) - 1))], v[int(0.975 * (len(v) - 1))]))
    return out


def fold_events(fold):
    """The true events [start, end] per app of a fold's test frames, from any
    pooled run of the fold (they do not depend on the schedule)."""
    runs = os.path.join(fold, "runs")
    for d in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        p = os.path.join(runs, d, "pooled.json")
        if os.path.exists(p):
            pooled = json.load(open(p))
            return {x["app"]: [c[:2] for c in x["evaluation"]["cycles"]]
                    for x in pooled["apps"] if x.get("evaluation")}
    sys.exit(f"crossval_report: {fold} has no run to take its true events from")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", nargs="+", required=True, help="each fold's pipeline OUT directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budgets", required=True)
    ap.add_argument("--algos", required=True)
    ap.add_argument("--apps", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    budgets, algos, apps = args.budgets.split(), args.algos.split(), args.apps.split()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    app_rows, sched_rows = [], []
    objective = {}  # (budget, algo, fold) -> the schedule's predicted mean F1
    for b in budgets:
        for a in algos:
            cycles = {x: [] for x in apps}
            pred = {x: [] for x in apps}
            runs, infeasible, missing = None, 0, 0
            for fold in args.folds:
                s = os.path.join(fold, "schedules", f"b{b}-{a}.json")
                if os.path.exists(s + ".infeasible"):
                    # The fold's events are there whether or not the schedule fits:
                    # they count as missed (no detections, no reports).
                    infeasible += 1
                    for x, evs in fold_events(fold).items():
                        if x in cycles:
                            cycles[x].extend([e[0], e[1], 0, 0, 0] for e in evs)
                            pred[x].append(0.0)
                    continue
                p = os.path.join(fold, "runs", f"b{b}-{a}", "pooled.json")
                if not os.path.exists(p):
                    missing += 1
                    continue
                sched, pooled = json.load(open(s)), json.load(open(p))
                objective[(b, a, fold)] = sched["predicted"]["mean_f1"]
                runs = pooled["phases"]
                for x in sched["apps"]:
                    pred[x["app"]].append(x["predicted"]["f1"])
                for x in pooled["apps"]:
                    ev = x.get("evaluation")
                    if ev and x["app"] in cycles:
                        cycles[x["app"]].extend(ev["cycles"])
            if missing:
                sys.exit(f"crossval_report: {missing} fold(s) have no run for budget {b} {a}: finish scripts/crossval.sh")
            row = {"budget": b, "algo": a, "folds_infeasible": infeasible}
            if infeasible == len(args.folds):
                row.update(f1=0.0, pred_f1=0.0)
                sched_rows.append(row)
                continue
            f1s, preds = [], []
            for x in apps:
                r, p_, f = score(cycles[x], runs)
                ci = bootstrap(cycles[x], runs, rng)
                pf = sum(pred[x]) / len(pred[x]) if pred[x] else 0.0
                app_rows.append({"budget": b, "algo": a, "app": x, "true_events": len(cycles[x]), "phases": runs,
                                 "recall": r, "precision": p_, "f1": f,
                                 "f1_lo": ci[2][0] if ci else "", "f1_hi": ci[2][1] if ci else "",
                                 "recall_lo": ci[0][0] if ci else "", "recall_hi": ci[0][1] if ci else "",
                                 "precision_lo": ci[1][0] if ci else "", "precision_hi": ci[1][1] if ci else "",
                                 "pred_f1": pf})
                f1s.append(f)
                preds.append(pf)
            row.update(f1=sum(f1s) / len(f1s), pred_f1=sum(preds) / len(preds))
            sched_rows.append(row)

    def write(name, rows, cols):
        tmp = os.path.join(args.out, name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, os.path.join(args.out, name))

    write("apps.csv", app_rows, ["budget", "algo", "app", "true_events", "phases", "recall", "recall_lo", "recall_hi",
                                 "precision", "precision_lo", "precision_hi", "f1", "f1_lo", "f1_hi", "pred_f1"])
    write("schedules.csv", sched_rows, ["budget", "algo", "folds_infeasible", "f1", "pred_f1"])

    lines = []

    def say(s=""):
        print(s)
        lines.append(s)

    by = {(r["budget"], r["algo"]): r for r in sched_rows}
    say(f"# Cross-validated results: {len(args.folds)} temporal folds, {len(apps)} apps, every frame of the video held out once")
    say()
    say("## Mean event F1, measured (pooled over folds) / predicted (mean over folds); 0 = infeasible")
    say()
    say("| budget ms/s | " + " | ".join(LABEL.get(a, a) for a in algos) + " |")
    say("|" + "---|" * (len(algos) + 1))
    for b in budgets:
        cells = []
        for a in algos:
            r = by[(b, a)]
            note = (f" ({r['folds_infeasible']} fold(s) infeasible: their events count as missed)"
                    if 0 < r["folds_infeasible"] < len(args.folds) else "")
            cells.append("infeasible" if r["folds_infeasible"] == len(args.folds)
                         else f"{r['f1']:.3f} / {r['pred_f1']:.3f}{note}")
        say(f"| {b} | " + " | ".join(cells) + " |")
    say()
    say("## Per app (Mainstream greedy): events are the whole video's")
    say()
    say("| budget | app | true events | recall [95% CI] | precision [95% CI] | F1 [95% CI] | predicted F1 |")
    say("|---|---|---|---|---|---|---|")
    within = total = 0
    for r in app_rows:
        if r["algo"] != "greedy":
            continue
        ci = lambda k: f"[{r[k + '_lo']:.2f}, {r[k + '_hi']:.2f}]" if r[k + "_lo"] != "" else ""
        total += 1
        within += abs(r["f1"] - r["pred_f1"]) <= 0.1
        say(f"| {r['budget']} | {r['app']} | {r['true_events']} | {r['recall']:.2f} {ci('recall')} | "
            f"{r['precision']:.2f} {ci('precision')} | {r['f1']:.2f} {ci('f1')} | {r['pred_f1']:.2f} |")
    say()
    if total:
        say(f"Predicted F1 within 0.1 of measured for {within} of {total} app-budgets (greedy).")
    gaps = [100.0 * (x - objective[(b, "greedy", f)]) / x
            for (b, a, f), x in objective.items() if a == "exhaustive" and (b, "greedy", f) in objective and x > 0]
    if gaps:
        say(f"Greedy vs exhaustive, predicted objective per fold and budget: mean gap {sum(gaps) / len(gaps):.3f}%, "
            f"worst {max(gaps):.3f}% over {len(gaps)} schedules.")
    write_atomic(os.path.join(args.out, "results.md"), "\n".join(lines) + "\n")
    plot_f1_vs_budget(os.path.join(args.out, "f1_vs_budget.png"), budgets, algos,
                      {k: r["f1"] for k, r in by.items()}, {k: r["pred_f1"] for k, r in by.items()},
                      "mean event F1 (cross-validated)",
                      f"{len(args.folds)}-fold: measured (solid) vs predicted (dashed)")


if __name__ == "__main__":
    main()
