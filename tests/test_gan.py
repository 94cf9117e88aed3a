#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The CycleGAN and pix2pix generators (ngf 16 fixtures in $IMPASTO_SHARED/models-arch) through the
`impasto` command against ONNX Runtime, whole (--tile-size 0) and banded (--tile-size 64 and 8:
every ConvTranspose, skip Concat, BatchNorm, LeakyRelu, Dropout and Tanh streamed).

    python3 tests/test_gan.py BUILD/cli/impasto

Pre/post-processing as the published test scripts: RGB 0..255 -> -1..1, H and W reflect-padded at
the bottom/right to the model's multiple (4 for the ResNet generator, 256 for the U-Net), output
cropped back and mapped -1..1 -> 0..255.  Each output must match ONNX Runtime on the same pixels:
PSNR >= 50 dB and max |diff| <= 2 of 255.  pix2pix is checked with its stored BatchNorm statistics
and with the image's statistics (--batchnorm image-statistics, and the model's metadata
impasto.batchnorm): the reference for those is the same graph with every BatchNormalization
replaced by an InstanceNormalization with BatchNorm's scale, bias and epsilon, which for one image
is exactly batch statistics.

Exit status: 0 all passed, 1 something failed (or the fixtures are missing), 77 skipped (no
fixtures and IMPASTO_ALLOW_MISSING_DATA=1).
"""
import os
import sys
import tempfile

from test_cli import QuietStderr, maxdiff, psnr, run_cli  # noqa: E402  (beside this file)
import test_cli
from pixbuf_io import load_image, save_image  # noqa: E402
from tap import check, missing_data, summary  # noqa: E402

import numpy as np  # test_cli has failed already when these are missing
import onnx
import onnxruntime as ort

THREADS = "2"
TILES = ("0", "64", "8")


def ort_session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(THREADS)
    so.log_severity_level = 3
    with QuietStderr():
        return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def ort_translate(sess, rgb, mult):
    """uint8 [H, W, 3] -> float [H, W, 3] in 0..255 (not rounded) as the published scripts do."""
    h, w, _ = rgb.shape
    x = rgb.astype(np.float32) / 255.0 * 2.0 - 1.0
    x = np.pad(x, ((0, (-h) % mult), (0, (-w) % mult), (0, 0)), mode="reflect")
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0][:, :h, :w].transpose(1, 2, 0)
    return np.clip((y + 1.0) / 2.0 * 255.0, 0.0, 255.0)


def batchnorm_as_instnorm(model):
    """Every BatchNormalization -> InstanceNormalization(x, scale, bias) with its epsilon: batch
    statistics of a batch of one image."""
    for n in model.graph.node:
        if n.op_type == "BatchNormalization":
            eps = [a.f for a in n.attribute if a.name == "epsilon"]
            del n.input[3:]
            del n.attribute[:]
            n.op_type = "InstanceNormalization"
            n.attribute.append(onnx.helper.make_attribute("epsilon", eps[0] if eps else 1e-5))
    return model


def compare(name, model, src, want, tmp, *opts):
    for tile in TILES:
        dst = os.path.join(tmp, "out.png")
        rc, _, err = run_cli("stylize", model, src, dst, "--threads", THREADS, "--tile-size", tile, *opts)
        if not check(f"{name} --tile-size {tile} runs", rc == 0, err.strip()):
            continue
        got = load_image(dst)
        p, d = psnr(got, np.rint(want).astype(np.uint8)), maxdiff(got, np.rint(want).astype(np.uint8))
        check(f"{name} --tile-size {tile} vs ONNX Runtime", got.shape == want.shape and p >= 50 and d <= 2,
              f"PSNR {p:.1f} dB, max |diff| {d}")
        if got.shape[2] == 4:
            check(f"{name} --tile-size {tile} keeps alpha", np.array_equal(got[..., 3], load_image(src)[..., 3]))


def main():
    if len(sys.argv) != 2:
        print("usage: test_gan.py PATH/TO/impasto", file=sys.stderr)
        return 2
    test_cli.CLI = os.path.abspath(sys.argv[1])
    shared = os.environ.get("IMPASTO_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    arch = os.path.join(shared, "models-arch")
    cyclegan = os.path.join(arch, "cyclegan-resnet9-ngf16-random.onnx")
    pix2pix = os.path.join(arch, "pix2pix-unet256-ngf16-random.onnx")
    kodak = os.path.join(shared, "models-src", "images-kodak", "kodim23.png")
    if not all(os.path.isfile(f) for f in (cyclegan, pix2pix, kodak)):
        return missing_data(f"no GAN fixtures in {arch}")
    k23 = load_image(kodak)
    with tempfile.TemporaryDirectory(prefix="impasto-gan-") as tmp:
        def image(name, arr):
            path = os.path.join(tmp, name)
            save_image(arr, path, "png")
            return path, arr

        # CycleGAN: odd size (H % 4 == 1, W % 4 == 3) with alpha; bands of 8 rows cross both
        # ConvTransposes' output_padding at the bottom edge
        ramp = np.linspace(0, 255, 251).round().astype(np.uint8)
        rgba = np.dstack([k23[40:229, 100:351], np.broadcast_to(ramp[None, :], (189, 251))])
        src, arr = image("odd-251x189.png", rgba)
        want = ort_translate(ort_session(cyclegan), arr[..., :3], 4)
        compare("cyclegan ngf16 251x189 RGBA", cyclegan, src, np.dstack([want, arr[..., 3]]), tmp)

        # pix2pix: padded to 512 x 512 (H and W multiples of 256), and a small image padded to
        # 256 x 256 by repeated reflection
        for name, crop in (("61x97", k23[200:261, 300:397]), ("301x389", k23[10:311, 20:409])):
            src, arr = image(f"p2p-{name}.png", crop)
            running = ort_translate(ort_session(pix2pix), arr, 256)
            compare(f"pix2pix ngf16 {name} running statistics", pix2pix, src, running, tmp)

        # pix2pix with the image's statistics: by option, and by the model's metadata
        src, arr = image("p2p-301x389.png", k23[10:311, 20:409])
        m = batchnorm_as_instnorm(onnx.load(pix2pix))
        ref = os.path.join(tmp, "pix2pix-instnorm.onnx")
        onnx.save(m, ref)
        want = ort_translate(ort_session(ref), arr, 256)
        p = psnr(np.rint(want), np.rint(running))
        check("the image's statistics change pix2pix's result", p < 30, f"PSNR {p:.1f} dB to the running statistics'")
        compare("pix2pix ngf16 301x389 --batchnorm image-statistics", pix2pix, src, want, tmp,
                "--batchnorm", "image-statistics")
        m = onnx.load(pix2pix)
        onnx.helper.set_model_props(m, {"impasto.batchnorm": "image-statistics"})
        tagged = os.path.join(tmp, "pix2pix-image-stats.onnx")
        onnx.save(m, tagged)
        compare("pix2pix ngf16 301x389 metadata impasto.batchnorm", tagged, src, want, tmp)
        rc, _, err = run_cli("stylize", pix2pix, src, os.path.join(tmp, "x.png"), "--batchnorm", "batch")
        check("--batchnorm with an unknown mode is refused", rc != 0 and "invalid --batchnorm 'batch'" in err,
              err.strip())
    return summary()


if __name__ == "__main__":
    sys.exit(main())
