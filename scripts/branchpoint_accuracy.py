#!/usr/bin/python3
"""Out-of-fold accuracy vs branchpoint of M-Packages, side by side for several
bases: what sharing more of the base costs each app.

  scripts/branchpoint_accuracy.py --packages occupancy=work/pets-occ/packages fmnist=work/pets/packages [--md out.md]

Reads each package's trace.csv (every trained candidate, pruned ones too) and
manifest, and prints per app and branchpoint the out-of-fold balanced
accuracy (mean of TPR and 1 - FPR at the candidate threshold), TPR, FPR, and
whether the candidate was kept (k), pruned (p) or flagged no better than
chance (!), plus the number of kept candidates per package.
"""
import argparse
import csv
import json
import os
import sys


def fail(msg):
    print(f"branchpoint_accuracy: {msg}", file=sys.stderr)
    sys.exit(2)


def load_package(pkg_dir):
    manifest = os.path.join(pkg_dir, "mpackage.json")
    try:
        with open(manifest) as f:
            m = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"{manifest}: {e}")
    trace = m.get("trace")
    if not isinstance(trace, dict) or "file" not in trace:
        fail(f"{manifest}: $.trace: no score trace (train with mstrain --folds >= 2)")
    path = os.path.join(pkg_dir, trace["file"])
    try:
        with open(path) as f:
            rows = list(csv.reader(f))
    except OSError as e:
        fail(f"{path}: {e}")
    if not rows or rows[0][:3] != ["frame", "label", "fold"]:
        fail(f"{path}:1: expected the header frame,label,fold,bp<b>,...")
    bps = [int(c[2:]) for c in rows[0][3:]]
    labels = [int(r[1]) for r in rows[1:]]
    threshold = {c["branchpoint"]: c.get("threshold", 0.5) for c in m["candidates"]}
    kept = set(threshold)
    no_skill = {c["branchpoint"] for c in m["candidates"] if c.get("no_skill")}
    for e in m.get("log", []):
        if e.get("event") == "no_skill":
            no_skill.add(e["branchpoint"])
    out = {}
    for j, b in enumerate(bps):
        thr = threshold.get(b, 0.5)
        pos = [float(r[3 + j]) >= thr for r in rows[1:]]
        tp = sum(1 for p, l in zip(pos, labels) if p and l)
        fp = sum(1 for p, l in zip(pos, labels) if p and not l)
        npos = sum(labels)
        nneg = len(labels) - npos
        tpr = tp / npos if npos else 0.0
        fpr = fp / nneg if nneg else 0.0
        out[b] = {"balanced": 0.5 * (tpr + 1 - fpr), "tpr": tpr, "fpr": fpr,
                  "state": "!" if b in no_skill else ("k" if b in kept else "p")}
    return m["app"], out, len(m["candidates"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packages", nargs="+", required=True, help="NAME=DIR with one package per app")
    ap.add_argument("--md", help="also write the table as Markdown")
    args = ap.parse_args()
    bases = []
    for spec in args.packages:
        if "=" not in spec:
            fail(f"--packages: '{spec}' is not NAME=DIR")
        name, d = spec.split("=", 1)
        if not os.path.isdir(d):
            fail(f"--packages: {d} is not a directory")
        apps = {}
        for e in sorted(os.listdir(d)):
            if e.startswith(".") or not os.path.isfile(os.path.join(d, e, "mpackage.json")):
                continue
            app, per_bp, kept = load_package(os.path.join(d, e))
            apps[app] = (per_bp, kept)
        bases.append((name, apps))
    all_bps = sorted({b for _, apps in bases for per_bp, _ in apps.values() for b in per_bp})
    lines = ["| base | app | " + " | ".join(f"bp{b}" for b in all_bps) + " | kept |",
             "|---|---|" + "---|" * (len(all_bps) + 1)]
    for name, apps in bases:
        total = 0
        for app, (per_bp, kept) in apps.items():
            total += kept
            cells = []
            for b in all_bps:
                e = per_bp.get(b)
                cells.append("" if e is None else f"{e['balanced']:.2f} {e['state']}")
            lines.append(f"| {name} | {app} | " + " | ".join(cells) + f" | {kept} |")
        if apps:
            lines.append(f"| {name} | mean kept | " + " | " * len(all_bps) + f"{total / len(apps):.2f} |")
    text = "\n".join(lines) + "\n"
    text += ("\nOut-of-fold balanced accuracy (mean of TPR and 1 - FPR) per branchpoint; k kept, p pruned "
             "(dominated on predicted F1), ! no better than chance.\n")
    print(text)
    if args.md:
        tmp = args.md + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.md)


if __name__ == "__main__":
    main()
