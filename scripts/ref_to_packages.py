#!/usr/bin/env python3
"""Turn the figures published with the Mainstream reference implementation
(../shared/data/mainstream-ref) into simulation-only M-Packages and a profile,
so the same files drive `msschedule schedule` and `msschedule simulate`.

Standard library only. Usage:
  scripts/ref_to_packages.py --ref ../shared/data/mainstream-ref --out work/ref
writes work/ref/profile.json and work/ref/packages/<app>/mpackage.json.

Mapping (see docs/formats.md): the 85 layers of MobileNets-224 are the base's
stages; a curve row's num_frozen is the candidate's branchpoint; accuracy is
used as the per-frame TPR and the second column (col2, which the reference code
uses as the per-frame false-positive probability) as the FPR; event length (ms)
becomes frames at the stream rate.
"""
import argparse
import csv
import hashlib
import json
import os
import sys


def fail(msg):
    print(f"ref_to_packages: error: {msg}", file=sys.stderr)
    sys.exit(2)


def read_csv(path, fields):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror})")
    for i, row in enumerate(rows, start=2):
        for k in fields:
            if k not in row or row[k] in (None, ""):
                fail(f"{path}: line {i}: missing column '{k}'")
    return rows


def num(path, line, key, text):
    try:
        return float(text)
    except ValueError:
        fail(f"{path}: line {line}: column '{key}': '{text}' is not a number")


def mobilenet_v1_memory():
    """Per-layer parameter and output-activation bytes (float32, one frame) of
    the 85 Keras layers of MobileNet v1 (alpha 1, 224x224) that the reference
    latencies list: conv1 + bn + relu, 13 depthwise-separable blocks of six
    layers (dw, bn, relu, pw, bn, relu), then pool, reshape, dropout and the
    1000-class 1x1 convolution. Returns (param_bytes, activation_bytes,
    input_bytes)."""
    params, acts = [], []

    def add(p, shape):
        params.append(4.0 * p)
        n = 1
        for d in shape:
            n *= d
        acts.append(4.0 * n)

    s = 112
    add(3 * 3 * 3 * 32, (s, s, 32))
    add(4 * 32, (s, s, 32))
    add(0, (s, s, 32))
    blocks = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)] + \
        [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    for cin, cout, stride in blocks:
        s //= stride
        add(9 * cin, (s, s, cin))
        add(4 * cin, (s, s, cin))
        add(0, (s, s, cin))
        add(cin * cout, (s, s, cout))
        add(4 * cout, (s, s, cout))
        add(0, (s, s, cout))
    add(0, (1024,))
    add(0, (1024,))
    add(0, (1024,))
    add(1024 * 1000 + 1000, (1000,))
    return params, acts, 4.0 * 224 * 224 * 3


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mainstream-ref"),
                    help="directory with layer_latencies_ms.csv, apps.csv, curves/")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--stream-fps", type=float, default=15.0,
                    help="stream rate of the reference experiments (default 15)")
    args = ap.parse_args()

    lat_path = os.path.join(args.ref, "layer_latencies_ms.csv")
    rows = read_csv(lat_path, ["layer", "latency_ms"])
    if not rows:
        fail(f"{lat_path}: no layers")
    lat = [num(lat_path, i + 2, "latency_ms", r["latency_ms"]) for i, r in enumerate(rows)]
    with open(lat_path, "rb") as f:
        base_hash = hashlib.sha256(f.read()).hexdigest()
    base = {"id": "mobilenets-224-ref", "sha256": base_hash, "num_stages": len(lat)}

    profile = {
        "schema_version": 1,
        "kind": "mainstream.profile",
        "base": base,
        "machine": {"description": "Intel NUC i7-6770HQ (the paper's edge node), figures from the reference code"},
        "threads": 1,
        "batch": 1,
        "input": "reference figures",
        "decode_ms": 0.0,
        "preprocess_ms": 0.0,
        "whole_model_p50_ms": sum(lat),
        "stages": [{"name": f"layer{i}", "p50_ms": t, "p95_ms": t} for i, t in enumerate(lat)],
        "extra": {"source": "mainstream-ref/layer_latencies_ms.csv"},
    }
    # Memory of each layer, from MobileNet v1's architecture (the reference
    # figures give latencies only), for `--memory-budget(s)`.
    params, acts, input_bytes = mobilenet_v1_memory()
    if len(params) == len(lat):
        for st, p, a in zip(profile["stages"], params, acts):
            st["param_bytes"] = p
            st["activation_bytes"] = a
        profile["input_bytes"] = input_bytes
        profile["extra"]["memory"] = "param_bytes/activation_bytes computed from MobileNet v1 (alpha 1, 224x224), float32"
    write_json(os.path.join(args.out, "profile.json"), profile)

    apps_path = os.path.join(args.ref, "apps.csv")
    apps = read_csv(apps_path, ["app", "curve", "event_length_ms", "event_frequency", "correlation"])
    for line, app in enumerate(apps, start=2):
        curve_path = os.path.join(args.ref, app["curve"])
        curve = read_csv(curve_path, ["num_frozen", "accuracy", "col2"])
        cands = []
        for cl, row in enumerate(curve, start=2):
            bp = int(num(curve_path, cl, "num_frozen", row["num_frozen"]))
            if not 0 <= bp < len(lat):
                fail(f"{curve_path}: line {cl}: num_frozen {bp} outside [0, {len(lat)})")
            acc = num(curve_path, cl, "accuracy", row["accuracy"])
            fpr = num(curve_path, cl, "col2", row["col2"])
            cands.append({"branchpoint": bp, "accuracy": acc, "tpr": acc, "fpr": fpr,
                          "threshold": 0.5, "weights": None, "train_seconds": 0})
        length = num(apps_path, line, "event_length_ms", app["event_length_ms"]) / 1000.0 * args.stream_fps
        pkg = {
            "schema_version": 1,
            "kind": "mainstream.mpackage",
            "app": app["app"],
            "base": base,
            "stream_fps": args.stream_fps,
            "events": {
                "mean_length_frames": length,
                "min_length_frames": length,
                "frequency": num(apps_path, line, "event_frequency", app["event_frequency"]),
                "correlation": num(apps_path, line, "correlation", app["correlation"]),
            },
            "head": {"kind": "simulation-only"},
            "candidates": cands,
            "log": [{"note": "converted from the reference figures; no weights (simulation only)"}],
        }
        write_json(os.path.join(args.out, "packages", app["app"], "mpackage.json"), pkg)
    print(os.path.join(args.out, "profile.json"))


if __name__ == "__main__":
    main()
