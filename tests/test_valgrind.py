#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The impasto CLI under valgrind's memcheck: invalid reads/writes, uses of uninitialised values
and definite leaks fail the test (the sanitizer builds cover the rest of the suite; valgrind also
sees what ASan cannot: uninitialised memory, and code built without instrumentation such as the
SIMD kernels chosen at run time — valgrind's virtual CPU reports no AVX-512, so the AVX2 path runs).

    test_valgrind.py VALGRIND IMPASTO_CLI

Small odd-sized pictures keep it to a minute or two: whole and banded runs of one of our shipped
styles, an RGBA picture, the preview's region path, a GAN translation with image statistics and a
model with a style image (Magenta).  Each run's output is checked for its size as well.
"""
import os
import struct
import subprocess
import sys
import tempfile
import zlib

import tap

VG_ARGS = ["--error-exitcode=99", "--leak-check=full", "--errors-for-leak-kinds=definite",
           "--track-origins=yes", "-q"]


def write_png(path, w, h, channels):
    """A smooth test picture (stdlib only): gradients in each channel."""
    color_type = {3: 2, 4: 6}[channels]
    rows = []
    for y in range(h):
        row = bytearray([0])
        for x in range(w):
            px = [(x * 255) // max(w - 1, 1), (y * 255) // max(h - 1, 1), ((x + y) * 7) % 256]
            if channels == 4:
                px.append(255 - (x * 3) % 256)
            row += bytes(px)
        rows.append(bytes(row))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(b"".join(rows))))
        f.write(chunk(b"IEND", b""))


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def main():
    valgrind, cli = sys.argv[1], sys.argv[2]
    source = os.environ["IMPASTO_SOURCE"]
    shared = os.environ.get("IMPASTO_SHARED", os.path.join(source, "..", "shared"))
    gan = os.path.join(shared, "models-arch", "cyclegan-resnet9-ngf16-random.onnx")
    magenta = os.path.join(shared, "models-magenta")
    predictor = os.path.join(magenta, "magenta-style-predict.onnx")
    transfer = os.path.join(magenta, "magenta-style-transfer.onnx")
    for need in (gan, predictor, transfer):
        if not os.path.isfile(need):
            return tap.missing_data(need)
    ours = os.path.join(source, "models", "starry-night.onnx")
    with tempfile.TemporaryDirectory() as tmp:
        rgb = os.path.join(tmp, "in.png")
        rgba = os.path.join(tmp, "in-rgba.png")
        write_png(rgb, 53, 37, 3)
        write_png(rgba, 41, 29, 4)
        cases = [
            ("shipped style, whole", [ours, rgb], (53, 37), ["--tile-size", "0"]),
            ("shipped style, banded", [ours, rgb], (53, 37), ["--tile-size", "16", "-t", "2"]),
            ("RGBA, strength 0.5, preserve colours", [ours, rgba], (41, 29),
             ["-s", "0.5", "--preserve-colors"]),
            ("preview region", [ours, rgb], (20, 11), ["--region", "7,9,20,11"]),
            ("CycleGAN, image statistics", [gan, rgb], (53, 37),
             ["--batchnorm", "image-statistics", "--tile-size", "16"]),
            ("Magenta, style image", [transfer, rgb], (53, 37),
             ["--style", rgba, "--style-predictor", predictor]),
        ]
        for i, (what, (model, image), size, extra) in enumerate(cases):
            out = os.path.join(tmp, f"out{i}.png")
            r = subprocess.run([valgrind] + VG_ARGS + [cli, "stylize", model, image, out] + extra,
                               capture_output=True, text=True, timeout=900)
            report = "\n".join(l for l in r.stderr.splitlines() if l.startswith("=="))
            clean = r.returncode == 0 and not report
            tap.check(f"{what}: memcheck clean", clean,
                      "" if clean else f"exit {r.returncode}\n" + (report[:4000] or r.stderr[-1500:]))
            tap.check(f"{what}: output size {size}", png_size(out) == size, f"got {png_size(out)}")
    return tap.summary()


if __name__ == "__main__":
    sys.exit(main())
