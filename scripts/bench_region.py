#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dialog's 1:1 preview on a large image: latency and truth (issue 12), beside ONNX Runtime.

    scripts/bench_region.py BUILD MODEL [--size 6000x4000] [--region 480x360] [--runs 7]
                            [--threads 2] [--stats-pixels 0,250000,1000000,4000000]

Makes the input (Kodak 23 resized, as scripts/bench.sh does) and prints, for each statistics
setting (0 = exact, from the whole image; N = from the image reduced to at most N pixels):
  * the one-off cost of impasto_stats_compute and the median latency of impasto_stylize_region
    for a REGION-sized 1:1 preview at RUNS positions (BUILD/tests/bench_region);
  * ONNX Runtime's median time for the same-sized crop on its own (what a plain crop costs with
    the crop's own statistics: the old, untruthful preview), and the ratio;
  * with --truth, the preview's mean and max |diff| against the same region of the full CLI run
    (one full run per model: minutes at 24 MP on 2 cores).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests"))
sys.path.insert(0, here)
from pixbuf_io import load_image  # noqa: E402


def ort_crop_median(model, rgb, rw, rh, threads, runs, tmp):
    import onnxruntime as ort  # noqa: E402
    # stderr: Debian's onnx and onnxruntime print their shared schema registry twice
    subprocess.run([sys.executable, os.path.join(here, "bench_ort.py"), "prepare", model,
                    f"{tmp}/ort.onnx"], check=True, stderr=subprocess.DEVNULL)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    sess = ort.InferenceSession(f"{tmp}/ort.onnx", so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    h, w, _ = rgb.shape
    times, cpu = [], []
    for r in range(runs):
        x, y = (w - rw) * ((r * 7) % runs) // max(1, runs - 1), (h - rh) * ((r * 3) % runs) // max(1, runs - 1)
        t0, c0 = time.perf_counter(), time.process_time()
        crop = rgb[y:y + rh, x:x + rw].astype(np.float32)
        crop = np.pad(crop, ((0, (-rh) % 4), (0, (-rw) % 4), (0, 0)), mode="reflect")
        sess.run(None, {name: np.ascontiguousarray(crop.transpose(2, 0, 1)[None])})
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpu)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("model")
    ap.add_argument("--size", default="6000x4000")
    ap.add_argument("--region", default="480x360")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stats-pixels", default="0,1000000,4000000")
    ap.add_argument("--truth", action="store_true")
    ap.add_argument("--input", help="an existing PNG instead of the resized Kodak 23")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    rw, rh = map(int, a.region.split("x"))
    shared = os.environ.get("IMPASTO_SHARED", os.path.join(here, "..", "..", "shared"))
    with tempfile.TemporaryDirectory(dir=os.path.join(a.build)) as tmp:
        png = a.input or f"{tmp}/in.png"
        if not a.input:
            subprocess.run([sys.executable, os.path.join(here, "bench_ort.py"), "make-input",
                            os.path.join(shared, "models-src", "images-kodak", "kodim23.png"),
                            str(w), str(h), png], check=True)
        rgb = load_image(png)[..., :3]
        h, w = rgb.shape[:2]
        rgb.tofile(f"{tmp}/in.rgb")
        print(f"model {os.path.basename(a.model)}, image {w}x{h}, preview {rw}x{rh}, "
              f"{a.threads} threads, {a.runs} positions")
        out = subprocess.run([os.path.join(a.build, "tests", "bench_region"), a.model,
                              f"{tmp}/in.rgb", str(w), str(h), str(a.threads), str(a.runs),
                              str(rw), str(rh), *a.stats_pixels.split(",")],
                             check=True, capture_output=True, text=True).stdout
        ort_s, ort_cpu = ort_crop_median(a.model, rgb, rw, rh, a.threads, a.runs, tmp)
        print(f"ONNX Runtime, the crop alone (own statistics): median {ort_s:.3f} s (CPU {ort_cpu:.3f} s)")
        for line in out.splitlines():
            f = line.split()
            region_s = float(f[5])
            print(f"stats_pixels {f[1]:>8}: statistics {float(f[3]):7.2f} s once; 1:1 preview "
                  f"median {region_s:.3f} s (min {float(f[7]):.3f}, CPU {float(f[9]):.3f} s), "
                  f"{region_s / ort_s:.2f}x ORT's crop")
        if a.truth:
            cli = os.path.join(a.build, "cli", "impasto")
            subprocess.run([cli, "stylize", a.model, png, f"{tmp}/full.png", "-t", str(a.threads)], check=True)
            full = load_image(f"{tmp}/full.png")[..., :3].astype(np.int32)
            x, y = (w - rw) // 2 + 1, (h - rh) // 2 + 3  # off the stride grid on purpose
            for sp in a.stats_pixels.split(","):
                subprocess.run([cli, "stylize", a.model, png, f"{tmp}/reg.png", "-t", str(a.threads),
                                "--region", f"{x},{y},{rw},{rh}", "--stats-pixels", sp], check=True)
                d = np.abs(full[y:y + rh, x:x + rw] - load_image(f"{tmp}/reg.png")[..., :3].astype(np.int32))
                print(f"stats_pixels {sp:>8}: preview vs final mean |diff| {d.mean():.3f}/255, max {d.max()}/255")


if __name__ == "__main__":
    main()
