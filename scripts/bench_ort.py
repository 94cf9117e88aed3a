#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for scripts/bench.sh (run inside the Debian 13 root).

  bench_ort.py make-input KODAK.png W H OUT.png     resize (bilinear, numpy) to W x H, write PNG
  bench_ort.py prepare MODEL OUT.onnx               make H/W symbolic (opset-9 files say 224x224);
                                                    OUT.onnx.pre: value range and size multiple
  bench_ort.py run MODEL INPUT.png OUTPUT.png N     stylise with ONNX Runtime, N intra-op threads
  bench_ort.py run-magenta PREDICT TRANSFER STYLE.png INPUT.png OUTPUT.png N
                                                    Magenta: the style vector of STYLE.png (a 256x256
                                                    crop, used as is), then the transfer net
  bench_ort.py compare A.png B.png                  print "PSNR max|diff|" of two images

`run` is what the benchmark times as a whole process, like the impasto CLI: decode the image,
pre-process (RGB NCHW mapped to the model's value range, reflect-pad bottom/right to its size
multiple), run, crop, map back to 0..255, clamp, round, encode PNG.  The range and multiple follow
the engine's rules (engine/model.c), worked out once by `prepare`: metadata impasto.input_range
and impasto.size_multiple, else -1..1 after a final Tanh (CycleGAN, pix2pix), 0..1 after a
Sigmoid, 0..255 otherwise; the product of the Conv strides (4 for fast-neural-style and the
CycleGAN ResNet generator, 256 for the pix2pix U-Net-256).
"""
import os
import sys

import numpy as np


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from pixbuf_io import load_image, save_image  # noqa: E402
from ort_model import free_hw  # noqa: E402


def load_rgb(path):
    return load_image(path)[..., :3]


def save_rgb(arr, path):
    save_image(arr, path)


def resize_bilinear(img, w, h):
    """[H0, W0, 3] uint8 -> [h, w, 3] uint8, bilinear with pixel-centre alignment."""
    h0, w0, _ = img.shape
    ys = np.clip((np.arange(h) + 0.5) * h0 / h - 0.5, 0, h0 - 1)
    xs = np.clip((np.arange(w) + 0.5) * w0 / w - 0.5, 0, w0 - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h0 - 1), np.minimum(x0 + 1, w0 - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    f = img.astype(np.float32)
    top = f[y0][:, x0] * (1 - fx) + f[y0][:, x1] * fx
    bot = f[y1][:, x0] * (1 - fx) + f[y1][:, x1] * fx
    return np.rint(top * (1 - fy) + bot * fy).astype(np.uint8)


def cmd_make_input(src, w, h, out):
    save_rgb(resize_bilinear(load_rgb(src), int(w), int(h)), out)


def preprocessing(m):
    """(lo, hi, multiple) of an onnx ModelProto, as the engine chooses them."""
    meta = {p.key: p.value for p in m.metadata_props}
    last = [n.op_type for n in m.graph.node if m.graph.output[0].name in n.output]
    lo, hi = {"Tanh": (-1.0, 1.0), "Sigmoid": (0.0, 1.0)}.get(last[0] if last else "", (0.0, 255.0))
    if "impasto.input_range" in meta:
        lo, hi = (float(v) for v in meta["impasto.input_range"].split(","))
    mult = 1
    for n in m.graph.node:
        if n.op_type == "Conv":
            strides = [list(a.ints) for a in n.attribute if a.name == "strides"]
            mult = min(256, mult * (strides[0][0] if strides else 1))
    if "impasto.size_multiple" in meta:
        mult = int(meta["impasto.size_multiple"])
    return lo, hi, mult


def cmd_prepare(model, out):
    import onnx
    m = onnx.load(model)
    free_hw(m)
    onnx.save(m, out, save_as_external_data=m.ByteSize() > 2000 << 20)
    with open(out + ".pre", "w") as f:
        f.write("%g %g %d\n" % preprocessing(m))


def session(model, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def planar01(rgb):
    """uint8 [H, W, 3] -> float [1, 3, H, W], 0..1"""
    return np.ascontiguousarray((rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None])


def cmd_run_magenta(predictor, transfer, style, src, out, threads):
    vector = session(predictor, threads).run(None, {"style_image": planar01(load_rgb(style))})[0]
    rgb = load_rgb(src)
    h, w, _ = rgb.shape
    x = np.pad(rgb, ((0, (-h) % 4), (0, (-w) % 4), (0, 0)), mode="reflect")
    y = session(transfer, threads).run(None, {"content_image": planar01(x), "style_bottleneck": vector})[0][0]
    save_rgb(np.rint(np.clip(y[:, :h, :w].transpose(1, 2, 0), 0, 1) * 255), out)


def cmd_run(model, src, out, threads):
    sess = session(model, threads)
    with open(model + ".pre") as f:
        lo, hi, mult = f.read().split()
    lo, hi, mult = float(lo), float(hi), int(mult)
    rgb = load_rgb(src)
    h, w, _ = rgb.shape
    x = rgb.astype(np.float32) * np.float32((hi - lo) / 255.0) + np.float32(lo)
    x = np.pad(x, ((0, (-h) % mult), (0, (-w) % mult), (0, 0)), mode="reflect")
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])  # [1, 3, H, W]
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]  # [3, H, W]
    y = (y[:, :h, :w].transpose(1, 2, 0) - lo) * (255.0 / (hi - lo))
    save_rgb(np.rint(np.clip(y, 0, 255)), out)


def cmd_compare(a, b):
    x, y = load_rgb(a).astype(np.float64), load_rgb(b).astype(np.float64)
    if x.shape != y.shape:
        print("shape-mismatch -")
        return
    mse = np.mean((x - y) ** 2)
    psnr = float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)
    print(f"{psnr:.1f} {int(np.max(np.abs(x - y)))}")


COMMANDS = {"make-input": (cmd_make_input, 4), "prepare": (cmd_prepare, 2),
            "run": (cmd_run, 4), "run-magenta": (cmd_run_magenta, 6), "compare": (cmd_compare, 2)}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS or len(sys.argv) - 2 != COMMANDS[sys.argv[1]][1]:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    COMMANDS[sys.argv[1]][0](*sys.argv[2:])
