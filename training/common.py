# SPDX-License-Identifier: GPL-3.0-or-later
"""What every trainer shares: options, seeding, images, resumable checkpoints, progress with ETA,
the non-finite-gradient guard, ONNX export, sidecar JSON, thumbnail and installation."""
import argparse
import json
import math
import os
import random
import shutil
import sys
import time

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
SHARED = os.path.abspath(os.environ.get("IMPASTO_SHARED", os.path.join(SOURCE, "..", "shared")))
IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
# Ops the engine runs (engine/prepare.c) plus what it folds away; an export using others fails.
ENGINE_OPS = {"Conv", "ConvTranspose", "Pad", "InstanceNormalization", "BatchNormalization", "Relu",
              "LeakyRelu", "Sigmoid", "Tanh", "Add", "Sub", "Mul", "Div", "Upsample", "Resize",
              "Concat", "Constant", "ConstantOfShape", "Reshape", "Slice", "Transpose", "Cast",
              "Shape", "Gather", "Unsqueeze", "Squeeze", "Identity"}


def base_parser(description, default_out):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=default_out, help="output folder (default %(default)s)")
    p.add_argument("--name", help="file stem of the exported model (default: from the input)")
    p.add_argument("--title", help="display name in the sidecar (default: from the input)")
    p.add_argument("--description", default=None)
    p.add_argument("--author", default="Impasto contributors")
    p.add_argument("--license", default="GPL-3.0-or-later")
    p.add_argument("--source-json", help="JSON object for the sidecar's `source` key "
                   "(title, painter, date, url)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=0,
                   help="also stop after this much training time (0: no limit); the lr schedule "
                        "follows whichever of steps and time runs out first")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", help="checkpoint file (default OUT/NAME.ckpt); resumed if present")
    p.add_argument("--checkpoint-every", type=int, default=100)
    p.add_argument("--stop-at", type=int, default=0,
                   help="stop (checkpoint and export) at this step, as if interrupted; the same "
                        "command without it resumes")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--install", metavar="PROFILE_DIR",
                   help="copy the result into PROFILE_DIR/impasto/models (a GIMP profile, e.g. "
                        "~/.config/GIMP/3.0)")
    return p


def setup(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    os.makedirs(args.out, exist_ok=True)


def list_images(*folders, exclude=()):
    out = []
    for d in folders:
        if os.path.isfile(d):
            out.append(d)
            continue
        for f in sorted(os.listdir(d)):
            if f.lower().endswith(IMAGE_EXT) and os.path.splitext(f)[0] not in exclude:
                out.append(os.path.join(d, f))
    if not out:
        raise SystemExit(f"no images in {', '.join(folders)}")
    return out


def load_rgb(path, short=None):
    """float32 [3, H, W] in [0, 1]; short: resize (bicubic, antialiased) so min(H, W) == short."""
    im = Image.open(path).convert("RGB")
    if short:
        w, h = im.size
        s = short / min(w, h)
        im = im.resize((max(short, round(w * s)), max(short, round(h * s))), Image.BICUBIC)
    return torch.from_numpy(np.asarray(im, np.float32) / 255.0).permute(2, 0, 1).contiguous()


def to_uint8(t):
    """[3, H, W] in [0, 1] -> H x W x 3 uint8."""
    return (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def save_png(t, path):
    Image.fromarray(to_uint8(t)).save(path)


def centre_crop(t, size):
    _, h, w = t.shape
    y, x = (h - size) // 2, (w - size) // 2
    return t[:, y:y + size, x:x + size]


def grads_finite(*modules):
    for m in modules:
        for p in m.parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                return False
    return True


class Progress:
    """Step counter, elapsed time (including earlier runs when resumed), ETA, log lines."""

    def __init__(self, args, step=0, elapsed=0.0, skipped=0):
        self.args, self.step, self.skipped = args, step, skipped
        self.before, self.t0 = elapsed, time.monotonic()
        self.sums, self.count = {}, 0

    def elapsed(self):
        return self.before + time.monotonic() - self.t0

    def fraction(self):
        f = self.step / self.args.steps
        if self.args.minutes > 0:
            f = max(f, self.elapsed() / (60 * self.args.minutes))
        return min(f, 1.0)

    def done(self):
        if self.args.stop_at and self.step >= self.args.stop_at:
            return True
        return self.fraction() >= 1.0

    def add(self, losses):
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.count += 1

    def log(self, force=False):
        if not self.count or (self.step % self.args.log_every and not force):
            return None
        mean = {k: v / self.count for k, v in self.sums.items()}
        el = self.elapsed()
        f = self.fraction()
        eta = el * (1 - f) / f if f > 0 else float("nan")
        parts = " ".join(f"{k} {v:.4f}" for k, v in mean.items())
        print(f"step {self.step}/{self.args.steps} {parts} | skipped {self.skipped} | "
              f"{el / 60:.1f} min, ETA {eta / 60:.1f} min", flush=True)
        self.sums, self.count = {}, 0
        return mean


def lr_factor(fraction):
    """Constant, then a cosine decay to 5 % over the last half (progress by steps or by time)."""
    if fraction < 0.5:
        return 1.0
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (fraction - 0.5) / 0.5))


def save_checkpoint(path, progress, modules, optims, extra=None):
    state = {"step": progress.step, "elapsed": progress.elapsed(), "skipped": progress.skipped,
             "modules": {k: m.state_dict() for k, m in modules.items()},
             "optims": {k: o.state_dict() for k, o in optims.items()},
             "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                     "numpy": np.random.get_state()},
             "extra": extra or {}}
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, modules, optims):
    """Restore modules, optimisers and RNGs; returns (step, elapsed, skipped, extra)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    for k, m in modules.items():
        m.load_state_dict(state["modules"][k])
    for k, o in optims.items():
        o.load_state_dict(state["optims"][k])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    np.random.set_state(state["rng"]["numpy"])
    print(f"resumed {path} at step {state['step']}", flush=True)
    return state["step"], state["elapsed"], state["skipped"], state["extra"]


def export_onnx(net, path, sample):
    """Opset 13, dynamic H/W, constants folded; refuses ops the engine does not run."""
    import onnx
    net = net.eval()
    torch.onnx.export(net, sample, path, input_names=["input"], output_names=["output"],
                      opset_version=13, do_constant_folding=True, dynamo=False,
                      dynamic_axes={"input": {2: "height", 3: "width"},
                                    "output": {2: "height", 3: "width"}})
    model = onnx.load(path)
    onnx.checker.check_model(model)
    bad = sorted({n.op_type for n in model.graph.node} - ENGINE_OPS)
    if bad:
        raise RuntimeError(f"{path}: the export uses ops the engine lacks: {', '.join(bad)}")
    return path


def thumbnail(img_u8, path, size=128):
    """Centre square of an H x W x 3 uint8 picture, size x size PNG."""
    im = Image.fromarray(img_u8)
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    im.resize((size, size), Image.LANCZOS).save(path, optimize=True)


# Set by a driver (training/shipped.py) to record its own command instead of the trainer's.
COMMAND = None


def command_line():
    if COMMAND:
        return COMMAND
    cmd = "python3 -m training." + os.path.basename(sys.argv[0]).removesuffix(".py") + " " + \
        " ".join(_quote(a) for a in sys.argv[1:])
    return cmd.replace(os.path.abspath(SHARED), "../shared")


def _quote(a):
    import shlex
    return shlex.quote(a)


def write_sidecar(args, stem, family, rng, multiple, seconds, steps, extra=None):
    side = {
        "name": args.title or stem.replace("-", " ").replace("_", " ").title(),
        "description": args.description or "",
        "author": args.author,
        "license": args.license,
        "thumbnail": stem + ".png",
        "family": family,
        "range": rng,
        "multiple": multiple,
        "training": {"command": command_line(), "minutes": round(seconds / 60, 1), "steps": steps,
                     "threads": args.threads, "seed": args.seed},
    }
    if args.source_json:
        side["source"] = json.loads(args.source_json)
    if extra:
        side.update(extra)
    path = os.path.join(args.out, stem + ".json")
    with open(path, "w") as f:
        json.dump(side, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return path


def install(args, stem):
    if not args.install:
        return None
    dest = os.path.join(os.path.expanduser(args.install), "impasto", "models")
    os.makedirs(dest, exist_ok=True)
    for ext in (".onnx", ".json", ".png"):
        shutil.copy2(os.path.join(args.out, stem + ext), dest)
    print(f"installed {stem} into {dest}", flush=True)
    return dest
