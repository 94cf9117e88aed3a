#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoke tests of the trainers in training/ (seconds, tiny sizes, synthetic data).

    python3 tests/test_training.py BUILD/cli/impasto

For the fast-style, CycleGAN and pix2pix trainers: the losses fall, the exported ONNX runs in our
engine (`impasto stylize`) like ONNX Runtime (PSNR >= 50 dB), the sidecar has the shared keys,
--install copies the three files into PROFILE/impasto/models.  Also: resuming from a checkpoint
continues the step count and gives the same weights as an uninterrupted run, the feature
network loads a torchvision-layout VGG19 .pth (random weights), and every shipped style in
models/ has its sidecar and thumbnail, is at most 2 MB and runs in our engine like ORT.

Exit status: 0 all passed, 1 something failed, 77 skipped: needs PyTorch, onnx, onnxruntime,
numpy and Pillow (the Debian 13 root has them: scripts/in-trixie.sh) and, for the fast-style
trainer's teacher and feature net, ../shared/models-magenta.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SKIP = 77
try:
    import numpy as np
    import onnxruntime as ort
    import torch
    from PIL import Image
    import onnx  # noqa: F401  (the trainers export with it)
except ImportError as e:
    print(f"SKIP: the trainers need PyTorch, onnx, onnxruntime, numpy and Pillow ({e}); "
          "run this test in the Debian 13 root (scripts/in-trixie.sh)")
    sys.exit(SKIP)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, summary  # noqa: E402

SOURCE = os.environ.get("IMPASTO_SOURCE", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("IMPASTO_SHARED", os.path.join(SOURCE, "..", "shared"))
MAGENTA = os.path.join(SHARED, "models-magenta")
SIDECAR_KEYS = {"name", "description", "author", "license", "thumbnail", "family", "range",
                "multiple", "training"}


def run_trainer(module, args, tmp, want_stderr=False):
    env = dict(os.environ, PYTHONPATH=SOURCE, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", f"training.{module}", "--threads", "1",
                        "--log-every", "5"] + args, cwd=tmp, env=env, capture_output=True,
                       text=True, timeout=600)
    out = r.stdout + r.stderr
    if want_stderr:
        return r.returncode, r.stderr
    if r.returncode != 0:
        print(out[-3000:])
    return r.returncode, r.stdout


def losses(log):
    """{name: [values of each log line]} from the trainers' progress lines."""
    out = {}
    for line in log.splitlines():
        if line.startswith("step "):
            for k, v in re.findall(r" ([A-Za-z_][A-Za-z0-9_]*) (-?[0-9.]+)", line.split("|")[0]):
                out.setdefault(k, []).append(float(v))
    return out


def falls(log, name):
    v = losses(log).get(name, [])
    return len(v) >= 2 and v[-1] < v[0], f"{name} {v[0] if v else '-'} -> {v[-1] if v else '-'}"


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def engine_vs_ort(cli, model, lo, hi, h, w, tmp, tag):
    """Stylise a synthetic h x w picture with the CLI and with ORT (same pre/post-processing)."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w]
    pic = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx ^ yy) & 255], -1)
    pic = np.clip(pic + rng.integers(-20, 20, pic.shape), 0, 255).astype(np.uint8)
    src, dst = os.path.join(tmp, f"{tag}-in.png"), os.path.join(tmp, f"{tag}-out.png")
    Image.fromarray(pic).save(src)
    r = subprocess.run([cli, "stylize", model, src, dst, "--tile-size", "0", "-t", "1"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return False, f"impasto stylize failed: {r.stderr.strip()}"
    ours = np.asarray(Image.open(dst).convert("RGB"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    x = pic.astype(np.float32).transpose(2, 0, 1)[None] / 255.0 * (hi - lo) + lo
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0].transpose(1, 2, 0)
    ref = np.rint(np.clip((y - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)
    if ours.shape != ref.shape:
        return False, f"shape {ours.shape} vs ORT {ref.shape}"
    p = psnr(ours, ref)
    return p >= 50.0, f"PSNR {p:.1f} dB"


def check_export(cli, out, stem, family, rng, multiple, tmp, h, w, profile=None):
    model = os.path.join(out, stem + ".onnx")
    side_path = os.path.join(out, stem + ".json")
    if not check(f"{family}: exported {stem}.onnx, .json and .png",
                 all(os.path.exists(os.path.join(out, stem + e)) for e in (".onnx", ".json", ".png"))):
        return
    side = json.load(open(side_path))
    check(f"{family}: sidecar keys", SIDECAR_KEYS <= set(side) and side["family"] == family
          and side["range"] == rng and side["multiple"] == multiple
          and side["thumbnail"] == stem + ".png" and "command" in side["training"],
          json.dumps({k: side.get(k) for k in ("family", "range", "multiple", "thumbnail")}))
    thumb = Image.open(os.path.join(out, stem + ".png"))
    check(f"{family}: thumbnail is 128x128 RGB", thumb.size == (128, 128) and thumb.mode == "RGB",
          f"{thumb.size} {thumb.mode}")
    ok, detail = engine_vs_ort(cli, model, rng[0], rng[1], h, w, tmp, stem)
    check(f"{family}: our engine runs the export like ONNX Runtime", ok, detail)
    if profile:
        dest = os.path.join(profile, "impasto", "models")
        check(f"{family}: --install copies into PROFILE/impasto/models",
              all(os.path.exists(os.path.join(dest, stem + e)) for e in (".onnx", ".json", ".png")),
              dest)


def make_photos(folder, n, h, w, seed, swap=False, invert=False):
    """Synthetic 'photos': smooth gradients with a few bright discs; swap/invert make domain B."""
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        base = np.stack([(xx * rng.uniform(0.5, 1.5) + yy * rng.uniform(0, 1)) % 256,
                         (yy * rng.uniform(0.5, 1.5)) % 256,
                         np.full((h, w), rng.uniform(0, 255))], -1)
        for _ in range(3):
            cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, 12)
            base[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
        pic = base.astype(np.uint8)
        if swap:
            pic = pic[:, :, ::-1]
        Image.fromarray(pic).save(os.path.join(folder, f"{i:02d}.png"))
        if invert:
            Image.fromarray(255 - pic).save(os.path.join(folder + "-target", f"{i:02d}.png"))


def vgg19_random_pth(path):
    """A random VGG19 state dict in torchvision's key layout (features.N, classifier.N)."""
    convs = [(0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128), (10, 128, 256), (12, 256, 256),
             (14, 256, 256), (16, 256, 256), (19, 256, 512), (21, 512, 512), (23, 512, 512),
             (25, 512, 512), (28, 512, 512), (30, 512, 512), (32, 512, 512), (34, 512, 512)]
    g = torch.Generator().manual_seed(3)
    sd = {}
    for i, cin, cout in convs:
        sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        sd[f"features.{i}.bias"] = torch.zeros(cout)
    for i, cin, cout in ((0, 25088, 64), (3, 64, 64), (6, 64, 1000)):  # shrunk classifier
        sd[f"classifier.{i}.weight"] = torch.zeros(cout, cin)
        sd[f"classifier.{i}.bias"] = torch.zeros(cout)
    torch.save(sd, path)


def test_fast_style(cli, tmp):
    if not os.path.exists(os.path.join(MAGENTA, "magenta-style-predict.onnx")):
        print(f"SKIP: fast style: no teacher/feature net in {MAGENTA}")
        return False
    photos = os.path.join(tmp, "photos")
    make_photos(photos, 6, 48, 64, 1)
    painting = os.path.join(tmp, "painting.png")
    yy, xx = np.mgrid[0:96, 0:96]
    Image.fromarray(np.stack([(np.sin(xx / 3.0 + yy / 7.0) * 127 + 128),
                              (np.sin(yy / 2.0) * 60 + 80), 200 - xx], -1).astype(np.uint8)
                    ).save(painting)
    out, profile = os.path.join(tmp, "fast"), os.path.join(tmp, "profile")
    common = ["--style", painting, "--content", photos, "--holdout", "05", "--scales", "48",
              "--crop", "32", "--batch", "2", "--ngf", "4", "--blocks", "1", "--ndf", "8",
              "--lr", "5e-3", "--out", out, "--checkpoint-every", "10", "--seed", "5"]
    rc, log = run_trainer("fast_style", common + ["--steps", "40", "--name", "full",
                                                  "--install", profile], tmp)
    if not check("fast style: trainer runs", rc == 0):
        return True
    ok, detail = falls(log, "distill")
    check("fast style: the distillation loss falls", ok, detail)
    check("fast style: progress lines have an ETA", "ETA" in log)
    check_export(cli, out, "full", "fast", [0, 255], 4, tmp, 36, 52, profile)

    # Resume: stopped at step 20, the same command continues at 20 and ends where the
    # uninterrupted run did.
    rc1, _ = run_trainer("fast_style", common + ["--steps", "40", "--name", "resumed",
                                                 "--stop-at", "20"], tmp)
    rc2, log2 = run_trainer("fast_style", common + ["--steps", "40", "--name", "resumed"], tmp)
    steps = [int(s) for s in re.findall(r"^step (\d+)/", log2, re.M)]
    check("fast style: resume continues the step count", rc1 == 0 and rc2 == 0 and
          "at step 20" in log2 and steps and steps[0] == 25 and steps[-1] == 40, f"steps {steps}")
    a = torch.load(os.path.join(out, "full.ckpt"), weights_only=False)["modules"]["G"]
    b = torch.load(os.path.join(out, "resumed.ckpt"), weights_only=False)["modules"]["G"]
    diff = max(float((a[k] - b[k]).abs().max()) for k in a)
    check("fast style: resumed run = uninterrupted run (same seed)", diff < 1e-5, f"max |dw| {diff:.2g}")

    # The VGG19 path: a random torchvision-layout state dict.
    pth = os.path.join(tmp, "vgg19-random.pth")
    vgg19_random_pth(pth)
    rc, log = run_trainer("fast_style", common + ["--steps", "10", "--name", "vgg",
                                                  "--vgg19", pth], tmp)
    v = losses(log)
    check("fast style: trains with a VGG19 .pth (random weights)",
          rc == 0 and all(np.isfinite(v.get(k, [np.nan])).all() for k in ("feature", "style")),
          f"feature {v.get('feature')} style {v.get('style')}")
    side = json.load(open(os.path.join(out, "vgg.json"))) if rc == 0 else {}
    check("fast style: the sidecar names the VGG19 feature net",
          side.get("training", {}).get("feature_net") == "vgg19")
    rc, err = run_trainer("fast_style", common + ["--steps", "1", "--name", "bad",
                                                  "--vgg19", painting], tmp, want_stderr=True)
    check("fast style: a file that is not a VGG19 .pth is refused with a message",
          rc != 0 and "not a torchvision VGG19 state dict" in err and "Traceback" not in err,
          err.strip().splitlines()[-1] if err.strip() else "no message")
    return True


def test_cyclegan(cli, tmp):
    make_photos(os.path.join(tmp, "cg-a"), 6, 40, 40, 2)
    make_photos(os.path.join(tmp, "cg-b"), 6, 40, 40, 3, swap=True)
    out, profile = os.path.join(tmp, "cg"), os.path.join(tmp, "profile")
    rc, log = run_trainer("cyclegan", [
        "--a", os.path.join(tmp, "cg-a"), "--b", os.path.join(tmp, "cg-b"), "--ngf", "4",
        "--ndf", "8", "--blocks", "2", "--load-size", "40", "--crop", "32", "--steps", "60",
        "--lr", "2e-3", "--out", out, "--name", "cg", "--export-reverse", "--install", profile],
        tmp)
    if not check("cyclegan: trainer runs", rc == 0):
        return
    ok, detail = falls(log, "cycle")
    check("cyclegan: the cycle loss falls", ok, detail)
    check_export(cli, out, "cg", "cyclegan", [-1, 1], 4, tmp, 36, 44, profile)
    check("cyclegan: --export-reverse writes the B->A generator",
          os.path.exists(os.path.join(out, "cg-reverse.onnx")))


def test_pix2pix(cli, tmp):
    a = os.path.join(tmp, "p2p")
    os.makedirs(a + "-target", exist_ok=True)
    make_photos(a, 6, 64, 64, 4, invert=True)
    out = os.path.join(tmp, "p2p-out")
    rc, log = run_trainer("pix2pix", [
        "--a", a, "--b", a + "-target", "--ngf", "4", "--ndf", "8", "--downs", "5",
        "--load-size", "64", "--crop", "32", "--steps", "60", "--lr", "2e-3", "--out", out,
        "--name", "p2p"], tmp)
    if not check("pix2pix: trainer runs", rc == 0):
        return
    ok, detail = falls(log, "l1")
    check("pix2pix: the L1 loss falls", ok, detail)
    check_export(cli, out, "p2p", "pix2pix", [-1, 1], 32, tmp, 64, 96)


def test_shipped_models(cli, tmp):
    """models/: every shipped style has a full sidecar and thumbnail, is <= 2 MB and runs in our
    engine like ONNX Runtime."""
    folder = os.path.join(SOURCE, "models")
    stems = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".onnx"))
    check("models/: at least 8 shipped styles", len(stems) >= 8, ", ".join(stems))
    for stem in stems:
        size = os.path.getsize(os.path.join(folder, stem + ".onnx"))
        check(f"models/{stem}.onnx is at most 2 MB", size <= 2_000_000, f"{size} bytes")
        side = json.load(open(os.path.join(folder, stem + ".json")))
        src = side.get("source", {})
        check(f"models/{stem}.json: sidecar keys and the painting's source",
              SIDECAR_KEYS <= set(side) and side["family"] == "fast" and
              side["range"] == [0, 255] and side["multiple"] == 4 and
              {"title", "painter", "date", "url"} <= set(src) and
              os.path.exists(os.path.join(folder, side["thumbnail"])), side.get("name"))
        ok, detail = engine_vs_ort(cli, os.path.join(folder, stem + ".onnx"), 0, 255, 44, 60,
                                   tmp, "shipped-" + stem)
        check(f"models/{stem}.onnx: our engine runs it like ONNX Runtime", ok, detail)


def main():
    if len(sys.argv) != 2:
        print("usage: test_training.py BUILD/cli/impasto")
        return 1
    cli = os.path.abspath(sys.argv[1])
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        ran = test_fast_style(cli, tmp)
        test_cyclegan(cli, tmp)
        test_pix2pix(cli, tmp)
        test_shipped_models(cli, tmp)
    status = summary()
    if not ran and status == 0:
        print("SKIP: the fast-style trainer was not tested (no ../shared/models-magenta)")
        return SKIP
    return status


if __name__ == "__main__":
    sys.exit(main())
