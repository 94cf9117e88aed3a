# SPDX-License-Identifier: GPL-3.0-or-later
"""Quality of trained fast styles on held-out photos, and the gallery picture.

    scripts/in-trixie.sh python3 -m training.evaluate [--models models] [--gallery docs/styles.jpg]

For every NAME.onnx with a sidecar of family "fast" and a `source` painting: run it (ONNX Runtime)
and the Magenta teacher for the same painting on each held-out photo at its own size, and report
PSNR and SSIM (Wang et al. 2004: Gaussian window 11, sigma 1.5, on 0-255 RGB, channel mean) of
the student against the teacher.  Prints a Markdown table; --gallery writes one held-out photo
stylised by every style (no original photo in it: the repository carries no third-party pixels)."""
import argparse
import glob
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from . import common
from .fast_style import HOLDOUT
from .teacher import Teacher


def ssim(a, b):
    """a, b: H x W x 3 uint8."""
    x = torch.from_numpy(a).double().permute(2, 0, 1)[:, None]
    y = torch.from_numpy(b).double().permute(2, 0, 1)[:, None]
    g = torch.exp(-(torch.arange(11, dtype=torch.float64) - 5) ** 2 / (2 * 1.5 ** 2))
    g = (g / g.sum())
    win = (g[:, None] * g[None, :])[None, None]
    f = lambda t: F.conv2d(t, win)  # noqa: E731  (valid window, as Wang et al.)
    mx, my = f(x), f(y)
    sxx, syy, sxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return float(m.mean())


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def session(path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def stylise(sess, photo):
    """[3, H, W] in [0, 1] (H, W multiples of 4) -> H x W x 3 uint8 (the engine's fast family)."""
    y = sess.run(None, {"input": (photo[None] * 255).numpy()})[0][0]
    return np.rint(np.clip(y, 0, 255)).astype(np.uint8).transpose(1, 2, 0)


def fit4(t):
    _, h, w = t.shape
    return t[:, :h - h % 4, :w - w % 4]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=os.path.join(common.SOURCE, "models"))
    ap.add_argument("--photos", nargs="+", default=[
        os.path.join(common.SHARED, "models-src", "images-kodak", "kodim23.png"),
        os.path.join(common.SHARED, "models-src", "images-kodak", "kodim15.png"),
        os.path.join(common.SHARED, "models-src", "images-content", "chelsea.png"),
        os.path.join(common.SHARED, "models-src", "images-content", "astronaut.png")])
    ap.add_argument("--gallery", help="write the gallery JPEG here")
    ap.add_argument("--gallery-photo", type=int, default=2,
                    help="index into --photos (default: chelsea, CC0)")
    ap.add_argument("--gallery-short", type=int, default=256)
    ap.add_argument("--columns", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", help="folder keeping each style's numbers and gallery tile; a style "
                    "whose .onnx is older than its cached result is not run again")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    held = {os.path.splitext(os.path.basename(p))[0] for p in a.photos}
    if not held <= set(HOLDOUT):
        print(f"note: {sorted(held - set(HOLDOUT))} are not among the default held-out photos")
    photos = [(os.path.splitext(os.path.basename(p))[0], fit4(common.load_rgb(p))) for p in a.photos]
    styles = []
    from .shipped import STYLES
    order = {st[0]: i for i, st in enumerate(STYLES)}
    sides = sorted(glob.glob(os.path.join(a.models, "*.json")),
                   key=lambda p: (order.get(os.path.basename(p)[:-5], len(order)), p))
    for side_path in sides:
        side = json.load(open(side_path))
        stem = os.path.splitext(os.path.basename(side_path))[0]
        if side.get("family") == "fast" and "source" in side:
            styles.append((stem, side))
    painting_dir = os.path.join(common.SHARED, "models-src", "images-style")
    rows, tiles = [], []
    for stem, side in styles:
        model = os.path.join(a.models, stem + ".onnx")
        cached = os.path.join(a.cache, stem + ".json") if a.cache else None
        if cached and os.path.exists(cached) and \
                os.path.getmtime(cached) > os.path.getmtime(model):
            c = json.load(open(cached))
            if c["photos"] == [n for n, _ in photos] and c["gallery_photo"] == a.gallery_photo:
                rows.append((side["name"], c["psnr"], c["ssim"]))
                if a.gallery:
                    tiles.append((side["name"], np.asarray(Image.open(cached[:-5] + ".png"))))
                continue
        sess = session(model)
        painting = os.path.join(painting_dir, os.path.basename(side["source"]["url"]))
        teacher = Teacher(painting, threads=a.threads)
        ps, ss = [], []
        for name, photo in photos:
            ours = stylise(sess, photo)
            ref = (teacher(photo[None])[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255)
            ref = np.rint(ref).astype(np.uint8)
            ps.append(psnr(ours, ref))
            ss.append(ssim(ours, ref))
        rows.append((side["name"], ps, ss))
        print(f"{side['name']}: PSNR " + " ".join(f"{p:.1f}" for p in ps) +
              " | SSIM " + " ".join(f"{s:.3f}" for s in ss), flush=True)
        tile = stylise(sess, fit4(common.load_rgb(a.photos[a.gallery_photo], a.gallery_short)))
        tiles.append((side["name"], tile))
        if cached:
            os.makedirs(a.cache, exist_ok=True)
            Image.fromarray(tile).save(cached[:-5] + ".png")
            with open(cached, "w") as f:
                json.dump({"photos": [n for n, _ in photos], "gallery_photo": a.gallery_photo,
                           "psnr": ps, "ssim": ss}, f)
    names = [n for n, _ in photos]
    print("\n| style | " + " | ".join(f"{n} PSNR / SSIM" for n in names) + " | mean PSNR / SSIM |")
    print("|---|" + "---|" * (len(names) + 1))
    for name, ps, ss in rows:
        cells = [f"{p:.1f} dB / {s:.3f}" for p, s in zip(ps, ss)]
        print(f"| {name} | " + " | ".join(cells) +
              f" | **{np.mean(ps):.1f} dB / {np.mean(ss):.3f}** |")
    if a.gallery and tiles:
        h, w, _ = tiles[0][1].shape
        cols = min(a.columns, len(tiles))
        rws = (len(tiles) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * w, rws * h), "white")
        draw = ImageDraw.Draw(sheet)
        for i, (name, img) in enumerate(tiles):
            x, y = (i % cols) * w, (i // cols) * h
            sheet.paste(Image.fromarray(img), (x, y))
            tw = draw.textlength(name)
            draw.rectangle((x, y + h - 14, x + tw + 8, y + h), fill="black")
            draw.text((x + 4, y + h - 13), name, fill="white")
        sheet.save(a.gallery, quality=85, optimize=True)
        print(f"\nwrote {a.gallery} ({os.path.getsize(a.gallery) // 1024} KB)")


if __name__ == "__main__":
    main()
