#!/usr/bin/python3
"""Timeline of an msrun output directory, like the Mainstream paper's Fig. 10:
one row per app over the frames run, with its true events (shaded), every
sampled frame (a tick: hit, miss, false alarm or true negative when labels
are known, positive/negative otherwise) and the events it reported (bars).

Usage:
  /usr/bin/python3 scripts/plot_timeline.py RUN_DIR [-o timeline.png]
      [--labels app=labels.csv ...] [--apps a,b] [--frames A:B]

Reads RUN_DIR/summary.json, RUN_DIR/<app>.events.jsonl and, when msrun ran
with --frames, RUN_DIR/<app>.frames.csv. Label files default to those in
summary.json's config (paths as given to msrun, tried as they are and
relative to RUN_DIR's parent).
"""
import argparse
import csv
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

COLORS = {
    "hit": "#2ca02c",  # positive sample inside a true event
    "miss": "#d62728",  # negative sample inside a true event
    "false": "#ff7f0e",  # positive sample outside events
    "neg": "#c7c7c7",  # negative sample outside events
    "pos": "#222222",  # positive sample (no labels)
    "event": "#1f77b4",  # reported event
    "truth": "#98df8a",  # true event
}


def read_labels(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [int(r["label"]) for r in rows]  # index k is frame k + 1


def read_events(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{n}: not JSON: {e}")
    return out


def read_frames(path):
    if not path or not os.path.exists(path):
        return None
    with open(path, newline="") as f:
        return [(int(r["frame"]), float(r["score"]), int(r["positive"])) for r in csv.DictReader(f)]


def true_events(labels, lo, hi):
    events, start = [], None
    for frame in range(lo, hi + 1):
        on = frame <= len(labels) and labels[frame - 1] == 1
        if on and start is None:
            start = frame
        if not on and start is not None:
            events.append((start, frame - 1))
            start = None
    if start is not None:
        events.append((start, hi))
    return events


def find(path, run_dir):
    for p in (path, os.path.join(os.path.dirname(os.path.abspath(run_dir)), path)):
        if os.path.exists(p):
            return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir")
    ap.add_argument("-o", "--output", help="PNG to write (default RUN_DIR/timeline.png)")
    ap.add_argument("--labels", nargs="*", default=[], help="app=labels.csv (overrides the summary's)")
    ap.add_argument("--apps", help="comma-separated apps to plot (default all)")
    ap.add_argument("--frames", help="A:B, the frames to show (default: the frames run)")
    args = ap.parse_args()

    summary_path = os.path.join(args.run_dir, "summary.json")
    if not os.path.exists(summary_path):
        sys.exit(f"{summary_path}: missing (is {args.run_dir} an msrun --out directory?)")
    with open(summary_path) as f:
        s = json.load(f)
    lo, hi = s["input"]["first_frame"], s["input"]["last_frame"]
    if args.frames:
        a, b = args.frames.split(":")
        lo, hi = int(a), int(b)
    if hi < lo:
        sys.exit(f"{summary_path}: no frames were run")

    label_files = dict(s["config"].get("labels", {}))
    for item in args.labels:
        if "=" not in item:
            sys.exit(f"--labels: expected app=labels.csv, got {item!r}")
        app, path = item.split("=", 1)
        label_files[app] = path
    apps = s["apps"]
    if args.apps:
        wanted = args.apps.split(",")
        apps = [a for a in apps if a["app"] in wanted]

    height = 1.2 + 0.85 * len(apps)
    fig, axes = plt.subplots(len(apps), 1, figsize=(12, height), sharex=True, squeeze=False)
    any_frames = False
    for ax, app in zip(axes[:, 0], apps):
        name = app["app"]
        labels = None
        if name in label_files:
            path = find(label_files[name], args.run_dir)
            if path is None:
                print(f"warning: labels {label_files[name]} for {name} not found; plotting without", file=sys.stderr)
            else:
                labels = read_labels(path)
        if labels is not None:
            for a, b in true_events(labels, lo, hi):
                ax.axvspan(a - 0.5, b + 0.5, ymin=0.45, ymax=1.0, color=COLORS["truth"], alpha=0.6, lw=0)
        frames = read_frames(os.path.join(args.run_dir, f"{name}.frames.csv"))
        if frames:
            any_frames = True
            xs = {k: [] for k in COLORS}
            for frame, _score, pos in frames:
                if frame < lo or frame > hi:
                    continue
                if labels is None:
                    kind = "pos" if pos else "neg"
                else:
                    inside = frame <= len(labels) and labels[frame - 1] == 1
                    kind = ("hit" if pos else "miss") if inside else ("false" if pos else "neg")
                xs[kind].append(frame)
            for kind, frames_k in xs.items():
                if frames_k:
                    ax.vlines(frames_k, 0.5, 0.95, color=COLORS[kind], lw=1.0)
        for e in read_events(os.path.join(args.run_dir, f"{name}.events.jsonl")):
            a, b = e["start_frame"], e["end_frame"]
            if b < lo or a > hi:
                continue
            ax.add_patch(plt.Rectangle((a - 0.5, 0.08), b - a + 1, 0.3, color=COLORS["event"],
                                       alpha=0.5 if e.get("cut") else 0.9, lw=0))
            ax.plot([e["reported_frame"]], [0.23], marker="|", color="black", ms=8)
        title = f"{name}  bp {app['branchpoint']}, {app['fps']:g} fps, X={app['x_vote']}"
        ev = app.get("evaluation")
        if ev:
            m = ev["measured"]
            title += f"  F1 {m['f1']:.2f} (pred {ev['predicted']['f1']:.2f}, {m['true_events']} events)"
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        ax.set_yticks([])
        ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=8, loc="left", pad=2)
    axes[-1, 0].set_xlim(lo - 0.5, hi + 0.5)
    axes[-1, 0].set_xlabel("frame (1-based, as in label files)")
    handles = [Patch(color=COLORS["truth"], label="true event"), Patch(color=COLORS["event"], label="reported event"),
               Line2D([], [], color="black", marker="|", ls="", label="reported at (X-th positive)")]
    if any_frames:
        handles += [Line2D([], [], color=COLORS[k], label=t) for k, t in
                    (("hit", "sample: hit"), ("miss", "sample: miss"), ("false", "sample: false alarm"),
                     ("neg", "sample: negative"), ("pos", "sample: positive (no labels)"))]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.22 / height), ncol=5, fontsize=7,
               frameon=False)
    sched = s["schedule"]
    fig.suptitle(f"{os.path.basename(sched['file'])}: {sched['algorithm']}, budget {sched['budget']:g} ms/s; "
                 f"frames {lo}..{hi}, seed {s['sampling']['seed']}", fontsize=9, y=1 - 0.05 / height, va="top")
    fig.subplots_adjust(left=0.07, right=0.99, top=1 - 0.75 / height, bottom=0.5 / height, hspace=0.55)
    out = args.output or os.path.join(args.run_dir, "timeline.png")
    fig.savefig(out, dpi=130)
    print(out)


if __name__ == "__main__":
    main()
