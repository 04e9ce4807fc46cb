#!/usr/bin/python3
"""The Python side of bench_model: how fast Debian's python3-torch runs a base.

Loads <base>/model.pt, and times per-frame latency of
  plain:      torch.jit.load(...).eval()
  optimized:  torch.jit.optimize_for_inference(torch.jit.freeze(module))
(the fastest stock way PyTorch runs a TorchScript model on CPU), with the same
threads and batch as the C++ side. Prints one JSON object on stdout.

  /usr/bin/python3 scripts/bench_python.py --base bases/mobilenet_v2 --threads 1 --repeats 30
"""
import argparse
import json
import os
import sys
import time
import warnings

import torch


def time_calls(fn, x, warmup, repeats):
    for _ in range(warmup):
        fn(x)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(x)
        samples.append((time.perf_counter() - t0) * 1e3)
    samples.sort()
    def pct(q):
        pos = q * (len(samples) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(samples) - 1)
        return samples[lo] + (pos - lo) * (samples[hi] - samples[lo])
    return {"p50_ms": pct(0.5), "p95_ms": pct(0.95), "min_ms": samples[0],
            "mean_ms": sum(samples) / len(samples), "samples": len(samples)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="base directory (model.pt + base.json)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--plain-repeats", type=int, default=5, help="timed calls of the (slow) plain module; 0: skip")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(a.threads)
    with open(os.path.join(a.base, "base.json")) as f:
        info = json.load(f)
    inp = info["input"]
    x = torch.randn(a.batch, inp["channels"], inp["height"], inp["width"],
                    generator=torch.Generator().manual_seed(a.seed))
    module = torch.jit.load(os.path.join(a.base, info.get("model_file", "model.pt"))).eval()
    out = {"base": a.base, "threads": torch.get_num_threads(), "batch": a.batch, "torch": torch.__version__}
    with torch.no_grad():
        reference = module(x)
        if a.plain_repeats > 0:
            plain = time_calls(module, x, min(a.warmup, 2), a.plain_repeats)
            out["plain"] = {k: (v / a.batch if k.endswith("_ms") else v) for k, v in plain.items()}
        optimized = torch.jit.optimize_for_inference(torch.jit.freeze(module))
        got = optimized(x)
        out["optimized_max_abs_diff"] = (got - reference).abs().max().item()
        out["reference_max_abs"] = reference.abs().max().item()
        opt = time_calls(optimized, x, a.warmup, a.repeats)
        out["optimized"] = {k: (v / a.batch if k.endswith("_ms") else v) for k, v in opt.items()}
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
