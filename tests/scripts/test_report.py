#!/usr/bin/python3
"""Tests of scripts/report.py, scripts/crossval_report.py and
scripts/report_common.py on tiny synthetic pipeline outputs (schedules and
msrun --phases pooled.json files written here, no tools run).

Run: /usr/bin/python3 tests/scripts/test_report.py  (ctest: report_scripts)
"""
import contextlib
import copy
import csv
import importlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, SCRIPTS)
import report_common as rc  # noqa: E402

PY = sys.executable
RESAMPLES = "400"  # the scripts' default is 2000; fewer keeps the test fast


# --- synthetic inputs ---------------------------------------------------------------


def cycles_for(n, runs, detected_events, false_reports, start=100, length=10, gap=30):
    """n true events; the first `detected_events` are detected in every phase
    with one true report per phase; `false_reports` spread one per cycle."""
    out = []
    for i in range(n):
        s = start + i * (length + gap)
        det = runs if i < detected_events else 0
        out.append([s, s + length - 1, det, det, 1 if i < false_reports else 0])
    for k in range(n, false_reports):  # more false reports than cycles: pile on the last
        out[-1][4] += 1
    return out


def f1_of(cycles, runs):
    n = len(cycles)
    det = sum(c[2] for c in cycles)
    tp = sum(c[3] for c in cycles)
    fp = sum(c[4] for c in cycles)
    recall = det / (n * runs) if n else 0.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    return (2 * precision * recall / (precision + recall) if precision + recall else 0.0), recall, precision


def schedule_json(budget, algo, apps, uncertainty=True):
    """apps: [(name, branchpoint, fps, pred_f1, f1_se, f1_event_sd)]"""
    out_apps = []
    for name, bp, fps, f1, se, sd in apps:
        pred = {"recall": f1, "precision": f1, "f1": f1, "true_reports_per_event": 1.0,
                "false_reports_per_gap": 0.1}
        if uncertainty:
            pred.update(f1_se=se, f1_event_sd=sd, events=12, source="trace+model")
        out_apps.append({"app": name, "package": f"../packages/{name}", "candidate": 0, "branchpoint": bp,
                         "fps": fps, "x_vote": 1, "tpr": 0.9, "fpr": 0.1, "threshold": 0.5,
                         "weights": "bp.pt", "own_cost": 1.0, "predicted": pred})
    f1s = [a[3] for a in apps]
    return {"schema_version": 1, "kind": "mainstream.schedule", "budget": budget, "algorithm": algo,
            "objective": "mean_f1", "stream_fps": 10, "total_cost": 0.8 * budget,
            "predicted": {"mean_f1": sum(f1s) / len(f1s), "min_f1": min(f1s), "mean_recall": 0.8,
                          "mean_precision": 0.8},
            "apps": out_apps}


def pooled_json(apps, runs, run_dirs=()):
    """apps: [(name, cycles)]"""
    out_apps = []
    f1s = []
    for name, cycles in apps:
        f1, recall, precision = f1_of(cycles, runs)
        f1s.append((f1, recall, precision))
        tp = sum(c[3] for c in cycles)
        out_apps.append({
            "app": name, "branchpoint": 3, "x_vote": 1, "fps": 2, "achieved_fps": 2.0,
            "predicted": {"recall": 0.5, "precision": 0.5, "f1": 0.5},
            "evaluation": {
                "labels": f"{name}.csv", "frames": [1, 1000],
                "measured": {"true_events": len(cycles), "runs": runs, "detected": sum(c[2] for c in cycles),
                             "reports": tp + sum(c[4] for c in cycles), "true_reports": tp,
                             "recall": recall, "precision": precision, "f1": f1,
                             "recall_ci": [max(0, recall - 0.2), min(1, recall + 0.1)],
                             "precision_ci": [max(0, precision - 0.2), min(1, precision + 0.1)],
                             "f1_ci": [max(0, f1 - 0.2), min(1, f1 + 0.1)], "level": 0.95, "resamples": 2000},
                "phases": {"f1": [f1] * runs, "recall": [recall] * runs, "precision": [precision] * runs,
                           "f1_mean": f1, "f1_sd": 0.0},
                "cycles": cycles, "predicted": {"recall": 0.5, "precision": 0.5, "f1": 0.5}, "f1_error": 0.0}})
    return {"schema_version": 1, "kind": "mainstream.run.pooled", "status": "completed", "phases": runs,
            "seeds": list(range(1, runs + 1)), "runs": list(run_dirs), "frames": {"first": 1, "last": 1000},
            "wall_seconds": 1.0,
            "cost": {"predicted": {"total": 4.0}, "measured_mean": {"total": 4.2, "dnn": 3.0}},
            "apps": out_apps,
            "evaluation": {"apps": len(f1s), "mean_f1": sum(x[0] for x in f1s) / len(f1s),
                           "mean_recall": sum(x[1] for x in f1s) / len(f1s),
                           "mean_precision": sum(x[2] for x in f1s) / len(f1s),
                           "mean_phase_f1": 0.5, "predicted_mean_f1": 0.5}}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)


RUNS = 2
N_EVENTS = {"a": 8, "b": 10}
# Measured outcome per (budget, algo, app): (detected events, false reports).
OUTCOME = {
    ("5", "greedy", "a"): (7, 1), ("5", "greedy", "b"): (8, 2),
    ("5", "maxsharing", "a"): (3, 4), ("5", "maxsharing", "b"): (4, 5),
    ("10", "greedy", "a"): (8, 0), ("10", "greedy", "b"): (9, 1),
    ("10", "nosharing", "a"): (8, 0), ("10", "nosharing", "b"): (9, 1),
    ("10", "maxsharing", "a"): (3, 4), ("10", "maxsharing", "b"): (4, 5),
}
# Prediction per (budget, algo, app): (f1, f1_se, f1_event_sd)
PRED = {
    ("5", "greedy", "a"): (0.85, 0.05, 0.3),   # measured 0.875: inside
    ("5", "greedy", "b"): (0.40, 0.02, 0.1),   # measured ~0.84: outside
    ("10", "greedy", "a"): (0.95, 0.02, 0.2),  # measured 1.0: inside
    ("10", "greedy", "b"): (0.92, 0.03, 0.2),  # measured ~0.9: inside
    ("10", "nosharing", "a"): (0.9, 0.05, 0.3), ("10", "nosharing", "b"): (0.9, 0.05, 0.3),
    ("5", "maxsharing", "a"): (0.5, 0.1, 0.3), ("5", "maxsharing", "b"): (0.5, 0.1, 0.3),
    ("10", "maxsharing", "a"): (0.5, 0.1, 0.3), ("10", "maxsharing", "b"): (0.5, 0.1, 0.3),
}


def make_work(root, budgets=("5", "10"), absolute=None, outcome=OUTCOME, pred=PRED, old_algos=("maxsharing",),
              n_events=N_EVENTS, runs=RUNS):
    """A pipeline OUT directory: 2 budgets x 3 algorithms (greedy, nosharing,
    maxsharing) x 2 apps; nosharing is infeasible at the lowest budget; the
    schedules of old_algos lack the uncertainty fields."""
    for bi, b in enumerate(budgets):
        for a in ("greedy", "nosharing", "maxsharing"):
            key = ("5", "10")[bi]
            sched = os.path.join(root, "schedules", f"b{b}-{a}.json")
            if (key, a, "a") not in outcome:
                os.makedirs(os.path.dirname(sched), exist_ok=True)
                with open(sched + ".infeasible", "w") as f:
                    f.write("msschedule: error: infeasible: budget too small\n")
                continue
            babs = absolute[bi] if absolute else float(b)
            apps = [(x, 3, 2.0) + pred[(key, a, x)] for x in ("a", "b")]
            write_json(sched, schedule_json(babs, a, apps, uncertainty=a not in old_algos))
            run_dir = os.path.join(root, "runs", f"b{b}-{a}")
            phase_dirs = []
            for k in range(1, runs + 1):
                d = os.path.join(run_dir, f"phase-{k}")
                write_json(os.path.join(d, "summary.json"),
                           {"schema_version": 1, "kind": "mainstream.run",
                            "cost": {"measured_cpu": {"total": 3.5 + k}}})
                phase_dirs.append(d)
            cyc = [(x, cycles_for(n_events[x], runs, *outcome[(key, a, x)])) for x in ("a", "b")]
            write_json(os.path.join(run_dir, "pooled.json"), pooled_json(cyc, runs, phase_dirs))
    return root


def run(script, *args, in_process=False):
    """(exit code, stdout, stderr) of a script: in a subprocess under this
    interpreter, or, to save the interpreter's start (the malformed-input
    cases), by calling its main() here."""
    if not in_process:
        p = subprocess.run([PY, os.path.join(SCRIPTS, script)] + list(args), capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout, p.stderr
    mod = importlib.import_module(script[:-3])
    out, err, argv, code = io.StringIO(), io.StringIO(), sys.argv, 0
    sys.argv = [script] + list(args)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            mod.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def report(work, out, *extra, in_process=False):
    return run("report.py", "--work", work, "--out", out, "--budgets", "5 10",
               "--algos", "greedy nosharing maxsharing", "--apps", "a b", "--test-frames", "1-1000",
               "--phases", str(RUNS), "--resamples", RESAMPLES, *extra, in_process=in_process)


def snapshot(d):
    out = {}
    for base, _, files in os.walk(d):
        for f in files:
            p = os.path.join(base, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, d)] = fh.read()
    return out


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# --- tests ----------------------------------------------------------------------


class Formula(unittest.TestCase):
    def test_prediction_interval_on_known_numbers(self):
        lo, hi = rc.prediction_interval(0.8, 0.05, 0.3, 9)
        half = 1.645 * math.sqrt(0.05 ** 2 + 0.3 ** 2 / 9)
        self.assertAlmostEqual(half, 0.183917, places=5)
        self.assertAlmostEqual(lo, 0.8 - half, places=12)
        self.assertAlmostEqual(hi, 0.8 + half, places=12)
        # Clipped to [0, 1].
        self.assertEqual(rc.prediction_interval(0.95, 0.1, 0.5, 4)[1], 1.0)
        self.assertEqual(rc.prediction_interval(0.05, 0.1, 0.5, 4)[0], 0.0)
        # No interval without the uncertainty fields or without events.
        self.assertIsNone(rc.prediction_interval(0.8, None, 0.3, 9))
        self.assertIsNone(rc.prediction_interval(0.8, 0.05, None, 9))
        self.assertIsNone(rc.prediction_interval(0.8, 0.05, 0.3, 0))

    def test_pooled_fold_prediction(self):
        # Fold 1: 6 events, fold 2: 2 events, infeasible (predicted 0, se 0, sd 0).
        p = rc.pool_fold_predictions([(0.8, 0.1, 0.4, 6), (0.0, 0.0, 0.0, 2)])
        self.assertAlmostEqual(p["f1"], 0.6)
        self.assertAlmostEqual(p["f1_se"], 0.75 * 0.1)
        self.assertAlmostEqual(p["f1_event_sd"], math.sqrt(0.75 * 0.16))
        self.assertEqual(p["n"], 8)
        # The event term with the pooled n equals sum w^2 sd_k^2 / n_k.
        self.assertAlmostEqual(p["f1_event_sd"] ** 2 / 8, 0.75 ** 2 * 0.16 / 6)
        self.assertIsNone(rc.pool_fold_predictions([(0.8, None, 0.4, 6), (0.7, 0.1, 0.4, 2)])["f1_se"])

    def test_paired_bootstrap_identical_schedules(self):
        c = [rc.Counts.from_cycles(cycles_for(8, 2, 5, 3), 2), rc.Counts.from_cycles(cycles_for(10, 2, 6, 4), 2)]
        boot = rc.EventBootstrap([8, 10], 2000, seed=1)
        d, lo, hi = boot.paired("x", c, "y", copy.deepcopy(c))
        self.assertEqual((d, lo, hi), (0.0, 0.0, 0.0))

    def test_paired_bootstrap_clearly_better(self):
        good = [rc.Counts.from_cycles(cycles_for(8, 2, 7, 1), 2), rc.Counts.from_cycles(cycles_for(10, 2, 9, 1), 2)]
        bad = [rc.Counts.from_cycles(cycles_for(8, 2, 2, 5), 2), rc.Counts.from_cycles(cycles_for(10, 2, 3, 6), 2)]
        boot = rc.EventBootstrap([8, 10], 2000, seed=1)
        d, lo, hi = boot.paired("good", good, "bad", bad)
        expect = (f1_of(cycles_for(8, 2, 7, 1), 2)[0] + f1_of(cycles_for(10, 2, 9, 1), 2)[0]
                  - f1_of(cycles_for(8, 2, 2, 5), 2)[0] - f1_of(cycles_for(10, 2, 3, 6), 2)[0]) / 2
        self.assertAlmostEqual(d, expect)
        self.assertGreater(lo, 0)
        self.assertLess(lo, d)
        self.assertGreater(hi, d)
        d2, lo2, hi2 = boot.paired("bad", bad, "good", good)
        self.assertAlmostEqual(d2, -d)
        self.assertLess(hi2, 0)
        # Infeasible = every event missed: worse than anything that detects.
        missed = [rc.Counts.missed(8), rc.Counts.missed(10)]
        self.assertGreater(boot.paired("bad", bad, "none", missed)[1], 0)
        # Seeded: the same seed gives the same interval.
        again = rc.EventBootstrap([8, 10], 2000, seed=1).paired("good", good, "bad", bad)
        self.assertEqual(again, (d, lo, hi))

    def test_calibration_summary_on_a_constructed_case(self):
        def row(b, algo, pred, meas, pi):
            return {"budget": b, "algo": algo, "pred_f1": pred, "f1": meas, "pi": pi}
        rows = [row("5", "greedy", 0.80, 0.75, (0.6, 0.9)),    # inside, within 0.1
                row("5", "greedy", 0.70, 0.40, (0.6, 0.8)),    # outside
                row("10", "greedy", 0.90, 0.89, (0.8, 1.0)),   # inside
                row("10", "greedy", 0.50, 0.55, None),         # no interval
                row("10", "greedy", 0.50, "", (0.3, 0.7)),     # not measured
                row("10", "maxsharing", 0.60, 0.61, (0.5, 0.7))]
        cal = rc.calibration_summary(rows, ["5", "10"])
        g = cal["greedy"]
        self.assertEqual((g["measured"], g["with_pi"], g["excluded"], g["covered"]), (4, 3, 1, 2))
        self.assertAlmostEqual(g["coverage"], 2 / 3)
        self.assertAlmostEqual(g["width"], (0.3 + 0.2 + 0.2) / 3)
        self.assertEqual(g["within"], 3)
        self.assertAlmostEqual(g["bias"], (0.05 + 0.30 + 0.01 - 0.05) / 4)
        self.assertAlmostEqual(cal["bias_by_budget"]["5"][0], 0.175)
        self.assertAlmostEqual(cal["bias_by_budget"]["10"][0], (0.01 - 0.05) / 2)
        a = cal["all"]
        self.assertEqual((a["measured"], a["with_pi"], a["covered"]), (5, 4, 3))
        lines = rc.targets_section(cal, [], ["5", "10"], ["greedy", "maxsharing"], lambda b: b)
        text = "\n".join(lines)
        self.assertIn("| bias (predicted - measured F1), Mainstream greedy, budget 5 | +0.175 over 2 apps | "
                      "within ±0.02 | FAIL |", text)
        self.assertIn("budget 10 | -0.020 over 2 apps | within ±0.02 | PASS |", text)
        self.assertIn("2/3 = 67%, mean width 0.233 (1 without an interval excluded)", text)
        self.assertIn("3/4 = 75% | >= 70% | PASS", text)

    def test_budget_labels_and_order(self):
        self.assertEqual(rc.budget_label("5", [5.0]), "5")
        self.assertEqual(rc.budget_label("1.5x", [12.3]), "1.5x (12.3 ms/s)")
        self.assertEqual(rc.budget_label("1.5x", [12.1, 12.6]), "1.5x (12.1-12.6 ms/s)")
        self.assertEqual(rc.budget_label("1.5x", []), "1.5x")
        self.assertEqual(rc.budget_order(["10", "5", "7"], {}), ["5", "7", "10"])
        self.assertEqual(rc.budget_order(["2x", "1.1x"], {}), ["1.1x", "2x"])
        self.assertEqual(rc.budget_axis(["1.5x", "2x"], {"1.5x": [12.0], "2x": [16.0]})[0], [12.0, 16.0])
        self.assertEqual(rc.budget_axis(["1.5x", "2x"], {"1.5x": [12.0, 13.0], "2x": [16.0]})[0], [0, 1])


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_report-")
        cls.work = make_work(os.path.join(cls.tmp, "work"))
        cls.out = os.path.join(cls.tmp, "results")
        cls.code, cls.stdout, cls.stderr = report(cls.work, cls.out)
        cls.before = snapshot(cls.out) if os.path.isdir(cls.out) else {}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_writes_every_output_and_prints_results_md(self):
        self.assertEqual(self.code, 0, self.stderr)
        for f in ("results.md", "apps.csv", "schedules.csv", "paired.csv", "f1_vs_budget.png",
                  "pred_vs_measured.png", "calibration.png"):
            self.assertIn(f, self.before)
        self.assertEqual(self.stdout, self.before["results.md"].decode())
        self.assertIn("## Targets", self.stdout)
        self.assertEqual([f for f in os.listdir(self.tmp) if "tmp" in f], [])

    def test_apps_csv_has_intervals_and_in_interval(self):
        rows = {(r["budget"], r["algo"], r["app"]): r for r in read_csv(os.path.join(self.out, "apps.csv"))}
        self.assertEqual(len(rows), 10)  # nosharing is infeasible at 5
        for key, (f1, se, sd) in PRED.items():
            r = rows[key]
            cyc = cycles_for(N_EVENTS[key[2]], RUNS, *OUTCOME[key])
            meas = f1_of(cyc, RUNS)[0]
            self.assertAlmostEqual(float(r["f1"]), meas)
            if key[1] == "maxsharing":  # an older schedule: no interval
                self.assertEqual((r["pi90_lo"], r["pi90_hi"], r["in_interval"]), ("", "", ""))
                continue
            lo, hi = rc.prediction_interval(f1, se, sd, N_EVENTS[key[2]])
            self.assertAlmostEqual(float(r["pi90_lo"]), lo)
            self.assertAlmostEqual(float(r["pi90_hi"]), hi)
            self.assertEqual(r["in_interval"], str(lo <= meas <= hi))
            self.assertAlmostEqual(float(r["pred_minus_measured"]), f1 - meas)
        self.assertEqual(rows[("5", "greedy", "b")]["in_interval"], "False")
        self.assertEqual(rows[("5", "greedy", "a")]["in_interval"], "True")
        self.assertEqual(rows[("5", "greedy", "a")]["pred_source"], "trace+model")

    def test_targets_on_the_constructed_case(self):
        md = self.stdout
        meas = {k: f1_of(cycles_for(N_EVENTS[k[2]], RUNS, *v), RUNS)[0] for k, v in OUTCOME.items()}
        bias5 = (PRED[("5", "greedy", "a")][0] - meas[("5", "greedy", "a")]
                 + PRED[("5", "greedy", "b")][0] - meas[("5", "greedy", "b")]) / 2
        self.assertIn(f"budget 5 | {bias5:+.3f} over 2 apps | within ±0.02 | FAIL |", md)
        # Greedy: 3 of 4 inside; all algorithms: nosharing's 2 are inside too, maxsharing's 4 excluded.
        self.assertIn("| measured F1 inside the 90% prediction interval, Mainstream greedy | 3/4 = 75%", md)
        self.assertIn("| measured F1 inside the 90% prediction interval, all algorithms | 5/6 = 83%", md)
        self.assertIn("(4 without an interval excluded)", md)
        self.assertIn("4 measured app-schedules have no prediction interval", md)
        # Greedy beats Max-Sharing at both budgets and the infeasible No-Sharing at 5; ties No-Sharing at 10.
        self.assertIn("| Mainstream measures better than No-Sharing and Max-Sharing (paired 95% interval excludes 0)"
                      " | 1 budget(s): 5 | >= 2 budgets | FAIL |", md)
        self.assertIn("| a baseline measures better than Mainstream (paired 95% interval excludes 0) | "
                      "at no budget | at no budget | PASS |", md)
        self.assertIn("| Mainstream's measured F1 falls as the budget grows (paired 95% interval excludes 0) | "
                      "at no step | at no step | PASS |", md)

    def test_paired_csv_and_infeasible_schedule(self):
        rows = read_csv(os.path.join(self.out, "paired.csv"))
        by = {(r["kind"], r["budget"], r["other_budget"], r["other_algo"]): r for r in rows}
        self.assertEqual(len(rows), 5)  # 2 budgets x 2 baselines + 1 step
        tie = by[("vs_baseline", "10", "10", "nosharing")]  # identical outcomes
        self.assertEqual((float(tie["diff"]), float(tie["lo95"]), float(tie["hi95"])), (0.0, 0.0, 0.0))
        self.assertEqual(tie["excludes_zero"], "False")
        inf = by[("vs_baseline", "5", "5", "nosharing")]  # No-Sharing infeasible: every event missed
        meas = [f1_of(cycles_for(N_EVENTS[x], RUNS, *OUTCOME[("5", "greedy", x)]), RUNS)[0] for x in "ab"]
        self.assertAlmostEqual(float(inf["diff"]), sum(meas) / 2)
        self.assertEqual(inf["excludes_zero"], "True")
        step = by[("budget_step", "10", "5", "greedy")]
        self.assertGreaterEqual(float(step["diff"]), 0)
        scheds = {(r["budget"], r["algo"]): r for r in read_csv(os.path.join(self.out, "schedules.csv"))}
        self.assertEqual(scheds[("5", "nosharing")]["feasible"], "False")
        self.assertEqual(scheds[("5", "nosharing")]["f1"], "0.0")
        self.assertIn("| 5 | ", self.stdout)
        self.assertIn("infeasible", self.stdout)

    def malformed(self, rel, edit, field, in_process=True):
        """Breaks one input with edit(text) -> text, runs the report into the
        existing results: exit 2, one message naming the file and field, the
        previous results byte-identical, nothing temporary left."""
        path = os.path.join(self.work, rel)
        with open(path) as f:
            orig = f.read()
        try:
            with open(path, "w") as f:
                f.write(edit(orig))
            code, out, err = report(self.work, self.out, in_process=in_process)
        finally:
            with open(path, "w") as f:
                f.write(orig)
        self.assertEqual(code, 2, err)
        self.assertNotIn("Traceback", err)
        self.assertIn(path, err)
        if field:
            self.assertIn(field, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertEqual(snapshot(self.out), self.before)
        self.assertEqual(sorted(os.listdir(self.tmp)), ["results", "work"])
        return err

    def test_truncated_pooled_json(self):
        err = self.malformed("runs/b10-greedy/pooled.json", lambda t: t[: len(t) // 2], "", in_process=False)
        self.assertIn("invalid JSON", err)

    def test_pooled_json_that_is_an_array(self):
        self.malformed("runs/b5-maxsharing/pooled.json", lambda t: "[]", "$: expected an object")

    def test_nan_f1(self):
        def nan(t):
            d = json.loads(t)
            d["apps"][1]["evaluation"]["measured"]["f1"] = float("nan")
            return json.dumps(d)
        err = self.malformed("runs/b10-greedy/pooled.json", nan, "$.apps[1].evaluation.measured.f1")
        self.assertIn("NaN", err)

    def test_missing_field(self):
        def drop(t):
            d = json.loads(t)
            del d["apps"][0]["evaluation"]["cycles"]
            return json.dumps(d)
        self.malformed("runs/b5-greedy/pooled.json", drop, "$.apps[0].evaluation.cycles: missing")

    def test_wrong_type_in_schedule(self):
        def wrong(t):
            d = json.loads(t)
            d["apps"][1]["predicted"]["f1_se"] = "0.1"
            return json.dumps(d)
        self.malformed("schedules/b10-greedy.json", wrong, "$.apps[1].predicted.f1_se: expected a number")

    def test_infinite_prediction_in_schedule(self):
        self.malformed("schedules/b5-greedy.json", lambda t: t.replace('"f1": 0.85', '"f1": Infinity'),
                       "$.apps[0].predicted.f1")

    def test_cycles_that_disagree_with_the_counts(self):
        def bad(t):
            d = json.loads(t)
            d["apps"][0]["evaluation"]["cycles"][0][2] = 0
            return json.dumps(d)
        self.malformed("runs/b10-nosharing/pooled.json", bad, "$.apps[0].evaluation.cycles")

    def test_unwritable_out_and_bad_arguments(self):
        target = os.path.join(self.tmp, "work", "not-a-dir")
        with open(target, "w") as f:
            f.write("keep")
        try:
            code, _, err = report(self.work, target, in_process=True)
            self.assertEqual(code, 2, err)
            self.assertIn("not a directory", err)
            with open(target) as f:
                self.assertEqual(f.read(), "keep")
            self.assertEqual(sorted(os.listdir(os.path.join(self.tmp, "work"))), ["not-a-dir", "runs", "schedules"])
        finally:
            os.remove(target)
        code, _, err = run("report.py", "--work", self.work, "--out", self.out, "--budgets", " ", "--algos", "greedy",
                           "--apps", "a", in_process=True)
        self.assertEqual(code, 2, err)
        self.assertIn("--budgets", err)
        code, _, err = run("report.py", "--work", os.path.join(self.tmp, "nowhere"), "--out", self.out,
                           "--budgets", "5", "--algos", "greedy", "--apps", "a", in_process=True)
        self.assertEqual(code, 2, err)
        self.assertIn("no schedules", err)
        self.assertEqual(snapshot(self.out), self.before)

    def test_runs_on_other_events_cannot_be_paired(self):
        def shift(t):
            d = json.loads(t)
            for c in d["apps"][1]["evaluation"]["cycles"]:
                c[0] += 1
                c[1] += 1
            return json.dumps(d)
        self.malformed("runs/b10-maxsharing/pooled.json", shift, "$.apps[1].evaluation.cycles")


class CrossVal(unittest.TestCase):
    """Two folds; relative budgets with fold-specific absolute budgets;
    No-Sharing infeasible at 1.5x in fold 1 only."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="test_crossval-")
        outcome2 = dict(OUTCOME)
        for x in "ab":
            outcome2[("5", "nosharing", x)] = (2, 2)
        cls.f1 = make_work(os.path.join(cls.tmp, "fold-1"), ("1.5x", "2x"), (12.1, 16.0))
        pred2 = dict(PRED)
        pred2.update({("5", "nosharing", x): (0.6, 0.05, 0.3) for x in "ab"})
        cls.f2 = make_work(os.path.join(cls.tmp, "fold-2"), ("1.5x", "2x"), (12.6, 16.0), outcome=outcome2,
                           pred=pred2, n_events={"a": 4, "b": 6})
        cls.out = os.path.join(cls.tmp, "cv")
        cls.code, cls.stdout, cls.stderr = cls.crossval(cls.out)
        cls.before = snapshot(cls.out) if os.path.isdir(cls.out) else {}

    @classmethod
    def crossval(cls, out, in_process=False):
        return run("crossval_report.py", "--folds", cls.f1, cls.f2, "--out", out, "--budgets", "1.5x 2x",
                   "--algos", "greedy nosharing maxsharing", "--apps", "a b", "--resamples", RESAMPLES,
                   in_process=in_process)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_pools_folds_and_weights_predictions_by_events(self):
        self.assertEqual(self.code, 0, self.stderr)
        self.assertEqual(self.stdout, self.before["results.md"].decode())
        for f in ("apps.csv", "schedules.csv", "paired.csv", "calibration.png", "f1_vs_budget.png"):
            self.assertIn(f, self.before)
        rows = {(r["budget"], r["algo"], r["app"]): r for r in read_csv(os.path.join(self.out, "apps.csv"))}
        # No-Sharing at 1.5x: fold 1 (8 events of a) infeasible -> predicted 0, se 0; fold 2 (4 events) 0.6.
        r = rows[("1.5x", "nosharing", "a")]
        self.assertEqual(r["true_events"], "12")
        self.assertEqual(r["folds_infeasible"], "1")
        self.assertAlmostEqual(float(r["pred_f1"]), 0.6 * 4 / 12)
        pooled = rc.pool_fold_predictions([(0.0, 0.0, 0.0, 8), (0.6, 0.05, 0.3, 4)])
        lo, hi = rc.prediction_interval(pooled["f1"], pooled["f1_se"], pooled["f1_event_sd"], 12)
        self.assertAlmostEqual(float(r["pi90_lo"]), lo)
        self.assertAlmostEqual(float(r["pi90_hi"]), hi)
        # Measured: fold 1's events all missed, fold 2 detects 2 of 4.
        cyc = [c[:2] + [0, 0, 0] for c in cycles_for(8, RUNS, 0, 0)] + cycles_for(4, RUNS, 2, 2)
        self.assertAlmostEqual(float(r["f1"]), f1_of(cyc, RUNS)[0])
        # Greedy a at 1.5x: weighted by 8 and 4 events (same prediction in both folds).
        g = rows[("1.5x", "greedy", "a")]
        self.assertAlmostEqual(float(g["pred_f1"]), 0.85)
        self.assertEqual(g["pi90_lo"] != "", True)
        self.assertEqual(rows[("1.5x", "maxsharing", "a")]["pi90_lo"], "")  # older schedules: no interval
        self.assertIn("1.5x (12.1-12.6 ms/s)", self.stdout)
        self.assertIn("## Targets", self.stdout)
        self.assertIn("1 of 2 fold(s) infeasible", self.stdout)
        paired = {(r["kind"], r["budget"], r["other_algo"]): r for r in read_csv(os.path.join(self.out, "paired.csv"))}
        self.assertEqual(paired[("vs_baseline", "1.5x", "nosharing")]["excludes_zero"], "True")
        self.assertEqual(float(paired[("vs_baseline", "2x", "nosharing")]["diff"]), 0.0)

    def test_malformed_fold_input_leaves_previous_results(self):
        path = os.path.join(self.f2, "runs", "b2x-greedy", "pooled.json")
        with open(path) as f:
            orig = f.read()
        for text, field in (("[]", "$: expected an object"),
                            (orig.replace('"f1": 1.0', '"f1": NaN', 1), ".evaluation.measured.f1"),
                            (orig[:-40], "invalid JSON")):
            with self.subTest(field=field):
                with open(path, "w") as f:
                    f.write(text)
                try:
                    code, out, err = self.crossval(self.out, in_process=True)
                finally:
                    with open(path, "w") as f:
                        f.write(orig)
                self.assertEqual(code, 2, err)
                self.assertIn(path, err)
                self.assertIn(field, err)
                self.assertNotIn("Traceback", err)
                self.assertEqual(snapshot(self.out), self.before)
                self.assertEqual(sorted(os.listdir(self.tmp)), ["cv", "fold-1", "fold-2"])


if __name__ == "__main__":
    unittest.main(verbosity=1)
