"""Shared by scripts/report.py and scripts/crossval_report.py: the validating
input loader, the prediction interval, the paired event bootstrap, the
calibration summary and "Targets" section, the plots, and the all-or-nothing
writing of the outputs. Runs under /usr/bin/python3 (numpy; matplotlib for the
plots).

Input errors raise InputError, whose message names the file and the JSON path
of the offending field (e.g. "runs/b5-greedy/pooled.json:
$.apps[2].evaluation.measured.f1: expected a number in [0, 1], got NaN"); the
scripts print it and exit with code 2.
"""
import json
import math
import os
import shutil
import sys
import tempfile

import numpy as np

ALGO_LABEL = {
    "greedy": "Mainstream (greedy)",
    "exhaustive": "Mainstream (exhaustive)",
    "maxmin": "Max-min",
    "nosharing": "No-Sharing",
    "maxsharing": "Max-Sharing",
}
MAINSTREAM = "greedy"
# Baselines Mainstream greedy is compared with (those present in --algos);
# "better than both" means better than No-Sharing and Max-Sharing.
BASELINES = ("nosharing", "maxsharing", "maxmin")
BOTH_BASELINES = ("nosharing", "maxsharing")
Z90 = 1.645  # two-sided 90% normal quantile

# Targets of the calibration issue.
BIAS_TARGET = 0.02
COVERAGE_TARGET = 0.85
WIDTH_TARGET = 0.30
WITHIN = 0.1
WITHIN_TARGET = 0.70
WINS_TARGET = 2


def label(algo):
    return ALGO_LABEL.get(algo, algo)


# --- input validation -----------------------------------------------------------


class InputError(Exception):
    """A malformed input: `file: path: problem` (path is a JSON path or empty)."""

    def __init__(self, file, path, problem):
        self.file, self.path, self.problem = str(file), path, problem
        super().__init__(f"{self.file}: {path}: {problem}" if path else f"{self.file}: {problem}")


def _describe(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "Infinity" if v > 0 else "-Infinity"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        s = v if len(v) <= 40 else v[:37] + "..."
        return json.dumps(s) + " (a string)"
    if isinstance(v, list):
        return "[]" if not v else f"an array of {len(v)}"
    if isinstance(v, dict):
        return "{}" if not v else "an object"
    return repr(v)


def _range_text(lo, hi, lo_open=False):
    if lo is not None and hi is not None:
        return f" in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if lo is not None:
        return f" {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f" <= {hi:g}"
    return ""


class Node:
    """A JSON value with the file it came from and its JSON path; the typed
    accessors return the plain value or raise InputError naming both."""

    __slots__ = ("v", "file", "path")

    def __init__(self, v, file, path="$"):
        self.v, self.file, self.path = v, file, path

    def fail(self, problem):
        raise InputError(self.file, self.path, problem)

    def obj(self):
        if not isinstance(self.v, dict):
            self.fail(f"expected an object, got {_describe(self.v)}")
        return self.v

    def has(self, name):
        return name in self.obj()

    def key(self, name, required=True):
        """The member `name`; None when absent (or null) and not required."""
        o = self.obj()
        if name not in o or (not required and o[name] is None):
            if required:
                raise InputError(self.file, f"{self.path}.{name}", "missing")
            return None
        return Node(o[name], self.file, f"{self.path}.{name}")

    def is_null(self):
        return self.v is None

    def arr(self, min_len=0, length=None):
        if not isinstance(self.v, list):
            self.fail(f"expected an array, got {_describe(self.v)}")
        if length is not None and len(self.v) != length:
            self.fail(f"expected an array of {length}, got {len(self.v)} elements")
        if len(self.v) < min_len:
            self.fail(f"expected an array of at least {min_len}, got {_describe(self.v)}")
        return [Node(x, self.file, f"{self.path}[{i}]") for i, x in enumerate(self.v)]

    def num(self, lo=None, hi=None, lo_open=False):
        v = self.v
        what = "a number" + _range_text(lo, hi, lo_open)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(f"expected {what}, got {_describe(v)}")
        if not math.isfinite(v):
            self.fail(f"expected {what} (finite), got {_describe(v)}")
        if (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi):
            self.fail(f"expected {what}, got {_describe(v)}")
        return float(v)

    def int(self, lo=None, hi=None):
        v = self.v
        what = "an integer" + _range_text(lo, hi)
        if isinstance(v, float) and math.isfinite(v) and v == int(v):
            v = int(v)  # 3.0 from a writer that prints integers as doubles
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(f"expected {what}, got {_describe(self.v)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.fail(f"expected {what}, got {_describe(v)}")
        return v

    def str(self, nonempty=True):
        if not isinstance(self.v, str) or (nonempty and not self.v):
            self.fail(f"expected a {'non-empty ' if nonempty else ''}string, got {_describe(self.v)}")
        return self.v

    def interval01(self):
        """[lo, hi] within [0, 1], lo <= hi."""
        lo, hi = (x.num(0, 1) for x in self.arr(length=2))
        if lo > hi:
            self.fail(f"expected [lo, hi] with lo <= hi, got [{lo:g}, {hi:g}]")
        return lo, hi


def load_json(path):
    """Parses a JSON file into a Node; any read or syntax error is an InputError
    naming the file. NaN/Infinity parse (Python's json accepts them) but every
    accessor rejects non-finite numbers with the field's path."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(path, "", f"cannot read: {e.strerror or e}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(path, "", f"not UTF-8 text (byte {e.start})")
    if not text.strip():
        raise InputError(path, "", "empty file (truncated?)")
    try:
        return Node(json.loads(text), path)
    except json.JSONDecodeError as e:
        hint = " (truncated?)" if e.pos >= len(text.rstrip()) else ""
        raise InputError(path, "", f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}{hint}")
    except RecursionError:
        raise InputError(path, "", "invalid JSON: nested too deeply")


def _check_kind(root, kind):
    root.obj()
    k = root.key("kind")
    if k.v != kind:
        k.fail(f"expected {json.dumps(kind)}, got {_describe(k.v)}")
    root.key("schema_version").int(lo=1)


def _kind(app_node):
    """A scheduled app's candidate kind: "branch" (the default, older schedules) or "micro"."""
    k = app_node.key("kind", required=False)
    if k is None:
        return "branch"
    v = k.str()
    if v not in ("branch", "micro"):
        k.fail(f'expected "branch" or "micro", got {json.dumps(v)}')
    return v


def load_schedule(path):
    """schedule.json (docs/formats.md) -> dict with the fields the reports use:
    budget, total_cost, mean_f1, min_f1, apps [{app, branchpoint, x_vote, fps,
    pred {recall, precision, f1, f1_se, f1_event_sd, events, source}}]. The
    uncertainty fields (f1_se, f1_event_sd, events, source) are optional (older
    schedules lack them): None when absent or null."""
    r = load_json(path)
    _check_kind(r, "mainstream.schedule")
    pred = r.key("predicted")
    out = {"file": path,
           "budget": r.key("budget").num(lo=0),
           "total_cost": r.key("total_cost").num(lo=0),
           "mean_f1": pred.key("mean_f1").num(0, 1),
           "min_f1": pred.key("min_f1").num(0, 1),
           "apps": []}
    seen = set()
    for a in r.key("apps").arr(min_len=1):
        name_node = a.key("app")
        name = name_node.str()
        if name in seen:
            name_node.fail(f"app {json.dumps(name)} appears twice")
        seen.add(name)
        p = a.key("predicted")
        opt = {k: p.key(k, required=False) for k in ("f1_se", "f1_event_sd", "events", "source")}
        out["apps"].append({
            "app": name,
            "branchpoint": a.key("branchpoint").int(lo=0),
            "kind": _kind(a),
            "x_vote": a.key("x_vote").int(lo=1),
            "fps": a.key("fps").num(lo=0, lo_open=True),
            "pred": {
                "recall": p.key("recall").num(0, 1),
                "precision": p.key("precision").num(0, 1),
                "f1": p.key("f1").num(0, 1),
                "f1_se": opt["f1_se"].num(0, 1) if opt["f1_se"] else None,
                "f1_event_sd": opt["f1_event_sd"].num(0, 10) if opt["f1_event_sd"] else None,
                "events": opt["events"].int(lo=0) if opt["events"] else None,
                "source": opt["source"].str() if opt["source"] else None,
            },
        })
    return out


def load_pooled(path):
    """pooled.json of msrun --phases (docs/formats.md) -> dict: phases, runs
    (phase directories), cost_total, evaluation (mean_f1, mean_recall,
    mean_precision, or None), apps [{app, achieved_fps, eval}] where eval is None
    (no labels) or {true_events, runs, detected, reports, true_reports, recall,
    precision, f1, recall_ci, precision_ci, f1_ci, f1_phase_sd, cycles}.
    cycles are checked against the measured counts (one per true event,
    events in order, counts summing to detected / true_reports / reports)."""
    r = load_json(path)
    _check_kind(r, "mainstream.run.pooled")
    phases = r.key("phases").int(lo=1)
    runs_node = r.key("runs", required=False)
    runs = [x.str() for x in runs_node.arr()] if runs_node else []
    ev = r.key("evaluation")
    evaluation = None
    if not ev.is_null():
        evaluation = {k: ev.key(k).num(0, 1) for k in ("mean_f1", "mean_recall", "mean_precision")}
    out = {"file": path, "phases": phases, "runs": runs,
           "cost_total": r.key("cost").key("measured_mean").key("total").num(lo=0),
           "evaluation": evaluation, "apps": []}
    seen = set()
    for a in r.key("apps").arr():
        name_node = a.key("app")
        name = name_node.str()
        if name in seen:
            name_node.fail(f"app {json.dumps(name)} appears twice")
        seen.add(name)
        e = a.key("evaluation", required=False)
        out["apps"].append({"app": name, "achieved_fps": a.key("achieved_fps").num(lo=0),
                            "eval": _load_app_evaluation(e, phases) if e else None})
    return out


def _load_app_evaluation(e, phases):
    m = e.key("measured")
    n = m.key("true_events").int(lo=0)
    runs_node = m.key("runs")
    runs = runs_node.int(lo=1)
    if runs != phases:
        runs_node.fail(f"expected the pooled phases ({phases}), got {runs}")
    out = {"true_events": n, "runs": runs}
    for k in ("detected", "reports", "true_reports"):
        out[k] = m.key(k).int(lo=0)
    if out["true_reports"] > out["reports"]:
        m.key("true_reports").fail(f"expected at most reports ({out['reports']}), got {out['true_reports']}")
    if out["detected"] > n * runs:
        m.key("detected").fail(f"expected at most true_events x runs ({n * runs}), got {out['detected']}")
    for k in ("recall", "precision", "f1"):
        out[k] = m.key(k).num(0, 1)
    for k in ("recall_ci", "precision_ci", "f1_ci"):
        out[k] = m.key(k).interval01()
    out["f1_phase_sd"] = e.key("phases").key("f1_sd").num(lo=0)
    cyc_node = e.key("cycles")
    cycles = cyc_node.arr()
    if len(cycles) != n:
        cyc_node.fail(f"expected one cycle per true event ({n}), got {len(cycles)}")
    rows = []
    prev_end = 0
    for c in cycles:
        f = c.arr(length=5)
        start, end = f[0].int(lo=1), f[1].int(lo=1)
        if end < start:
            f[1].fail(f"expected an event end >= its start ({start}), got {end}")
        if start <= prev_end:
            f[0].fail(f"expected events in order without overlap (previous ended at {prev_end}), got start {start}")
        prev_end = end
        rows.append((start, end, f[2].int(0, runs), f[3].int(lo=0), f[4].int(lo=0)))
    if n:
        sums = [sum(c[i] for c in rows) for i in (2, 3)] + [sum(c[3] + c[4] for c in rows)]
        for k, s in zip(("detected", "true_reports", "reports"), sums):
            if s != out[k]:
                cyc_node.fail(f"the cycles sum to {s} {k.replace('_', ' ')}, but measured.{k} is {out[k]}")
    out["cycles"] = rows
    return out


def load_cpu_cost(run_dirs, pooled_path):
    """Mean over a pooled run's phases of the loop thread's CPU ms per second of
    video (summary.json $.cost.measured_cpu.total), or "" when a phase's
    summary is gone or predates the field. A phase directory is looked up as
    recorded and, failing that, beside pooled.json."""
    vals = []
    for d in run_dirs:
        cands = [os.path.join(d, "summary.json"),
                 os.path.join(os.path.dirname(pooled_path), os.path.basename(os.path.normpath(d)), "summary.json")]
        path = next((p for p in cands if os.path.isfile(p)), None)
        if path is None:
            return ""
        r = load_json(path)
        cost = r.key("cost")
        cpu = cost.key("measured_cpu", required=False)
        if cpu is None or not cpu.has("total"):
            return ""
        vals.append(cpu.key("total").num(lo=0))
    return sum(vals) / len(vals) if vals else ""


def read_infeasible(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").strip()
    except OSError as e:
        raise InputError(path, "", f"cannot read: {e.strerror or e}")


def schedule_files(work, budget, algo):
    """('infeasible', why) / ('schedule', schedule.json path, pooled.json path
    or None) / None (neither file) for one budget and algorithm of a pipeline
    OUT directory."""
    s = os.path.join(work, "schedules", f"b{budget}-{algo}.json")
    if os.path.exists(s + ".infeasible"):
        if os.path.exists(s):
            raise InputError(s, "", f"both it and {os.path.basename(s)}.infeasible exist: re-run the schedule step")
        return ("infeasible", read_infeasible(s + ".infeasible"))
    if not os.path.exists(s):
        return None
    p = os.path.join(work, "runs", f"b{budget}-{algo}", "pooled.json")
    return ("schedule", s, p if os.path.exists(p) else None)


def check_run_matches_schedule(pooled, schedule):
    """The run scored the apps its schedule lists (else it is stale)."""
    ra = [a["app"] for a in pooled["apps"]]
    sa = [a["app"] for a in schedule["apps"]]
    if sorted(ra) != sorted(sa):
        raise InputError(pooled["file"], "$.apps",
                         f"apps {ra} differ from those of the schedule {schedule['file']} {sa} (a stale run?)")


def check_budget(schedule, budget):
    """A budget given as a number must be the schedule's $.budget."""
    v = parse_number(budget)
    if v is not None and not math.isclose(v, schedule["budget"], rel_tol=1e-6, abs_tol=1e-12):
        raise InputError(schedule["file"], "$.budget",
                         f"expected {budget} (the budget in its file name), got {schedule['budget']:g}")


# --- budgets ------------------------------------------------------------------------


def parse_number(text):
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def parse_budgets(text, prog):
    """--budgets: space-separated strings as in the config ("5 7 10" or relative
    "1.1x 1.5x 2x"); they name files (b<B>-<algo>.json), so no '/'."""
    budgets = text.split()
    if not budgets:
        usage_error(prog, "--budgets: no budgets given")
    for b in budgets:
        if "/" in b or b in (".", ".."):
            usage_error(prog, f"--budgets: '{b}' cannot be part of a file name")
    dup = sorted({b for b in budgets if budgets.count(b) > 1})
    if dup:
        usage_error(prog, f"--budgets: {' '.join(dup)} given twice")
    return budgets


def parse_names(text, flag, prog):
    names = text.split()
    if not names:
        usage_error(prog, f"{flag}: nothing given")
    dup = sorted({x for x in names if names.count(x) > 1})
    if dup:
        usage_error(prog, f"{flag}: {' '.join(dup)} given twice")
    for x in names:
        if "/" in x:
            usage_error(prog, f"{flag}: '{x}' cannot be part of a file name")
    return names


def usage_error(prog, msg):
    print(f"{prog}: error: {msg}", file=sys.stderr)
    sys.exit(2)


def _ms(v):
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def budget_label(budget, absolutes):
    """A budget as given, with the absolute ms/s (the schedules' $.budget) where
    it is not itself a number: "1.5x (12.3 ms/s)", "1.5x (12.1-12.6 ms/s)"
    when folds differ; "5" stays "5"."""
    if parse_number(budget) is not None or not absolutes:
        return budget
    lo, hi = min(absolutes), max(absolutes)
    return f"{budget} ({_ms(lo)} ms/s)" if _ms(lo) == _ms(hi) else f"{budget} ({_ms(lo)}-{_ms(hi)} ms/s)"


def budget_value(budget, absolutes):
    """The absolute budget (ms/s) of a budget string: the number itself, or the
    one value its schedules agree on; None when unknown or ambiguous."""
    v = parse_number(budget)
    if v is not None:
        return v
    if absolutes and math.isclose(min(absolutes), max(absolutes), rel_tol=1e-9):
        return min(absolutes)
    return None


def budget_order(budgets, absolutes):
    """Budgets from lowest to highest: by absolute ms/s when all are known, by
    the factor when all are relative ("1.5x"), else as given."""
    vals = [budget_value(b, absolutes.get(b)) for b in budgets]
    if all(v is not None for v in vals):
        return [b for _, _, b in sorted(zip(vals, range(len(budgets)), budgets))]
    facs = [parse_number(b[:-1]) if b.lower().endswith("x") else None for b in budgets]
    if all(f is not None for f in facs):
        return [b for _, _, b in sorted(zip(facs, range(len(budgets)), budgets))]
    return list(budgets)


# --- prediction interval ----------------------------------------------------------


def prediction_interval(f1, f1_se, f1_event_sd, n, z=Z90):
    """90% prediction interval of the F1 *measured* over n true events.

    The schedule predicts F1 = f1 with two sources of uncertainty, taken as
    independent and normal:
      - f1_se: standard error of the prediction itself (the estimate's error);
      - f1_event_sd: SD of F1 attributable to one event, so that a measurement
        over n true events has sampling SD f1_event_sd / sqrt(n).
    Hence

        interval = clip(f1 -+ z * sqrt(f1_se**2 + f1_event_sd**2 / n), 0, 1),

    z = 1.645 (two-sided 90%). n is the measured `true_events` of the app
    (pooled.json $.apps[i].evaluation.measured.true_events; the pooled n over
    folds in crossval_report.py). Returns (lo, hi), or None when there is no
    interval: f1_se or f1_event_sd unknown (older schedules), or n < 1.
    (msschedule's AppPrediction::Interval is the same formula.)
    """
    if f1_se is None or f1_event_sd is None or n is None or n < 1:
        return None
    half = z * math.sqrt(f1_se ** 2 + f1_event_sd ** 2 / n)
    return max(0.0, f1 - half), min(1.0, f1 + half)


def pool_fold_predictions(folds):
    """An app's prediction pooled over cross-validation folds.

    folds: one (f1, f1_se, f1_event_sd, n_k) per fold: the fold schedule's
    predicted F1 and its uncertainty (None when the schedule lacks them), and
    the fold's true events. A fold where the schedule is infeasible enters as
    (0, 0, 0, n_k): its events count as missed, with certainty. With weights
    w_k = n_k / n, n = sum n_k:
        f1 = sum w_k f1_k                   (what the pooled measurement weighs)
        f1_se**2 = sum w_k**2 f1_se_k**2    (independent folds)
        f1_event_sd**2 = sum w_k f1_event_sd_k**2
    the last so that f1_event_sd**2 / n = sum w_k**2 f1_event_sd_k**2 / n_k, the
    sampling variance of the event-weighted mean of the folds' measurements:
    prediction_interval(f1, f1_se, f1_event_sd, n) uses the pooled n.
    Returns dict f1, f1_se, f1_event_sd (None if any fold lacks them), n. With
    no events at all, f1 is the plain mean and there is no uncertainty."""
    n = sum(k[3] for k in folds)
    if not folds:
        return {"f1": 0.0, "f1_se": None, "f1_event_sd": None, "n": 0}
    if n == 0:
        return {"f1": sum(k[0] for k in folds) / len(folds), "f1_se": None, "f1_event_sd": None, "n": 0}
    w = [k[3] / n for k in folds]
    f1 = sum(wk * k[0] for wk, k in zip(w, folds))
    known = all(k[1] is not None and k[2] is not None for k in folds)
    se = math.sqrt(sum(wk * wk * k[1] ** 2 for wk, k in zip(w, folds))) if known else None
    sd = math.sqrt(sum(wk * k[2] ** 2 for wk, k in zip(w, folds))) if known else None
    return {"f1": min(1.0, max(0.0, f1)), "f1_se": se, "f1_event_sd": sd, "n": n}


# --- event counts and the paired bootstrap ---------------------------------------


class Counts:
    """One schedule's outcome on one app's true events, per event (cycle):
    det = detected / runs (fraction of phases that detected it), tp, fp (true
    and false reports summed over phases)."""

    __slots__ = ("det", "tp", "fp")

    def __init__(self, det, tp, fp):
        self.det, self.tp, self.fp = (np.asarray(x, dtype=float) for x in (det, tp, fp))

    @staticmethod
    def from_cycles(cycles, runs):
        return Counts([c[2] / runs for c in cycles], [c[3] for c in cycles], [c[4] for c in cycles])

    @staticmethod
    def missed(n):
        """An infeasible schedule: every event missed, no reports."""
        return Counts(np.zeros(n), np.zeros(n), np.zeros(n))

    @staticmethod
    def concat(parts):
        return Counts(np.concatenate([p.det for p in parts]) if parts else [],
                      np.concatenate([p.tp for p in parts]) if parts else [],
                      np.concatenate([p.fp for p in parts]) if parts else [])

    def __len__(self):
        return len(self.det)


def _scores(det, tp, fp, n):
    """recall, precision, F1 from summed counts (arrays or scalars); a ratio
    with a zero denominator is 0, as msrun's."""
    det, tp, fp = (np.asarray(x, dtype=float) for x in (det, tp, fp))
    recall = det / n if n else np.zeros_like(det)
    rep = tp + fp
    precision = np.divide(tp, rep, out=np.zeros_like(rep), where=rep > 0)
    s = precision + recall
    f1 = np.divide(2 * precision * recall, s, out=np.zeros_like(s), where=s > 0)
    return recall, precision, f1


def score(counts):
    """(recall, precision, F1) of one app's counts: recall = sum(detected) /
    (n x runs), precision = sum(tp) / sum(tp + fp)."""
    r, p, f = _scores(counts.det.sum(), counts.tp.sum(), counts.fp.sum(), len(counts))
    return float(r), float(p), float(f)


def quantiles(values, level=0.95):
    """Percentile interval (type-7 quantiles, as msrun's)."""
    tail = (1 - level) / 2
    lo, hi = np.quantile(np.asarray(values, dtype=float), [tail, 1 - tail])
    return float(lo), float(hi)


class EventBootstrap:
    """Percentile bootstrap over true events, shared by every schedule scored
    on the same events: each replicate draws, per app, n_app cycle indices with
    replacement, once, and every schedule (every algorithm and budget of one
    pipeline, or of the pooled folds) is scored on those same indices, so
    differences between schedules are paired. Seeded: the same inputs give the
    same intervals."""

    def __init__(self, events_per_app, resamples=2000, seed=1):
        rng = np.random.default_rng(seed)
        self.resamples = resamples
        self.seed = seed
        self.n = list(events_per_app)
        self.idx = [rng.integers(0, n, size=(resamples, n)) if n > 0 else None for n in self.n]
        self._cache = {}

    def app(self, i, counts):
        """Replicates (recall, precision, F1), arrays of `resamples`, of app i."""
        n = self.n[i]
        if len(counts) != n:
            raise ValueError(f"app {i}: {len(counts)} cycles, bootstrap drawn for {n}")
        if n == 0:
            z = np.zeros(self.resamples)
            return z, z, z
        idx = self.idx[i]
        return _scores(counts.det[idx].sum(axis=1), counts.tp[idx].sum(axis=1), counts.fp[idx].sum(axis=1), n)

    def mean_f1(self, key, per_app):
        """Replicates of the mean F1 over apps of one schedule (cached by key)."""
        if key not in self._cache:
            self._cache[key] = np.mean([self.app(i, c)[2] for i, c in enumerate(per_app)], axis=0)
        return self._cache[key]

    def paired(self, key_a, per_app_a, key_b, per_app_b, level=0.95):
        """Mean F1 of a minus that of b: (point, lo, hi) with the percentile
        interval of the paired replicates."""
        point = (np.mean([score(c)[2] for c in per_app_a]) - np.mean([score(c)[2] for c in per_app_b]))
        d = self.mean_f1(key_a, per_app_a) - self.mean_f1(key_b, per_app_b)
        lo, hi = quantiles(d, level)
        return float(point), lo, hi


def events_of(pooled):
    """{app: [(start, end), ...]} of the apps a pooled run scored."""
    return {a["app"]: [c[:2] for c in a["eval"]["cycles"]] for a in pooled["apps"] if a["eval"]}


class Truth:
    """The true events every schedule of one pipeline run is scored on: taken
    from the first pooled.json, every later one must agree (otherwise the
    schedules were run on other frames or labels and cannot be paired)."""

    def __init__(self):
        self.events, self.source = None, None

    def add(self, pooled):
        ev = events_of(pooled)
        if self.events is None:
            self.events, self.source = ev, pooled["file"]
            return
        if sorted(ev) != sorted(self.events):
            raise InputError(pooled["file"], "$.apps",
                             f"apps with an evaluation {sorted(ev)} differ from those of {self.source} "
                             f"{sorted(self.events)}")
        for i, a in enumerate(pooled["apps"]):
            if a["eval"] and ev[a["app"]] != self.events[a["app"]]:
                raise InputError(pooled["file"], f"$.apps[{i}].evaluation.cycles",
                                 f"true events of {a['app']} differ from those in {self.source} "
                                 "(runs on other frames or labels cannot be compared)")

    def apps(self):
        return list(self.events) if self.events else []


def paired_rows(budgets, algos, steps_order, counts, boot, absolutes):
    """Paired bootstrap differences of mean F1 (over apps):
      - per budget, Mainstream greedy minus each baseline present in algos;
      - Mainstream greedy at each budget minus at the next lower one.
    counts: (budget, algo) -> list over apps of Counts (an infeasible schedule:
    Counts.missed), or None when not measured. Returns rows for paired.csv."""
    rows = []

    def add(kind, b, a, ob, oa):
        ca, cb = counts.get((b, a)), counts.get((ob, oa))
        row = {"kind": kind, "budget": b, "budget_ms": _num_or_blank(budget_value(b, absolutes.get(b))),
               "algo": a, "other_budget": ob, "other_budget_ms": _num_or_blank(budget_value(ob, absolutes.get(ob))),
               "other_algo": oa, "diff": "", "lo95": "", "hi95": "", "excludes_zero": "",
               "apps": "", "resamples": boot.resamples if boot else "", "seed": boot.seed if boot else ""}
        if ca is not None and cb is not None and boot is not None:
            d, lo, hi = boot.paired((b, a), ca, (ob, oa), cb)
            row.update(diff=d, lo95=lo, hi95=hi, excludes_zero=lo > 0 or hi < 0, apps=len(ca))
        rows.append(row)

    if MAINSTREAM not in algos:
        return rows
    for b in budgets:
        for base in BASELINES:
            if base in algos:
                add("vs_baseline", b, MAINSTREAM, b, base)
    for lower, higher in zip(steps_order, steps_order[1:]):
        add("budget_step", higher, MAINSTREAM, lower, MAINSTREAM)
    return rows


def _num_or_blank(v):
    return "" if v is None else v


# --- calibration summary and the Targets section -------------------------------


def calibration_summary(rows, budgets):
    """rows: app-schedules with budget, algo, pred_f1, f1 (measured, "" when not
    measured) and pi (the 90% interval or None). Returns per-group figures:
    bias per budget and overall (Mainstream greedy: mean of predicted - measured
    F1), coverage of the 90% interval, its mean width, the fraction within 0.1,
    and how many measured app-schedules have no interval."""
    def group(rs):
        measured = [r for r in rs if r["f1"] != ""]
        with_pi = [r for r in measured if r["pi"] is not None]
        inside = [r for r in with_pi if r["pi"][0] - 1e-12 <= r["f1"] <= r["pi"][1] + 1e-12]
        within = [r for r in measured if abs(r["pred_f1"] - r["f1"]) <= WITHIN + 1e-12]
        return {
            "measured": len(measured),
            "with_pi": len(with_pi),
            "excluded": len(measured) - len(with_pi),
            "covered": len(inside),
            "coverage": len(inside) / len(with_pi) if with_pi else None,
            "width": (sum(r["pi"][1] - r["pi"][0] for r in with_pi) / len(with_pi)) if with_pi else None,
            "within": len(within),
            "within_frac": len(within) / len(measured) if measured else None,
            "bias": (sum(r["pred_f1"] - r["f1"] for r in measured) / len(measured)) if measured else None,
        }
    g = [r for r in rows if r["algo"] == MAINSTREAM]
    out = {"greedy": group(g), "all": group(rows), "bias_by_budget": {}}
    for b in budgets:
        gb = group([r for r in g if r["budget"] == b])
        out["bias_by_budget"][b] = (gb["bias"], gb["measured"])
    return out


def _verdict(ok):
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def _pct(num, den):
    return f"{num}/{den} = {100.0 * num / den:.0f}%"


def fmt_signed(v, digits=3):
    return f"{v:+.{digits}f}"


def targets_section(cal, paired, budgets, algos, blabel, what="app-schedules"):
    """The "Targets" lines (markdown) from calibration_summary and paired_rows."""
    lines = ["## Targets", ""]
    if MAINSTREAM not in algos:
        return lines + ["Mainstream greedy is not among the algorithms: no targets to check.", ""]
    lines += ["| check | result | target | verdict |", "|---|---|---|---|"]
    oks = []
    for b in budgets:
        bias, n = cal["bias_by_budget"][b]
        if bias is None:
            lines.append(f"| bias (predicted - measured F1), Mainstream greedy, budget {blabel(b)} | "
                         f"not measured | within ±{BIAS_TARGET:.2f} | n/a |")
            continue
        ok = abs(bias) <= BIAS_TARGET + 1e-12
        oks.append(ok)
        lines.append(f"| bias (predicted - measured F1), Mainstream greedy, budget {blabel(b)} | "
                     f"{fmt_signed(bias)} over {n} apps | within ±{BIAS_TARGET:.2f} | {_verdict(ok)} |")
    gb = cal["greedy"]["bias"]
    lines.append(f"| bias, Mainstream greedy, all budgets | "
                 f"{fmt_signed(gb) + ' over ' + str(cal['greedy']['measured']) + ' ' + what if gb is not None else 'not measured'} | "
                 f"within ±{BIAS_TARGET:.2f} at every budget | {_verdict(all(oks) if oks else None)} |")
    for key, name in (("greedy", "Mainstream greedy"), ("all", "all algorithms")):
        c = cal[key]
        if c["with_pi"]:
            ok = c["coverage"] >= COVERAGE_TARGET - 1e-12 and c["width"] <= WIDTH_TARGET + 1e-12
            res = f"{_pct(c['covered'], c['with_pi'])}, mean width {c['width']:.3f}"
        else:
            ok, res = None, "no intervals"
        if c["excluded"]:
            res += f" ({c['excluded']} without an interval excluded)"
        lines.append(f"| measured F1 inside the 90% prediction interval, {name} | {res} | "
                     f">= {100 * COVERAGE_TARGET:.0f}% with mean width <= {WIDTH_TARGET:.1f} | {_verdict(ok)} |")
    for key, name in (("greedy", "Mainstream greedy"), ("all", "all algorithms")):
        c = cal[key]
        ok = c["within_frac"] >= WITHIN_TARGET - 1e-12 if c["measured"] else None
        res = _pct(c["within"], c["measured"]) if c["measured"] else "not measured"
        lines.append(f"| predicted F1 within {WITHIN} of measured, {name} | {res} | "
                     f">= {100 * WITHIN_TARGET:.0f}% | {_verdict(ok)} |")
    vs = [r for r in paired if r["kind"] == "vs_baseline"]
    if vs:
        compared = any(r["diff"] != "" for r in vs)
        worse = []  # "budget (baseline, ...)" where a baseline is better with the interval excluding 0
        for b in budgets:
            better = [label(r["other_algo"]) for r in vs if r["budget"] == b and r["diff"] != "" and r["hi95"] < 0]
            if better:
                worse.append(f"{blabel(b)} ({', '.join(better)})")
        lines.append("| a baseline measures better than Mainstream (paired 95% interval excludes 0) | "
                     f"{', '.join(worse) or 'at no budget'} | at no budget | "
                     f"{_verdict((not worse) if compared else None)} |")
        both = [a for a in BOTH_BASELINES if a in algos]
        wins = []
        for b in budgets:
            rs = [r for r in vs if r["budget"] == b and r["other_algo"] in both]
            if both and len(rs) == len(both) and all(r["diff"] != "" and r["lo95"] > 0 for r in rs):
                wins.append(b)
        lines.append(f"| Mainstream measures better than {' and '.join(label(a) for a in both) or 'the baselines'} "
                     f"(paired 95% interval excludes 0) | "
                     f"{len(wins)} budget(s){': ' + ', '.join(blabel(b) for b in wins) if wins else ''} | "
                     f">= {WINS_TARGET} budgets | {_verdict(len(wins) >= WINS_TARGET if compared and both else None)} |")
    steps = [r for r in paired if r["kind"] == "budget_step"]
    if steps:
        falls = [r for r in steps if r["diff"] != "" and r["hi95"] < 0]
        compared = any(r["diff"] != "" for r in steps)
        res = ", ".join(f"{blabel(r['other_budget'])} -> {blabel(r['budget'])} ({fmt_signed(r['diff'])})"
                        for r in falls) or "at no step"
        lines.append(f"| Mainstream's measured F1 falls as the budget grows (paired 95% interval excludes 0) | "
                     f"{res} | at no step | {_verdict((not falls) if compared else None)} |")
    lines.append("")
    excl = cal["all"]["excluded"]
    if excl:
        lines.append(f"{excl} measured {what} have no prediction interval (schedules without "
                     "f1_se / f1_event_sd, or no true events) and are left out of the coverage figures.")
        lines.append("")
    return lines


def paired_section(paired, budgets, algos, blabel, boot, unit="true events"):
    """Markdown tables of the paired differences."""
    lines = []
    if MAINSTREAM not in algos or not paired:
        return lines
    head = (f"## Paired differences of measured mean F1 (bootstrap over {unit}, the same resampled events "
            f"for every schedule; {boot.resamples if boot else 0} resamples, seed {boot.seed if boot else '-'}; "
            "95% percentile intervals; * = excludes 0; an infeasible schedule misses every event)")
    lines += [head, ""]
    bases = [a for a in BASELINES if a in algos]
    by = {(r["kind"], r["budget"], r["other_budget"], r["other_algo"]): r for r in paired}

    def cell(r):
        if r is None or r["diff"] == "":
            return "-"
        star = " *" if r["excludes_zero"] else ""
        return f"{fmt_signed(r['diff'])} [{fmt_signed(r['lo95'])}, {fmt_signed(r['hi95'])}]{star}"

    if bases:
        lines.append("| budget | " + " | ".join(f"greedy - {label(a)}" for a in bases) + " |")
        lines.append("|" + "---|" * (len(bases) + 1))
        for b in budgets:
            lines.append(f"| {blabel(b)} | " + " | ".join(cell(by.get(("vs_baseline", b, b, a))) for a in bases) + " |")
        lines.append("")
    steps = [r for r in paired if r["kind"] == "budget_step"]
    if steps:
        lines.append("| budget step (Mainstream greedy) | higher - lower budget |")
        lines.append("|---|---|")
        for r in steps:
            lines.append(f"| {blabel(r['other_budget'])} -> {blabel(r['budget'])} | {cell(r)} |")
        lines.append("")
    if any(r["diff"] == "" for r in paired):
        lines.append("- = a schedule without a measured run.")
        lines.append("")
    return lines


def fmt_pi(pi):
    return f"[{pi[0]:.2f}, {pi[1]:.2f}]" if pi else "-"


# --- CSV and plots ----------------------------------------------------------------


def csv_writer_fn(rows, cols):
    import csv

    def write(path):
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    return write


def text_writer_fn(text):
    def write(path):
        with open(path, "w") as f:
            f.write(text)
    return write


def matplotlib_pyplot(prog):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        print(f"{prog}: matplotlib not available; skipped the plots (apt-get install python3-matplotlib)",
              file=sys.stderr)
        return None


def budget_axis(budgets, absolutes):
    """x positions of the budgets: the absolute ms/s when every budget has one
    (numbers, or relative budgets whose schedules agree), else 0, 1, 2, ...
    Returns (xs, tick labels, absolute?)."""
    vals = [budget_value(b, absolutes.get(b)) for b in budgets]
    if all(v is not None for v in vals) and len(set(vals)) == len(vals):
        return vals, [budget_label(b, absolutes.get(b)) for b in budgets], True
    return list(range(len(budgets))), [budget_label(b, absolutes.get(b)) for b in budgets], False


def plot_f1_vs_budget(plt, path, budgets, absolutes, algos, measured, predicted, ylabel, title):
    """Measured (solid) and predicted (dashed) mean F1 per algorithm over
    budgets; measured/predicted map (budget, algo) to a number (missing: not
    drawn)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs, ticks, absolute = budget_axis(budgets, absolutes)
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    xo = [xs[i] for i in order]
    nan = float("nan")
    for a in algos:
        marker, width = {"greedy": ("o", 3.0), "exhaustive": ("x", 1.2)}.get(a, ("s", 1.5))
        line, = ax.plot(xo, [measured.get((budgets[i], a), nan) for i in order], marker=marker, lw=width,
                        label=label(a))
        ax.plot(xo, [predicted.get((budgets[i], a), nan) for i in order], "--", color=line.get_color(), alpha=0.6)
    if absolute and all(x > 0 for x in xs):
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(xs)
    ax.set_xticklabels(ticks, fontsize=8)
    ax.set_xlabel("budget (ms of compute per second of video)")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_calibration(plt, path, rows, algos, title):
    """Per app-schedule: x = predicted F1 with its 90% prediction interval
    (horizontal bar), y = measured F1 with its 95% bootstrap CI (vertical bar);
    Mainstream greedy highlighted; the diagonal."""
    fig, ax = plt.subplots(figsize=(5.6, 5.6))
    ax.plot([0, 1], [0, 1], "k-", lw=0.8, zorder=1)
    order = [a for a in algos if a != MAINSTREAM] + ([MAINSTREAM] if MAINSTREAM in algos else [])
    for a in order:
        pts = [r for r in rows if r["algo"] == a and r["f1"] != ""]
        if not pts:
            continue
        hi = a == MAINSTREAM
        x = np.array([r["pred_f1"] for r in pts])
        y = np.array([r["f1"] for r in pts])
        xlo = np.array([r["pred_f1"] - r["pi"][0] if r["pi"] else 0.0 for r in pts])
        xhi = np.array([r["pi"][1] - r["pred_f1"] if r["pi"] else 0.0 for r in pts])
        ylo = np.array([r["f1"] - r["f1_ci"][0] if r["f1_ci"] else 0.0 for r in pts])
        yhi = np.array([r["f1_ci"][1] - r["f1"] if r["f1_ci"] else 0.0 for r in pts])
        # A percentile interval need not contain its point estimate: no negative bars.
        xerr = [np.clip(xlo, 0, None), np.clip(xhi, 0, None)]
        yerr = [np.clip(ylo, 0, None), np.clip(yhi, 0, None)]
        kw = dict(fmt="o", ms=5 if hi else 3, elinewidth=1.0 if hi else 0.5, alpha=0.9 if hi else 0.35,
                  zorder=3 if hi else 2, label=label(a))
        if hi:
            kw.update(color="black", mfc="tab:red", mec="black", ecolor="tab:red")
        ax.errorbar(x, y, xerr=xerr, yerr=yerr, **kw)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_aspect("equal")
    ax.set_xlabel("predicted event F1 (bar: 90% prediction interval)")
    ax.set_ylabel("measured event F1 (bar: 95% bootstrap CI)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- all-or-nothing outputs --------------------------------------------------------

# Every file either report may write; a known output a run does not produce
# (a plot without matplotlib) is removed so that nothing stale stays beside
# fresh tables.
KNOWN_OUTPUTS = ("results.md", "apps.csv", "schedules.csv", "paired.csv", "f1_vs_budget.png",
                 "pred_vs_measured.png", "calibration.png")


def publish(out, writers, prog, known=KNOWN_OUTPUTS):
    """Writes every output into a temporary directory beside `out` (writers:
    name -> function(path)), then moves them into `out` together. Any failure
    while writing leaves `out` as it was and removes the temporary directory;
    leftover `<name>.tmp` files of earlier versions are removed on success, and
    so is any of the `known` outputs this run did not write (e.g. the plots
    without matplotlib), rather than leaving it stale beside the new tables."""
    out = os.path.abspath(out)
    parent = os.path.dirname(out)
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    except OSError as e:
        raise InputError(out, "", f"cannot write beside it: {e.strerror or e}")
    try:
        for name, write in writers.items():
            write(os.path.join(tmp, name))
        if os.path.exists(out) and not os.path.isdir(out):
            raise InputError(out, "", "exists and is not a directory")
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as e:
            raise InputError(out, "", f"cannot create: {e.strerror or e}")
        for name in writers:
            os.replace(os.path.join(tmp, name), os.path.join(out, name))
        for name in known:
            p = os.path.join(out, name)
            if name not in writers and os.path.exists(p):
                os.remove(p)
                print(f"{prog}: removed the stale {p}", file=sys.stderr)
            if os.path.exists(p + ".tmp"):
                os.remove(p + ".tmp")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
