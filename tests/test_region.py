#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The preview path: `impasto stylize ... --region X,Y,W,H` against the same crop of the full run.

    python3 tests/test_region.py BUILD/cli/impasto

Issue 12's bound: a region equals the same region of the whole result within mean |diff| <= 2/255
and max |diff| <= 8/255.  Checked for every model in $IMPASTO_SHARED/models and the CycleGAN
architecture model (ConvTranspose, Tanh) on an odd-sized photo (regions inside, on every edge and
corner, one pixel), with strength and colour preservation, RGBA (alpha byte for byte) and a banded
full run (--tile-size: statistics from the float16 scratch files' sums).  The
control: the crop stylised on its own (the old preview, its own statistics) must break the bound,
so the comparison can tell.  Errors: regions outside the image, bad syntax, and a model whose op
mixes the whole image (GlobalAveragePool) are refused with one line naming the problem.

Exit status: 0 all passed, 1 something failed (or numpy, onnx and gdk-pixbuf bindings or the
shared models missing), 77 skipped (no shared models and IMPASTO_ALLOW_MISSING_DATA=1).
"""
import os
import subprocess
import sys
import tempfile

from tap import check, missing_data, missing_tool, summary  # noqa: E402
try:
    import numpy as np
    import onnx  # noqa: F401  (the GlobalAveragePool model)
    from pixbuf_io import load_image, save_image
except (ImportError, ValueError) as e:
    sys.exit(missing_tool(f"needs numpy, onnx and GdkPixbuf bindings ({e})"))

MEAN_MAX = 2.0  # of 255
MAX_MAX = 8
CLI = None


def run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


def stylize(model, src, dst, *opts):
    r = run("stylize", model, src, dst, "-t", "2", *opts)
    if r.returncode != 0:
        raise RuntimeError(f"impasto {' '.join(map(str, opts))}: {r.stderr.strip()}")
    return load_image(dst)


def diff(a, b):
    d = np.abs(a.astype(np.int32) - b.astype(np.int32))
    return d.mean(), int(d.max())


def within(name, full, region, box, detail=""):
    x, y, w, h = box
    want = full[y:y + h, x:x + w]
    if region.shape != want.shape:
        return check(name, False, f"shape {region.shape}, want {want.shape}")
    mean, mx = diff(want, region)
    return check(name, mean <= MEAN_MAX and mx <= MAX_MAX,
                 f"mean |diff| {mean:.3f}/255, max {mx}/255{detail}")


def region_arg(box):
    return ",".join(map(str, box))


def model_checks(model, photo, tmp):
    name = os.path.basename(model)
    h, w = load_image(photo).shape[:2]
    full = stylize(model, photo, f"{tmp}/full.png")
    boxes = [(301, 157, 200, 150), (0, 0, 120, h), (w - 81, h - 79, 81, 79), (w - 64, 0, 64, 64),
             (0, h - 33, w, 33), (403, 211, 1, 1), (0, 0, w, h)]
    for box in boxes:
        reg = stylize(model, photo, f"{tmp}/reg.png", "--region", region_arg(box))
        within(f"{name}: region {region_arg(box)}", full, reg, box)
    # the control: the crop on its own, normalised with its own statistics
    box = boxes[0]
    x, y, bw, bh = box
    save_image(load_image(photo)[y:y + bh, x:x + bw], f"{tmp}/crop.png")
    alone = stylize(model, f"{tmp}/crop.png", f"{tmp}/alone.png")
    mean, mx = diff(full[y:y + bh, x:x + bw], alone)
    check(f"{name}: control, the crop stylised alone breaks the bound", mean > MEAN_MAX or mx > MAX_MAX,
          f"mean |diff| {mean:.3f}/255, max {mx}/255")


def option_checks(model, photo, rgba, tmp):
    name = os.path.basename(model)
    box = (250, 100, 180, 140)
    for opts in (["-s", "0.4"], ["-p"], ["-s", "0.7", "-p"]):
        full = stylize(model, photo, f"{tmp}/full.png", *opts)
        reg = stylize(model, photo, f"{tmp}/reg.png", *opts, "--region", region_arg(box))
        within(f"{name} {' '.join(opts)}: region", full, reg, box)
    full = stylize(model, rgba, f"{tmp}/full.png")
    reg = stylize(model, rgba, f"{tmp}/reg.png", "--region", region_arg(box))
    within(f"{name} RGBA: region", full, reg, box)
    x, y, bw, bh = box
    check(f"{name} RGBA: region alpha byte for byte",
          reg.shape[2] == 4 and np.array_equal(reg[..., 3], load_image(rgba)[y:y + bh, x:x + bw, 3]))
    # the full run banded (float16 scratch files), the statistics from it exact
    full = stylize(model, photo, f"{tmp}/full.png", "--tile-size", "64")
    reg = stylize(model, photo, f"{tmp}/reg.png", "--region", region_arg(box), "--tile-size", "64")
    within(f"{name} banded: region", full, reg, box)


def pooling_model(path):
    """x + GlobalAveragePool(x): every output pixel depends on the whole image."""
    import onnx
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, None, None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, None, None])
    g = helper.make_graph([helper.make_node("GlobalAveragePool", ["x"], ["p"], name="pool"),
                           helper.make_node("Add", ["x", "p"], ["y"], name="mix")], "pool", [x], [y])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), path)


def error_checks(model, photo, tmp):
    h, w = load_image(photo).shape[:2]
    for arg, what in ((f"{w - 10},0,11,5", "not inside"), (f"0,{h},1,1", "not inside"),
                      ("1,2,3", "invalid --region"), ("0,0,0,4", "invalid --region"),
                      ("-1,0,4,4", "invalid --region")):
        out = f"{tmp}/err.png"
        r = run("stylize", model, photo, out, "--region", arg)
        lines = r.stderr.strip().splitlines()
        check(f"--region {arg} refused", r.returncode != 0 and len(lines) == 1
              and lines[0].startswith("impasto: ") and what in lines[0] and not os.path.exists(out),
              r.stderr.strip())
    pooling_model(f"{tmp}/pool.onnx")
    r = run("stylize", f"{tmp}/pool.onnx", photo, f"{tmp}/err.png", "--region", "8,8,16,16")
    check("a model that mixes the whole image is refused for a region",
          r.returncode != 0 and "node 'pool'" in r.stderr and "whole image" in r.stderr,
          r.stderr.strip())


def main():
    global CLI
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    CLI = sys.argv[1]
    shared = os.environ.get("IMPASTO_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    models_dir = os.path.join(shared, "models")
    kodak = os.path.join(shared, "models-src", "images-kodak", "kodim23.png")
    if not os.path.isdir(models_dir) or not os.path.exists(kodak):
        return missing_data(f"no shared models or Kodak photo under {shared}")
    models = sorted(os.path.join(models_dir, m) for m in os.listdir(models_dir) if m.endswith(".onnx"))
    gan = os.path.join(shared, "models-arch", "cyclegan-resnet9-ngf16-random.onnx")
    if os.path.exists(gan):
        models.append(gan)
    if os.environ.get("IMPASTO_SANITIZED"):
        # Under the sanitizers every model takes ~40 s; the release builds check them all.  One
        # fast net of each opset and the GAN keep every code path (the 9 and 13 graphs differ).
        models = [m for m in models if os.path.basename(m) in
                  ("candy-9.onnx", "mosaic-13-dynamic.onnx")] + models[-1:]
        print(f"# under -fsanitize={os.environ['IMPASTO_SANITIZED']}: {len(models)} models "
              "(all of them in the release builds)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        # odd-sized (neither side a multiple of the networks' 4): the right and bottom edges pad
        photo = f"{tmp}/photo.png"
        pixels = load_image(kodak)[:509, :731, :3]
        save_image(pixels, photo)
        alpha = np.fromfunction(lambda y, x: (x * 7 + y * 3) % 256, pixels.shape[:2]).astype(np.uint8)
        rgba = f"{tmp}/rgba.png"
        save_image(np.dstack([pixels, alpha]), rgba)
        for model in models:
            model_checks(model, photo, tmp)
        option_checks(models[0], photo, rgba, tmp)
        error_checks(models[0], photo, tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
