#!/usr/bin/python3
"""Result tables and plots of a pipeline run (scripts/pipeline.sh).

Reads OUT/schedules/b<B>-<algo>.json (or .infeasible) and the pooled msrun
scores OUT/runs/b<B>-<algo>/pooled.json; writes into --out:
  apps.csv       one row per (budget, algorithm, app): the schedule's choice,
                 predicted and measured recall / precision / F1 with 95% CIs,
                 the number of true events behind them, achieved fps, the 90%
                 prediction interval of the measured F1 (pi90_lo, pi90_hi) and
                 whether the measurement fell inside it (in_interval)
  schedules.csv  one row per (budget, algorithm): predicted and measured mean
                 F1, predicted and measured cost
  paired.csv     paired bootstrap differences of measured mean F1: Mainstream
                 greedy minus each baseline per budget, and greedy at each
                 budget minus the next lower one
  results.md     the tables below, the goals and the targets, as printed
  f1_vs_budget.png, pred_vs_measured.png, calibration.png
Measured figures pool PHASES sampling phases; CIs are bootstraps over true
events (docs/labels.md). Budgets are strings as given by --budgets ("5", or
relative "1.5x"; the schedules' $.budget holds the absolute ms/s).

Every input is validated (scripts/report_common.py): a malformed file stops
the report with one message naming the file and field, exit code 2, and the
outputs are replaced all together only when everything succeeded. Run with
/usr/bin/python3 (numpy, matplotlib).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_common as rc  # noqa: E402
from report_common import InputError  # noqa: E402

PROG = "report"


def fmt_ci(ci):
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""


def collect(work, budgets, algos):
    """Loads and validates every schedule and run: (rows, truth, absolutes).
    rows: (budget, algo) -> {"feasible", "why" | "schedule", "run", "cpu_cost"};
    absolutes: budget -> the schedules' absolute budgets (ms/s)."""
    rows, truth, absolutes = {}, rc.Truth(), {b: [] for b in budgets}
    for b in budgets:
        for a in algos:
            f = rc.schedule_files(work, b, a)
            if f is None:
                continue
            if f[0] == "infeasible":
                rows[(b, a)] = {"feasible": False, "why": f[1]}
                continue
            sched = rc.load_schedule(f[1])
            rc.check_budget(sched, b)
            absolutes[b].append(sched["budget"])
            entry = {"feasible": True, "schedule": sched, "run": None, "cpu_cost": ""}
            if f[2]:
                run = rc.load_pooled(f[2])
                rc.check_run_matches_schedule(run, sched)
                truth.add(run)
                entry["run"] = run
                if run["evaluation"]:
                    entry["cpu_cost"] = rc.load_cpu_cost(run["runs"], f[2])
            rows[(b, a)] = entry
    return rows, truth, absolutes


APP_COLS = ["budget", "budget_ms", "algo", "app", "branchpoint", "kind", "x_vote", "fps", "achieved_fps", "pred_recall",
            "pred_precision", "pred_f1", "pred_f1_se", "pred_f1_event_sd", "pred_events", "pred_source",
            "true_events", "reports", "recall", "recall_lo", "recall_hi", "precision", "precision_lo",
            "precision_hi", "f1", "f1_lo", "f1_hi", "f1_phase_sd", "phases", "pi90_lo", "pi90_hi", "in_interval",
            "pred_minus_measured"]
SCHED_COLS = ["budget", "budget_ms", "algo", "feasible", "pred_f1", "f1", "recall", "precision", "min_pred_f1",
              "pred_cost", "cost", "cpu_cost"]
PAIRED_COLS = ["kind", "budget", "budget_ms", "algo", "other_budget", "other_budget_ms", "other_algo", "diff",
               "lo95", "hi95", "excludes_zero", "apps", "resamples", "seed"]


def app_rows_of(rows):
    out = []
    for (b, a), e in rows.items():
        if not e["feasible"]:
            continue
        run = e["run"]
        measured = {x["app"]: x for x in run["apps"]} if run else {}
        for s in e["schedule"]["apps"]:
            ma = measured.get(s["app"], {})
            m = ma.get("eval") or {}
            p = s["pred"]
            r = {
                "budget": b, "budget_ms": e["schedule"]["budget"], "algo": a, "app": s["app"],
                "branchpoint": s["branchpoint"], "kind": s["kind"], "x_vote": s["x_vote"], "fps": s["fps"],
                "achieved_fps": ma.get("achieved_fps", ""),
                "pred_recall": p["recall"], "pred_precision": p["precision"], "pred_f1": p["f1"],
                "pred_f1_se": "" if p["f1_se"] is None else p["f1_se"],
                "pred_f1_event_sd": "" if p["f1_event_sd"] is None else p["f1_event_sd"],
                "pred_events": "" if p["events"] is None else p["events"],
                "pred_source": p["source"] or "",
                "true_events": m.get("true_events", ""), "reports": m.get("reports", ""),
                "recall": m.get("recall", ""), "recall_ci": m.get("recall_ci"),
                "precision": m.get("precision", ""), "precision_ci": m.get("precision_ci"),
                "f1": m.get("f1", ""), "f1_ci": m.get("f1_ci"),
                "f1_phase_sd": m.get("f1_phase_sd", ""), "phases": m.get("runs", ""),
                "pi": None, "pi90_lo": "", "pi90_hi": "", "in_interval": "", "pred_minus_measured": "",
            }
            for k in ("recall", "precision", "f1"):
                r[k + "_lo"], r[k + "_hi"] = r[k + "_ci"] or ("", "")
            if m:
                r["pred_minus_measured"] = p["f1"] - m["f1"]
                pi = rc.prediction_interval(p["f1"], p["f1_se"], p["f1_event_sd"], m["true_events"])
                if pi:
                    r.update(pi=pi, pi90_lo=pi[0], pi90_hi=pi[1],
                             in_interval=pi[0] - 1e-12 <= m["f1"] <= pi[1] + 1e-12)
            out.append(r)
    return out


def sched_rows_of(rows, budgets, algos):
    out = []
    for b in budgets:
        for a in algos:
            e = rows.get((b, a))
            if e is None:
                continue
            r = {"budget": b, "budget_ms": "", "algo": a, "feasible": e["feasible"], "pred_f1": 0.0,
                 "f1": 0.0 if not e["feasible"] else "", "pred_cost": "", "cost": "", "cpu_cost": "", "recall": "",
                 "precision": "", "min_pred_f1": 0.0}
            if e["feasible"]:
                s = e["schedule"]
                r.update(budget_ms=s["budget"], pred_f1=s["mean_f1"], min_pred_f1=s["min_f1"],
                         pred_cost=s["total_cost"])
                run = e["run"]
                if run and run["evaluation"]:
                    ev = run["evaluation"]
                    r.update(f1=ev["mean_f1"], recall=ev["mean_recall"], precision=ev["mean_precision"],
                             cost=run["cost_total"], cpu_cost=e["cpu_cost"])
            out.append(r)
    return out


def counts_of(rows, truth):
    """(budget, algo) -> per app (in truth order) Counts; infeasible: every
    event missed; None: feasible but not run."""
    apps = truth.apps()
    out = {}
    for k, e in rows.items():
        if not e["feasible"]:
            out[k] = [rc.Counts.missed(len(truth.events[x])) for x in apps]
        elif e["run"] is not None:
            ev = {x["app"]: x["eval"] for x in e["run"]["apps"]}
            out[k] = [rc.Counts.from_cycles(ev[x]["cycles"], ev[x]["runs"]) for x in apps]
        else:
            out[k] = None
    return out


def build(args, budgets, algos):
    rows, truth, absolutes = collect(args.work, budgets, algos)
    if not rows:
        raise InputError(os.path.join(args.work, "schedules"), "",
                         f"no schedules for budgets {' '.join(budgets)} (run the schedule step)")

    def blabel(b):
        return rc.budget_label(b, absolutes.get(b))

    app_rows = app_rows_of(rows)
    sched_rows = sched_rows_of(rows, budgets, algos)
    apps = truth.apps()
    boot = rc.EventBootstrap([len(truth.events[x]) for x in apps], args.resamples, args.seed) if apps else None
    paired = rc.paired_rows(budgets, algos, rc.budget_order(budgets, absolutes), counts_of(rows, truth), boot,
                            absolutes)
    cal = rc.calibration_summary(app_rows, budgets)

    lines = []
    say = lines.append
    phases = args.phases or "?"
    say(f"# Results: {len(args.apps.split())} apps, held-out frames {args.test_frames}, {phases} sampling phases per schedule")
    say("")
    say("## Mean event F1 per budget (measured on held-out frames / predicted by the schedule; 0 = infeasible)")
    say("")
    header = "| budget ms/s | " + " | ".join(rc.label(a) for a in algos) + " |"
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
        say(f"| {blabel(b)} | " + " | ".join(cells) + " |")
    say("")

    # --- per app detail for the Mainstream schedules ------------------------------
    say("## Per app: predicted vs measured (Mainstream greedy)")
    say("")
    say("| budget | app | candidate | X | fps | true events | recall [95% CI] | precision [95% CI] | F1 [95% CI] | "
        "predicted F1 [90% PI] | note |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    within = total = 0
    for r in app_rows:
        if r["algo"] != "greedy" or r["f1"] == "":
            continue
        err = r["f1"] - r["pred_f1"]
        total += 1
        within += abs(err) <= 0.1
        note = "" if abs(err) <= 0.1 else f"off by {err:+.2f}"
        if r["pi"] and not r["in_interval"]:
            note = (note + "; " if note else "") + "outside the 90% PI"
        cand = ("mc" if r["kind"] == "micro" else "bp") + str(r["branchpoint"])
        say(f"| {blabel(r['budget'])} | {r['app']} | {cand} | {r['x_vote']} | {r['fps']:g} | "
            f"{r['true_events']} | {r['recall']:.2f} {fmt_ci(r['recall_ci'])} | "
            f"{r['precision']:.2f} {fmt_ci(r['precision_ci'])} | {r['f1']:.2f} {fmt_ci(r['f1_ci'])} | "
            f"{r['pred_f1']:.2f} {rc.fmt_pi(r['pi'])} | {note} |")
    say("")

    # --- cost -------------------------------------------------------------------
    say("## Cost (ms of compute per second of video): predicted by the schedule / measured by msrun, wall time / "
        "CPU time of its loop thread (means over phases; wall time grows when other processes share the cores)")
    say("")
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
        say(f"| {blabel(b)} | " + " | ".join(cells) + " |")
    say("")

    lines += rc.paired_section(paired, budgets, algos, blabel, boot)

    # --- goals ------------------------------------------------------------------
    say("## Goals")
    say("")
    feasible_budgets = [b for b in budgets if by.get((b, "greedy"), {}).get("feasible")]
    tight = feasible_budgets[: args.tight]
    if "greedy" in algos:
        wins = 0
        for b in tight:
            g = by[(b, "greedy")]["f1"] or 0.0
            others = [by[(b, a)]["f1"] or 0.0 for a in ("nosharing", "maxsharing") if (b, a) in by]
            wins += all(g > o for o in others)
            say(f"- budget {blabel(b)}: Mainstream measured mean F1 {g:.3f} vs "
                + ", ".join(f"{rc.label(a)} {(by[(b, a)]['f1'] or 0.0):.3f}" for a in ("nosharing", "maxsharing")
                            if (b, a) in by))
        say(f"- Mainstream beats No-Sharing and Max-Sharing (measured) at {wins} of {len(tight)} tight budgets {tight}")
    if total:
        say(f"- predicted F1 within 0.1 of measured for {within} of {total} app-schedules (Mainstream greedy)")
    if "greedy" in algos and "exhaustive" in algos:
        gaps = []
        for b in feasible_budgets:
            x_row = by.get((b, "exhaustive"))
            if x_row is None or not x_row["feasible"]:
                continue
            g, x = by[(b, "greedy")]["pred_f1"], x_row["pred_f1"]
            gaps.append((b, 100.0 * (x - g) / x if x > 0 else 0.0))
        worst = max(g for _, g in gaps) if gaps else 0.0
        say("- greedy vs exhaustive (predicted objective): " + ", ".join(f"{blabel(b)}: {g:.2f}%" for b, g in gaps)
            + f"; worst {worst:.2f}% (goal <= 1%)")
    say("")

    lines += rc.targets_section(cal, paired, budgets, algos, blabel)
    while lines and lines[-1] == "":
        lines.pop()
    md = "\n".join(lines) + "\n"

    # --- outputs ------------------------------------------------------------------
    writers = {
        "results.md": rc.text_writer_fn(md),
        "apps.csv": rc.csv_writer_fn(app_rows, APP_COLS),
        "schedules.csv": rc.csv_writer_fn(sched_rows, SCHED_COLS),
        "paired.csv": rc.csv_writer_fn(paired, PAIRED_COLS),
    }
    plt = rc.matplotlib_pyplot(PROG)
    if plt is not None:
        measured = {k: r["f1"] for k, r in by.items() if r["f1"] != ""}
        predicted = {k: r["pred_f1"] for k, r in by.items()}
        writers["f1_vs_budget.png"] = lambda p: rc.plot_f1_vs_budget(
            plt, p, budgets, absolutes, algos, measured, predicted, "mean event F1 (held-out frames)",
            "Measured (solid) vs predicted (dashed) mean event F1\n"
            "(greedy, thick, lies under exhaustive where they agree)")
        writers["pred_vs_measured.png"] = lambda p: plot_pred_vs_measured(plt, p, app_rows, algos)
        writers["calibration.png"] = lambda p: rc.plot_calibration(
            plt, p, app_rows, algos, "Calibration: predicted F1 (90% PI) vs measured (95% CI),\n"
            "every app-schedule; Mainstream greedy highlighted")
    return md, writers


def plot_pred_vs_measured(plt, path, app_rows, algos):
    fig, ax = plt.subplots(figsize=(5, 5))
    for a in algos:
        pts = [r for r in app_rows if r["algo"] == a and r["f1"] != ""]
        if not pts:
            continue
        ax.errorbar([r["pred_f1"] for r in pts], [r["f1"] for r in pts],
                    yerr=[[max(0.0, r["f1"] - r["f1_ci"][0]) for r in pts],
                          [max(0.0, r["f1_ci"][1] - r["f1"]) for r in pts]],
                    fmt="o", ms=3, alpha=0.6, elinewidth=0.6, label=rc.label(a))
    ax.plot([0, 1], [0, 1], "k-", lw=0.8)
    ax.fill_between([0, 1], [-0.1, 0.9], [0.1, 1.1], color="gray", alpha=0.15, label="within 0.1")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted event F1 (analytical model)")
    ax.set_ylabel("measured event F1 (95% CI over events)")
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", required=True, help="the pipeline's OUT directory")
    ap.add_argument("--out", required=True, help="where to write the tables and plots")
    ap.add_argument("--budgets", required=True, help="space-separated budgets, as in the config (5, or 1.5x)")
    ap.add_argument("--algos", required=True)
    ap.add_argument("--apps", required=True)
    ap.add_argument("--test-frames", default="")
    ap.add_argument("--phases", default="")
    ap.add_argument("--tight", type=int, default=3, help="the lowest N feasible budgets count as tight")
    ap.add_argument("--seed", type=int, default=1, help="seed of the paired bootstrap")
    ap.add_argument("--resamples", type=int, default=2000, help="paired bootstrap resamples")
    args = ap.parse_args()
    budgets = rc.parse_budgets(args.budgets, PROG)
    algos = rc.parse_names(args.algos, "--algos", PROG)
    if not 1 <= args.resamples <= 1000000:
        rc.usage_error(PROG, f"--resamples: expected 1 to 1000000, got {args.resamples}")
    try:
        md, writers = build(args, budgets, algos)
        rc.publish(args.out, writers, PROG)
    except InputError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.stdout.write(md)
    sys.stdout.flush()
    print(f"report: wrote {args.out}/{', '.join(writers)}", file=sys.stderr)


if __name__ == "__main__":
    main()
