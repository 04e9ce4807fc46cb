#!/usr/bin/python3
"""Pools the folds of scripts/crossval.sh into one table over the whole video.

Every fold's msrun --phases output (OUT/runs/b<B>-<algo>/pooled.json) lists,
per app, the bootstrap units msrun scores with: one cycle per true event of
the fold's frames, [start, end, detected, true_reports, false_reports], counts
summed over the sampling phases (docs/labels.md). The folds' frames are
disjoint, so their cycles together are the whole video's: recall = detected /
(events x phases), precision = true reports / all reports, F1 from both, and
a percentile bootstrap over the pooled cycles gives the 95% CI (the same
estimator msrun uses within one run). A fold where a schedule is infeasible
counts its events as missed.

Predicted figures: an app's prediction is the folds' predicted F1 weighted by
each fold's true events (an infeasible fold predicts 0), with the 90%
prediction interval of the pooled measurement (report_common.
pool_fold_predictions and prediction_interval). The same resampled events
score every schedule, so differences between schedules (Mainstream greedy
minus each baseline, and greedy between consecutive budgets) are paired.

Writes --out/apps.csv, schedules.csv, paired.csv, results.md, f1_vs_budget.png
and calibration.png, all together once everything succeeded; a malformed
input stops it with one message naming the file and field (exit code 2).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_common as rc  # noqa: E402
from report_common import InputError  # noqa: E402

PROG = "crossval_report"

APP_COLS = ["budget", "algo", "app", "true_events", "phases", "folds_infeasible", "recall", "recall_lo",
            "recall_hi", "precision", "precision_lo", "precision_hi", "f1", "f1_lo", "f1_hi", "pred_f1",
            "pred_f1_se", "pred_f1_event_sd", "pi90_lo", "pi90_hi", "in_interval", "pred_minus_measured"]
SCHED_COLS = ["budget", "budget_ms_min", "budget_ms_max", "algo", "folds_infeasible", "f1", "pred_f1"]
KNOWN_OUTPUTS = ("results.md", "apps.csv", "schedules.csv", "paired.csv", "f1_vs_budget.png", "calibration.png")
PAIRED_COLS = ["kind", "budget", "budget_ms", "algo", "other_budget", "other_budget_ms", "other_algo", "diff",
               "lo95", "hi95", "excludes_zero", "apps", "resamples", "seed"]


def load_fold(fold, budgets, algos, apps):
    """Every schedule and run of one fold, validated: (entries, truth) with
    entries (budget, algo) -> {"feasible", "schedule", "run"} and truth the
    fold's true events per app (the same in every run of the fold)."""
    entries, truth = {}, rc.Truth()
    for b in budgets:
        for a in algos:
            f = rc.schedule_files(fold, b, a)
            if f is None:
                raise InputError(os.path.join(fold, "schedules", f"b{b}-{a}.json"), "",
                                 "missing (and no .infeasible): finish scripts/crossval.sh")
            if f[0] == "infeasible":
                entries[(b, a)] = {"feasible": False}
                continue
            sched = rc.load_schedule(f[1])
            rc.check_budget(sched, b)
            if f[2] is None:
                raise InputError(os.path.join(fold, "runs", f"b{b}-{a}", "pooled.json"), "",
                                 "missing: the fold has no run of this schedule; finish scripts/crossval.sh")
            run = rc.load_pooled(f[2])
            rc.check_run_matches_schedule(run, sched)
            truth.add(run)
            entries[(b, a)] = {"feasible": True, "schedule": sched, "run": run}
    if truth.events is None:
        # Every schedule of the fold is infeasible: its events come from any other run of the fold.
        runs = os.path.join(fold, "runs")
        for d in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
            p = os.path.join(runs, d, "pooled.json")
            if os.path.isfile(p):
                truth.add(rc.load_pooled(p))
                break
        else:
            raise InputError(fold, "", "has no run to take its true events from")
    for x in apps:
        if x not in truth.events:
            raise InputError(truth.source, "$.apps", f"no app {x!r} with an evaluation (--apps lists it)")
    return entries, truth


def build(args, budgets, algos, apps):
    folds = [(fold,) + load_fold(fold, budgets, algos, apps) for fold in args.folds]
    n_fold = [{x: len(truth.events[x]) for x in apps} for _, _, truth in folds]
    boot = rc.EventBootstrap([sum(n[x] for n in n_fold) for x in apps], args.resamples, args.seed)
    absolutes = {b: [] for b in budgets}
    app_rows, sched_rows, counts = [], [], {}
    objective = {}  # (budget, algo, fold) -> the schedule's predicted mean F1
    K = len(folds)
    for b in budgets:
        for a in algos:
            parts = {x: [] for x in apps}
            preds = {x: [] for x in apps}
            phases, infeasible, abs_b = set(), 0, []
            for k, (fold, entries, _) in enumerate(folds):
                e = entries[(b, a)]
                if not e["feasible"]:
                    # The fold's events are there whether or not the schedule fits:
                    # they count as missed (no detections, no reports), predicted 0 with certainty.
                    infeasible += 1
                    for x in apps:
                        parts[x].append(rc.Counts.missed(n_fold[k][x]))
                        preds[x].append((0.0, 0.0, 0.0, n_fold[k][x]))
                    continue
                sched, run = e["schedule"], e["run"]
                objective[(b, a, fold)] = sched["mean_f1"]
                abs_b.append(sched["budget"])
                phases.add(run["phases"])
                ev = {x["app"]: x["eval"] for x in run["apps"]}
                sp = {x["app"]: x["pred"] for x in sched["apps"]}
                for x in apps:
                    parts[x].append(rc.Counts.from_cycles(ev[x]["cycles"], ev[x]["runs"]))
                    p = sp[x]
                    preds[x].append((p["f1"], p["f1_se"], p["f1_event_sd"], n_fold[k][x]))
            absolutes[b] += abs_b
            per_app = [rc.Counts.concat(parts[x]) for x in apps]
            counts[(b, a)] = per_app
            row = {"budget": b, "algo": a, "folds_infeasible": infeasible,
                   "budget_ms_min": min(abs_b) if abs_b else "", "budget_ms_max": max(abs_b) if abs_b else ""}
            if infeasible == K:
                row.update(f1=0.0, pred_f1=0.0)
                sched_rows.append(row)
                continue
            f1s, pfs = [], []
            for i, x in enumerate(apps):
                c = per_app[i]
                r, p_, f = rc.score(c)
                reps = boot.app(i, c)
                ci = [rc.quantiles(v) for v in reps] if len(c) else [(r, r), (p_, p_), (f, f)]
                pp = rc.pool_fold_predictions(preds[x])
                pi = rc.prediction_interval(pp["f1"], pp["f1_se"], pp["f1_event_sd"], pp["n"])
                app_rows.append({
                    "budget": b, "algo": a, "app": x, "true_events": len(c),
                    "phases": "/".join(str(v) for v in sorted(phases)), "folds_infeasible": infeasible,
                    "recall": r, "precision": p_, "f1": f,
                    "recall_lo": ci[0][0], "recall_hi": ci[0][1], "precision_lo": ci[1][0],
                    "precision_hi": ci[1][1], "f1_lo": ci[2][0], "f1_hi": ci[2][1], "f1_ci": ci[2],
                    "pred_f1": pp["f1"], "pred_f1_se": "" if pp["f1_se"] is None else pp["f1_se"],
                    "pred_f1_event_sd": "" if pp["f1_event_sd"] is None else pp["f1_event_sd"],
                    "pi": pi, "pi90_lo": pi[0] if pi else "", "pi90_hi": pi[1] if pi else "",
                    "in_interval": (pi[0] - 1e-12 <= f <= pi[1] + 1e-12) if pi else "",
                    "pred_minus_measured": pp["f1"] - f})
                f1s.append(f)
                pfs.append(pp["f1"])
            row.update(f1=sum(f1s) / len(f1s), pred_f1=sum(pfs) / len(pfs))
            sched_rows.append(row)

    def blabel(b):
        return rc.budget_label(b, absolutes.get(b))

    paired = rc.paired_rows(budgets, algos, rc.budget_order(budgets, absolutes), counts, boot, absolutes)
    cal = rc.calibration_summary(app_rows, budgets)

    lines = []
    say = lines.append
    by = {(r["budget"], r["algo"]): r for r in sched_rows}
    say(f"# Cross-validated results: {K} temporal folds, {len(apps)} apps, every frame of the video held out once")
    say("")
    say("## Mean event F1, measured (pooled over folds) / predicted (folds weighted by their events); 0 = infeasible")
    say("")
    say("| budget ms/s | " + " | ".join(rc.label(a) for a in algos) + " |")
    say("|" + "---|" * (len(algos) + 1))
    for b in budgets:
        cells = []
        for a in algos:
            r = by[(b, a)]
            note = (f" ({r['folds_infeasible']} of {K} fold(s) infeasible: their events count as missed)"
                    if 0 < r["folds_infeasible"] < K else "")
            cells.append("infeasible" if r["folds_infeasible"] == K
                         else f"{r['f1']:.3f} / {r['pred_f1']:.3f}{note}")
        say(f"| {blabel(b)} | " + " | ".join(cells) + " |")
    say("")
    say("## Per app (Mainstream greedy): events are the whole video's")
    say("")
    say("| budget | app | true events | recall [95% CI] | precision [95% CI] | F1 [95% CI] | predicted F1 [90% PI] |")
    say("|---|---|---|---|---|---|---|")
    within = total = 0
    for r in app_rows:
        if r["algo"] != "greedy":
            continue

        def ci(k, r=r):
            return f"[{r[k + '_lo']:.2f}, {r[k + '_hi']:.2f}]"
        total += 1
        within += abs(r["f1"] - r["pred_f1"]) <= 0.1
        say(f"| {blabel(r['budget'])} | {r['app']} | {r['true_events']} | {r['recall']:.2f} {ci('recall')} | "
            f"{r['precision']:.2f} {ci('precision')} | {r['f1']:.2f} {ci('f1')} | "
            f"{r['pred_f1']:.2f} {rc.fmt_pi(r['pi'])} |")
    say("")
    if total:
        say(f"Predicted F1 within 0.1 of measured for {within} of {total} app-budgets (greedy).")
    gaps = [100.0 * (x - objective[(b, "greedy", f)]) / x
            for (b, a, f), x in objective.items() if a == "exhaustive" and (b, "greedy", f) in objective and x > 0]
    if gaps:
        say(f"Greedy vs exhaustive, predicted objective per fold and budget: mean gap {sum(gaps) / len(gaps):.3f}%, "
            f"worst {max(gaps):.3f}% over {len(gaps)} schedules.")
    if total or gaps:
        say("")
    lines += rc.paired_section(paired, budgets, algos, blabel, boot, unit="the pooled true events of all folds")
    lines += rc.targets_section(cal, paired, budgets, algos, blabel, what="app-budgets")
    while lines and lines[-1] == "":
        lines.pop()
    md = "\n".join(lines) + "\n"

    writers = {
        "results.md": rc.text_writer_fn(md),
        "apps.csv": rc.csv_writer_fn(app_rows, APP_COLS),
        "schedules.csv": rc.csv_writer_fn(sched_rows, SCHED_COLS),
        "paired.csv": rc.csv_writer_fn(paired, PAIRED_COLS),
    }
    plt = rc.matplotlib_pyplot(PROG)
    if plt is not None:
        writers["f1_vs_budget.png"] = lambda p: rc.plot_f1_vs_budget(
            plt, p, budgets, absolutes, algos, {k: r["f1"] for k, r in by.items()},
            {k: r["pred_f1"] for k, r in by.items()}, "mean event F1 (cross-validated)",
            f"{K}-fold: measured (solid) vs predicted (dashed)")
        writers["calibration.png"] = lambda p: rc.plot_calibration(
            plt, p, app_rows, algos, f"{K}-fold calibration: predicted F1 (90% PI) vs measured (95% CI),\n"
            "every app-budget; Mainstream greedy highlighted")
    return md, writers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", nargs="+", required=True, help="each fold's pipeline OUT directory")
    ap.add_argument("--out", required=True)
    ap.add_argument("--budgets", required=True, help="space-separated budgets, as in the config (5, or 1.5x)")
    ap.add_argument("--algos", required=True)
    ap.add_argument("--apps", required=True)
    ap.add_argument("--seed", type=int, default=1, help="seed of the bootstrap over events")
    ap.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    args = ap.parse_args()
    budgets = rc.parse_budgets(args.budgets, PROG)
    algos = rc.parse_names(args.algos, "--algos", PROG)
    apps = rc.parse_names(args.apps, "--apps", PROG)
    if len(set(os.path.abspath(f) for f in args.folds)) != len(args.folds):
        rc.usage_error(PROG, "--folds: a fold is given twice")
    if not 1 <= args.resamples <= 1000000:
        rc.usage_error(PROG, f"--resamples: expected 1 to 1000000, got {args.resamples}")
    try:
        md, writers = build(args, budgets, algos, apps)
        rc.publish(args.out, writers, PROG, KNOWN_OUTPUTS)
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write(md)
    sys.stdout.flush()
    print(f"{PROG}: wrote {args.out}/{', '.join(writers)}", file=sys.stderr)


if __name__ == "__main__":
    main()
