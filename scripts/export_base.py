#!/usr/bin/python3
"""Export a torchvision architecture as a mainstream base directory.

A base is a directory with model.pt (TorchScript; its top-level children are
the stages, forward() chains them) and base.json (see docs/models.md). Stage
boundaries sit at the architecture's natural blocks (torchvision names such as
features.7 or layer3); each stage records the torchvision modules it covers.

  /usr/bin/python3 scripts/export_base.py --arch mobilenet_v2 -o bases/mobilenet_v2
  /usr/bin/python3 scripts/export_base.py --arch resnet50 --weights resnet50-0676ba61.pth -o bases/resnet50

Weights are random (seeded) unless --weights names a local state-dict file,
e.g. torchvision's ImageNet checkpoints downloaded elsewhere (the URLs are
printed by --list). Needs Debian's python3-torch and python3-torchvision.
"""
import argparse
import collections
import hashlib
import json
import os
import shutil
import sys
import tempfile

import torch
import torch.nn as nn
import torchvision

SCHEMA_VERSION = 1
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# torchvision builder, weights enum (for URLs and class names), input size,
# normalization (mean, std).
ARCHS = {
    "mobilenet_v2": ("mobilenet_v2", "MobileNet_V2_Weights", 224, IMAGENET_MEAN, IMAGENET_STD),
    "resnet18": ("resnet18", "ResNet18_Weights", 224, IMAGENET_MEAN, IMAGENET_STD),
    "resnet50": ("resnet50", "ResNet50_Weights", 224, IMAGENET_MEAN, IMAGENET_STD),
    # Built with transform_input=False; its ImageNet weights expect inputs
    # normalized with mean = std = 0.5, which is what transform_input does.
    "inception_v3": ("inception_v3", "Inception_V3_Weights", 299, [0.5] * 3, [0.5] * 3),
}


# MobileNetV2's features.N grouped by its inverted-residual settings (where
# the resolution or width changes): the default, coarser stages.
MOBILENET_V2_GROUPS = [(0, 1), (2, 3), (4, 6), (7, 10), (11, 13), (14, 16), (17, 18)]


def fail(message, code=2):
    """Exit like the C++ tools: 2 for bad input, 1 for a failure."""
    print("export_base: error: " + message, file=sys.stderr)
    sys.exit(code)


def stages_of(arch, m, granularity):
    """[(stage name, [(torchvision module name, module)])] in order.

    granularity "group": stages at the architecture's main block boundaries
    (MobileNetV2: its 7 inverted-residual settings; ResNet: layer1..layer4;
    Inception v3: each Mixed block). "block": one stage per torchvision block
    (MobileNetV2: every features.N; ResNet: every residual block).
    """
    def pick(*names):
        return [(n, m.get_submodule(n)) for n in names]

    if arch == "mobilenet_v2":
        head = [("avgpool", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten(1))] + pick("classifier")
        if granularity == "block":
            out = [("features_%d" % i, pick("features.%d" % i)) for i in range(len(m.features))]
        else:
            out = [("features_%d_%d" % (a, b), pick(*["features.%d" % i for i in range(a, b + 1)]))
                   for a, b in MOBILENET_V2_GROUPS]
        return out + [("head", head)]
    if arch in ("resnet18", "resnet50"):
        stem = pick("conv1", "bn1", "relu", "maxpool")
        if granularity == "block":
            layers = [("layer%d_%d" % (i, j), pick("layer%d.%d" % (i, j)))
                      for i in range(1, 5) for j in range(len(m.get_submodule("layer%d" % i)))]
        else:
            layers = [("layer%d" % i, pick("layer%d" % i)) for i in range(1, 5)]
        head = pick("avgpool") + [("flatten", nn.Flatten(1))] + pick("fc")
        return [("stem", stem)] + layers + [("head", head)]
    if arch == "inception_v3":
        stem = pick("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                    "Conv2d_4a_3x3", "maxpool2")
        mixed = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                 "Mixed_7a", "Mixed_7b", "Mixed_7c"]
        head = pick("avgpool", "dropout") + [("flatten", nn.Flatten(1))] + pick("fc")
        return [("stem", stem)] + [(n, pick(n)) for n in mixed] + [("head", head)]
    raise ValueError(arch)


def build(arch, weights_file, seed):
    fn, _, _, _, _ = ARCHS[arch]
    torch.manual_seed(seed)
    kwargs = {"weights": None}
    if arch == "inception_v3":
        kwargs.update(aux_logits=False, init_weights=True, transform_input=False)
    model = getattr(torchvision.models, fn)(**kwargs)
    if weights_file:
        try:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
        except Exception as e:  # a corrupt file, or a pickle of more than tensors
            first_line = (str(e).splitlines() or [""])[0]
            fail("%s: cannot load as a state dict (%s: %s)" % (weights_file, type(e).__name__, first_line))
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        if arch == "inception_v3":  # the checkpoint has the auxiliary classifier we dropped
            state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
        if not isinstance(state, dict):
            fail("%s: expected a state dict, got %s" % (weights_file, type(state).__name__))
        own = model.state_dict()
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        mismatched = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
        if missing or unexpected or mismatched:
            fail("%s: not a %s state dict: %d missing keys (e.g. %s), %d unexpected (e.g. %s), "
                 "%d with another shape (e.g. %s)" % (
                     weights_file, arch, len(missing), missing[:2], len(unexpected), unexpected[:2],
                     len(mismatched), mismatched[:2]))
        model.load_state_dict(state)
    return model.eval()


def class_names(arch):
    enum = getattr(torchvision.models, ARCHS[arch][1])
    return list(enum.IMAGENET1K_V1.meta["categories"])


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export(arch, out_dir, weights_file=None, seed=1, name=None, size=None, granularity="group"):
    model = build(arch, weights_file, seed)
    _, _, default_size, mean, std = ARCHS[arch]
    width, height = size or (default_size, default_size)
    stages = stages_of(arch, model, granularity)
    chain = nn.Sequential(collections.OrderedDict(
        (stage, nn.Sequential(collections.OrderedDict((n.replace(".", "_"), mod) for n, mod in parts)))
        for stage, parts in stages)).eval()

    x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        reference = model(x)
        scripted = torch.jit.script(chain)
        got = scripted(x)
        diff = (got - reference).abs().max().item()
        scale = max(1.0, reference.abs().max().item())
        if diff > 1e-4 * scale:
            fail("the chain differs from torchvision's %s by %g" % (arch, diff), code=1)
        shapes, y = [], x[:1]
        for child in scripted.children():
            y = child(y)
            shapes.append(list(y.shape[1:]))

    info = {
        "schema_version": SCHEMA_VERSION,
        "kind": "mainstream.base",
        "name": name or arch,
        "description": "torchvision %s, %s weights, %d stages (%s boundaries)" % (
            arch, "ImageNet" if weights_file else "random", len(stages), granularity),
        "model_file": "model.pt",
        "sha256": "",
        "input": {"width": width, "height": height, "channels": 3, "layout": "NCHW", "color": "rgb",
                  "mean": mean, "std": std, "interpolation": "pyramid"},
        "num_stages": len(stages),
        "stages": [{"name": stage, "covers": [n for n, _ in parts], "output_shape": shape}
                   for (stage, parts), shape in zip(stages, shapes)],
        "num_classes": shapes[-1][0],
        "class_names": class_names(arch) if weights_file else [],
        "source": {"tool": "scripts/export_base.py", "architecture": arch, "torchvision": torchvision.__version__,
                   "torch": torch.__version__, "seed": seed, "granularity": granularity,
                   "weights": os.path.basename(weights_file) if weights_file else "random",
                   "weights_sha256": sha256(weights_file) if weights_file else "",
                   "max_abs_diff_to_torchvision": diff},
    }
    # Write into a staging directory beside the target, then swap it in.
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=os.path.basename(out_dir) + ".tmp.", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private
    try:
        model_path = os.path.join(staging, "model.pt")
        scripted.save(model_path)
        info["sha256"] = sha256(model_path)
        with open(os.path.join(staging, "base.json"), "w") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
        if os.path.exists(out_dir):
            old = out_dir + ".old.%d" % os.getpid()
            os.rename(out_dir, old)
            os.rename(staging, out_dir)
            shutil.rmtree(old)
        else:
            os.rename(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", choices=sorted(ARCHS), help="torchvision architecture")
    p.add_argument("-o", "--output", help="base directory to write (replaced if it exists)")
    p.add_argument("--weights", help="local state-dict file (e.g. torchvision's ImageNet checkpoint)")
    p.add_argument("--seed", type=int, default=1, help="seed of the random initialization and checks")
    p.add_argument("--name", help="base name (default: the architecture)")
    p.add_argument("--size", help="input WxH (default: the architecture's, e.g. 224x224)")
    p.add_argument("--granularity", choices=["group", "block"], default="group",
                   help="stage boundaries: main block groups (default) or every torchvision block")
    p.add_argument("--list", action="store_true", help="list architectures and their ImageNet weight URLs")
    a = p.parse_args()
    if a.list:
        for arch, (_, enum, size, _, _) in sorted(ARCHS.items()):
            print("%-13s %dx%d  %s" % (arch, size, size, getattr(torchvision.models, enum).IMAGENET1K_V1.url))
        return 0
    if not a.arch or not a.output:
        p.error("--arch and -o/--output are required")
    if a.weights and not os.path.isfile(a.weights):
        p.error("--weights: %s: no such file" % a.weights)
    size = None
    if a.size:
        try:
            w, h = a.size.lower().split("x")
            size = (int(w), int(h))
        except ValueError:
            p.error("--size: expected WxH, got %r" % a.size)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    info = export(a.arch, a.output, a.weights, a.seed, a.name, size, a.granularity)
    print(a.output)
    print("export_base: %s: %d stages, %d classes, sha256 %s..." % (
        info["name"], info["num_stages"], info["num_classes"], info["sha256"][:12]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
