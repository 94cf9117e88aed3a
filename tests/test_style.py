#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Arbitrary style (any image is the style) end to end through `impasto stylize --style`,
against ONNX Runtime running the same networks with the documented pre/post-processing.

    python3 tests/test_style.py BUILD/cli/impasto

Magenta (predictor + transfer, $IMPASTO_SHARED/models-magenta) and AdaIN (the encoder/decoder
pair of $IMPASTO_SHARED/models-arch through the engine's own AdaIN, and the one-graph form with
`content` and `style` inputs through the generic multi-input path): PSNR >= 50 dB and max |diff| <= 2 of 255 against ORT; the Magenta reference
outputs in ref/; strength and mix end points; a batch (-o OUTDIR) equal to single runs byte for
byte; banded equal to whole; clear errors for bad style images and incomplete packs.

Exit status: 0 all passed, 1 something failed (also without onnxruntime, numpy or the gdk-pixbuf
bindings, or without the shared models), 77 when the shared models are missing and
IMPASTO_ALLOW_MISSING_DATA=1.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnxruntime as ort
    import gi
    gi.require_version("GdkPixbuf", "2.0")
except (ImportError, ValueError) as e:
    print(f"FAIL: missing tool: needs numpy, onnxruntime and GdkPixbuf bindings ({e})")
    sys.exit(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pixbuf_io import load_image, save_image  # noqa: E402
from ort_model import QuietStderr  # noqa: E402
from tap import check, missing_data, summary  # noqa: E402

THREADS = "2"
SHARED = os.environ.get("IMPASTO_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MAG = os.path.join(SHARED, "models-magenta")
ARCH = os.path.join(SHARED, "models-arch")
PREDICT = os.path.join(MAG, "magenta-style-predict.onnx")
TRANSFER = os.path.join(MAG, "magenta-style-transfer.onnx")
ENCODER = os.path.join(ARCH, "adain-vgg-w16-random-encoder.onnx")
DECODER = os.path.join(ARCH, "adain-vgg-w16-random-decoder.onnx")
ADAIN_ONE = os.path.join(ARCH, "adain-vgg-w16-random.onnx")
KODIM23 = os.path.join(SHARED, "models-src", "images-kodak", "kodim23.png")
STYLES = os.path.join(SHARED, "models-src", "images-style")
REF = os.path.join(MAG, "ref")

# ---- ONNX Runtime --------------------------------------------------------------------------------

_sessions = {}


def session(path):
    if path not in _sessions:
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(THREADS)
        so.log_severity_level = 3
        with QuietStderr():
            _sessions[path] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return _sessions[path]


def run(path, **feeds):
    return session(path).run(None, {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()})[0]


def planar(rgb):
    """uint8 [H, W, 3] -> float [1, 3, H, W], 0..1"""
    return (rgb[..., :3].astype(np.float32) / 255.0).transpose(2, 0, 1)[None]


def pad_to(x, mult, least=16):
    """[1, 3, H, W] reflected on the bottom and right to multiples of mult (and >= least)."""
    h, w = x.shape[2:]
    ph, pw = max(-(-h // mult) * mult, least) - h, max(-(-w // mult) * mult, least) - w
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect") if ph or pw else x


def to_u8(y, h, w):
    """[1, 3, H', W'] 0..1 -> uint8 [h, w, 3], as the engine rounds"""
    y = np.clip(y[0, :, :h, :w].transpose(1, 2, 0), 0.0, 1.0)
    return np.floor(y * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)


def taps(out_size, in_size):
    """TensorFlow bilinear taps (half-pixel centres, no antialiasing), float32 as the engine."""
    scale = np.float32(in_size) / np.float32(out_size)
    c = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    f = np.floor(c)
    lo = np.clip(f, 0, in_size - 1).astype(np.int64)
    hi = np.clip(np.ceil(c), 0, in_size - 1).astype(np.int64)
    return lo, hi, (c - f).astype(np.float32)


def resample(rgb, rh, rw, oy=0, ox=0, ch=None, cw=None):
    """The image resized to rh x rw, window [oy, oy + ch) x [ox, ox + cw): [1, 3, ch, cw]."""
    ch, cw = ch or rh, cw or rw
    x = rgb[..., :3].astype(np.float32) * np.float32(1.0 / 255.0)
    ylo, yhi, ty = taps(rh, x.shape[0])
    xlo, xhi, tx = taps(rw, x.shape[1])
    ylo, yhi, ty = ylo[oy:oy + ch], yhi[oy:oy + ch], ty[oy:oy + ch, None, None]
    xlo, xhi, tx = xlo[ox:ox + cw], xhi[ox:ox + cw], tx[None, ox:ox + cw, None]
    a, b = x[ylo][:, xlo], x[ylo][:, xhi]
    c, d = x[yhi][:, xlo], x[yhi][:, xhi]
    top, bottom = a + (b - a) * tx, c + (d - c) * tx
    return (top + (bottom - top) * ty).transpose(2, 0, 1)[None]


def scaled(h, w, short):
    s = short / min(h, w)
    return max(1, int(np.floor(h * s + 0.5))), max(1, int(np.floor(w * s + 0.5)))


def magenta_crop(rgb):
    rh, rw = scaled(rgb.shape[0], rgb.shape[1], 256.0)
    return resample(rgb, rh, rw, (rh - 256) // 2, (rw - 256) // 2, 256, 256)


def magenta_vector(rgb):
    return run(PREDICT, style_image=magenta_crop(rgb))


def magenta(content, vector):
    h, w = content.shape[:2]
    return to_u8(run(TRANSFER, content_image=pad_to(planar(content), 4), style_bottleneck=vector), h, w)


def adain_style_input(rgb):
    h, w = rgb.shape[:2]
    if min(h, w) <= 512:
        return planar(rgb)
    rh, rw = scaled(h, w, 512.0)
    return resample(rgb, rh, rw)


def stats(f):
    f = f[0].reshape(f.shape[1], -1).astype(np.float64)
    return f.mean(1), np.sqrt(f.var(1, ddof=1) + 1e-5)


def adain(content, style_stats, strength=1.0):
    h, w = content.shape[:2]
    f = run(ENCODER, image=pad_to(planar(content), 8))
    mc, sc = stats(f)
    ms, ss = style_stats
    t = ((f - mc[None, :, None, None]) / sc[None, :, None, None] * ss[None, :, None, None]
         + ms[None, :, None, None]).astype(np.float32)
    g = strength * t + (1 - strength) * f if strength != 1.0 else t
    return to_u8(run(DECODER, features=g), h, w)


def adain_stats(style):
    return stats(run(ENCODER, image=adain_style_input(style)))


# ---- comparisons and the CLI ---------------------------------------------------------------------

def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def check_close(name, got, want, psnr_min=50.0, max_diff=2):
    if got is None or got.shape != want.shape:
        return check(name, False, f"shape {None if got is None else got.shape} != {want.shape}")
    p = psnr(got, want)
    d = int(np.max(np.abs(got.astype(np.int32) - want.astype(np.int32))))
    return check(name, p >= psnr_min and d <= max_diff, f"PSNR {p:.1f} dB, max |diff| {d}")


CLI = None


def cli(*args, timeout=None):
    return subprocess.run([CLI, "stylize", *args, "-t", THREADS], capture_output=True, text=True,
                          timeout=timeout)


def stylize(content_path, out, *args):
    r = cli(*args[:1], content_path, out, *args[1:])
    if r.returncode != 0:
        print(r.stderr.strip())
        return None
    return load_image(out)[..., :3]


def same_bytes(a, b):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def expect_error(name, args, want, tmp, timeout=None):
    out = os.path.join(tmp, "error-out.png")
    try:
        r = cli(*args[:1], KODIM23, out, *args[1:], timeout=timeout)
    except subprocess.TimeoutExpired:
        check(name, False, f"no answer in {timeout} s (blocked?)")
        return
    line = r.stderr.strip()
    check(name, r.returncode == 1 and want in line and line.startswith("impasto: ")
          and not os.path.exists(out), f"exit {r.returncode}: {line!r}")


def check_mix_ends(label, tmp, pack, style, style2, singles, prefix):
    """--mix 0 and --mix 1 equal the single styles' results (singles, in tmp) byte for byte."""
    for w, single in zip(("0", "1"), singles):
        out = os.path.join(tmp, f"{prefix}-mix{w}.png")
        stylize(KODIM23, out, pack[0], "--style", style, "--style2", style2, "--mix", w, *pack[1:])
        check(f"{label}: --mix {w} equals the single style byte for byte",
              os.path.exists(out) and same_bytes(out, os.path.join(tmp, single)))


def check_batch(label, tmp, pack, style, singles, prefix):
    """A batch (-o OUTDIR) of kodim23 and odd.png reuses the style: each output equals its single
    run (singles, in tmp) byte for byte."""
    outdir = os.path.join(tmp, "batch-" + prefix)
    os.mkdir(outdir)
    odd = os.path.join(tmp, "odd.png")
    r = cli(pack[0], "--style", style, *pack[1:], "-o", outdir, KODIM23, odd)
    check(f"{label}: batch -o OUTDIR runs", r.returncode == 0, r.stderr.strip())
    check(f"{label}: batch outputs equal single runs byte for byte",
          all(same_bytes(os.path.join(outdir, name), os.path.join(tmp, single))
              for name, single in zip(("kodim23.png", "odd.png"), singles)))


# ---- the tests -----------------------------------------------------------------------------------

def test_magenta(tmp):
    pack = [TRANSFER, "--style-predictor", PREDICT]
    content = load_image(KODIM23)[..., :3]
    starry = os.path.join(REF, "style_starry_night_256.png")
    wave = os.path.join(REF, "style_wave_256.png")
    v_starry = magenta_vector(load_image(starry))
    v_wave = magenta_vector(load_image(wave))
    check("magenta: predictor (ORT) reproduces ref/bottleneck_starry_night.npy",
          np.allclose(v_starry, np.load(os.path.join(REF, "bottleneck_starry_night.npy")), atol=1e-4))

    out = os.path.join(tmp, "m-starry.png")
    got = stylize(KODIM23, out, pack[0], "--style", starry, *pack[1:])
    check_close("magenta: starry night vs ORT (predictor + transfer)", got, magenta(content, v_starry))
    check_close("magenta: starry night vs ref/kodim23_starry_night.png", got,
                load_image(os.path.join(REF, "kodim23_starry_night.png"))[..., :3])
    got_w = stylize(KODIM23, os.path.join(tmp, "m-wave.png"), pack[0], "--style", wave, *pack[1:])
    check_close("magenta: wave vs ref/kodim23_wave.png", got_w,
                load_image(os.path.join(REF, "kodim23_wave.png"))[..., :3])

    # a painting of any size: short side 256, centre crop (the crop made as the engine makes it)
    painting = os.path.join(STYLES, "the_scream.jpg")
    got = stylize(KODIM23, os.path.join(tmp, "m-scream.png"), pack[0], "--style", painting, *pack[1:])
    check_close("magenta: the_scream.jpg (1200x1528, resized and cropped) vs ORT", got,
                magenta(content, magenta_vector(load_image(painting))))

    # content of any size: reflect-padded to a multiple of 4, cropped back
    odd = os.path.join(tmp, "odd.png")
    save_image(content[:203, :301], odd)
    got = stylize(odd, os.path.join(tmp, "m-odd.png"), pack[0], "--style", starry, *pack[1:])
    check_close("magenta: 301x203 content vs ORT (padded by reflection)", got, magenta(content[:203, :301], v_starry))

    # a tall narrow image runs transposed (weights and the bound style constants transposed)
    tall = os.path.join(tmp, "tall.png")
    save_image(np.ascontiguousarray(content[:, 300:322]), tall)
    got = stylize(tall, os.path.join(tmp, "m-tall.png"), pack[0], "--style", starry, *pack[1:])
    check_close("magenta: 22x512 content (runs transposed) vs ORT", got,
                magenta(np.ascontiguousarray(content[:, 300:322]), v_starry))

    # strength in feature space: s * style + (1 - s) * content's own vector
    own = magenta_vector(content)
    for s in (0.0, 0.5):
        got = stylize(KODIM23, os.path.join(tmp, f"m-s{s}.png"), pack[0], "--style", starry,
                      "--strength", str(s), *pack[1:])
        v = own if s == 0.0 else np.float32(s) * v_starry + np.float32(1 - s) * own
        check_close(f"magenta: strength {s} vs ORT (vector blended with the content's own)", got, magenta(content, v))
        if s == 0.5:
            check_close("magenta: strength 0.5 vs ref/kodim23_starry_night_s050.png", got,
                        load_image(os.path.join(REF, "kodim23_starry_night_s050.png"))[..., :3])

    check_mix_ends("magenta", tmp, pack, starry, wave, ("m-starry.png", "m-wave.png"), "m")
    got = stylize(KODIM23, os.path.join(tmp, "m-mix.png"), pack[0], "--style", starry, "--style2",
                  wave, "--mix", "0.25", *pack[1:])
    check_close("magenta: --mix 0.25 vs ORT", got,
                magenta(content, np.float32(0.75) * v_starry + np.float32(0.25) * v_wave))

    # banded (a few rows at a time) against whole
    whole = stylize(KODIM23, os.path.join(tmp, "m-whole.png"), pack[0], "--style", starry,
                    "--tile-size", "0", *pack[1:])
    banded = stylize(KODIM23, os.path.join(tmp, "m-banded.png"), pack[0], "--style", starry,
                     "--tile-size", "64", *pack[1:])
    check_close("magenta: banded (--tile-size 64) vs whole", banded, whole, psnr_min=40.0)
    check_close("magenta: banded vs ORT", banded, magenta(content, v_starry))

    check_batch("magenta", tmp, pack, starry, ("m-starry.png", "m-odd.png"), "m")


def test_adain(tmp):
    pack = [DECODER, "--style-encoder", ENCODER]
    content = load_image(KODIM23)[..., :3]
    wave = os.path.join(REF, "style_wave_256.png")
    starry = os.path.join(STYLES, "starry_night.jpg")  # 1024x640: resized to short side 512
    s_wave, s_starry = adain_stats(load_image(wave)), adain_stats(load_image(starry))

    out = os.path.join(tmp, "a-wave.png")
    got = stylize(KODIM23, out, pack[0], "--style", wave, *pack[1:])
    check_close("adain pair: wave vs ORT (encoder, AdaIN, decoder)", got, adain(content, s_wave))
    one = to_u8(run(ADAIN_ONE, content=planar(content), style=planar(load_image(wave))), *content.shape[:2])
    check_close("adain pair: wave vs ORT on the one-graph form (content + style inputs)", got, one)

    got_s = stylize(KODIM23, os.path.join(tmp, "a-starry.png"), pack[0], "--style", starry, *pack[1:])
    check_close("adain pair: starry_night.jpg (short side 640 -> 512) vs ORT", got_s, adain(content, s_starry))

    odd = os.path.join(tmp, "odd.png")
    save_image(content[:203, :301], odd)
    got = stylize(odd, os.path.join(tmp, "a-odd.png"), pack[0], "--style", wave, *pack[1:])
    check_close("adain pair: 301x203 content vs ORT (padded to a multiple of 8)", got,
                adain(content[:203, :301], s_wave))

    for s in (0.0, 0.5):
        got = stylize(KODIM23, os.path.join(tmp, f"a-s{s}.png"), pack[0], "--style", wave,
                      "--strength", str(s), *pack[1:])
        check_close(f"adain pair: strength {s} vs ORT (features blended)", got, adain(content, s_wave, s))

    check_mix_ends("adain pair", tmp, pack, wave, starry, ("a-wave.png", "a-starry.png"), "a")
    got = stylize(KODIM23, os.path.join(tmp, "a-mix.png"), pack[0], "--style", wave, "--style2",
                  starry, "--mix", "0.5", *pack[1:])
    mixed = tuple(0.5 * a + 0.5 * b for a, b in zip(s_wave, s_starry))
    check_close("adain pair: --mix 0.5 vs ORT (statistics mixed)", got, adain(content, mixed))

    check_batch("adain pair", tmp, pack, wave, ("a-wave.png", "a-odd.png"), "a")


def test_adain_one_graph(tmp):
    """The one-graph form: two runtime image inputs bound by name, its AdaIN written as ONNX
    primitives (ReduceMean, Sub, Mul, Div, Sqrt, the Shape/Gather/ReduceProd count folded once the
    sizes are known) run by the engine's generic multi-input path."""
    content = load_image(KODIM23)[..., :3]
    wave = os.path.join(REF, "style_wave_256.png")
    monet = os.path.join(STYLES, "monet.jpg")  # 401x400: odd sizes through the ceil-mode pools
    for style in (wave, monet):
        got = stylize(KODIM23, os.path.join(tmp, "one.png"), ADAIN_ONE, "--style", style,
                      "--range", "0,1", "--multiple", "8")
        want = to_u8(run(ADAIN_ONE, content=planar(content), style=planar(load_image(style))),
                     *content.shape[:2])
        check_close(f"adain one graph: {os.path.basename(style)} vs ORT", got, want)
    small = content[:203, :301]
    odd = os.path.join(tmp, "odd.png")
    save_image(small, odd)
    got = stylize(odd, os.path.join(tmp, "one-odd.png"), ADAIN_ONE, "--style", wave, "--range", "0,1",
                  "--multiple", "8")
    want = to_u8(run(ADAIN_ONE, content=pad_to(planar(small), 8), style=planar(load_image(wave))), 203, 301)
    check_close("adain one graph: 301x203 content vs ORT (padded to a multiple of 8)", got, want)


def write_pack(tmp, name, family, networks, **extra):
    import json
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump({"name": name, "family": family, "networks": networks, **extra}, f)
    return path


def test_packs(tmp):
    """A pack sidecar NAME.json given as MODEL loads the two networks as one model."""
    wave = os.path.join(REF, "style_wave_256.png")
    mag = write_pack(tmp, "magenta", "magenta", {"predictor": PREDICT, "transfer": TRANSFER},
                     range=[0, 1], multiple=4)
    ada = write_pack(tmp, "adain", "adain", {"encoder": ENCODER, "decoder": DECODER}, range=[0, 1], multiple=8)
    one = write_pack(tmp, "adain-one", "adain", {"model": ADAIN_ONE}, range=[0, 1], multiple=8)
    for pack, args, name in ((mag, [TRANSFER, "--style-predictor", PREDICT], "magenta"),
                             (ada, [DECODER, "--style-encoder", ENCODER], "adain pair"),
                             (one, [ADAIN_ONE, "--range", "0,1", "--multiple", "8"], "adain one graph")):
        a, b = os.path.join(tmp, "pack-a.png"), os.path.join(tmp, "pack-b.png")
        stylize(KODIM23, a, pack, "--style", wave)
        stylize(KODIM23, b, args[0], "--style", wave, *args[1:])
        check(f"pack sidecar ({name}) equals the networks given on the command line",
              os.path.exists(a) and os.path.exists(b) and same_bytes(a, b))
    half = write_pack(tmp, "half", "magenta", {"predictor": PREDICT})
    expect_error("error: a Magenta pack sidecar without its transfer net", [half, "--style", wave],
                 'the pack has no "transfer" network', tmp)
    half = write_pack(tmp, "half-adain", "adain", {"decoder": DECODER})
    expect_error("error: an AdaIN pack sidecar without its encoder", [half, "--style", wave],
                 'the pack has no "encoder" network', tmp)
    gone = write_pack(tmp, "gone", "adain", {"encoder": "missing-encoder.onnx", "decoder": DECODER})
    expect_error("error: an AdaIN pack sidecar naming a missing file", [gone, "--style", wave],
                 "encoder: " + os.path.join(tmp, "missing-encoder.onnx"), tmp)
    fifo = os.path.join(tmp, "fifo.json")  # opened blocking, it would wait for a writer
    os.mkfifo(fifo)
    expect_error("error: a pack sidecar that is a FIFO", [fifo, "--style", wave],
                 f"{fifo}: not a model sidecar: not a regular file", tmp, timeout=60)
    os.unlink(fifo)


def test_errors(tmp):
    mag = [TRANSFER, "--style-predictor", PREDICT]
    ada = [DECODER, "--style-encoder", ENCODER]
    missing = os.path.join(tmp, "no-such-style.png")
    expect_error("error: missing style file", [mag[0], "--style", missing, *mag[1:]],
                 f"cannot read image '{missing}'", tmp)
    corrupt = os.path.join(tmp, "corrupt.png")
    with open(corrupt, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    expect_error("error: corrupt style file", [mag[0], "--style", corrupt, *mag[1:]],
                 f"cannot read image '{corrupt}'", tmp)
    fifo = os.path.join(tmp, "fifo.png")  # opened blocking, it would wait for a writer
    os.mkfifo(fifo)
    expect_error("error: a style image that is a FIFO", [mag[0], "--style", fifo, *mag[1:]],
                 f"cannot read image '{fifo}': not a regular file", tmp, timeout=60)
    os.unlink(fifo)
    tiny = os.path.join(tmp, "tiny.png")
    save_image(np.zeros((1, 1, 3), np.uint8), tiny)
    for name, pack in (("magenta", mag), ("adain", ada)):
        expect_error(f"error: 1x1 style image ({name})", [pack[0], "--style", tiny, *pack[1:]],
                     "style image too small: 1 x 1", tmp)
    huge = os.path.join(tmp, "huge.png")
    save_image(np.zeros((8200, 8200, 3), np.uint8), huge)  # 67.2 MP, a small file
    expect_error("error: huge style image", [mag[0], "--style", huge, *mag[1:]],
                 "style image too large: 8200 x 8200", tmp)
    os.unlink(huge)
    gone = os.path.join(tmp, "no-such-predictor.onnx")
    expect_error("error: Magenta pack without its predictor", [mag[0], "--style", tiny,
                 "--style-predictor", gone], f"style predictor: ", tmp)
    expect_error("error: AdaIN pack without its encoder", [ada[0], "--style", tiny,
                 "--style-encoder", gone], "encoder: ", tmp)
    expect_error("error: a transfer net that is not one", [DECODER, "--style", tiny, *mag[1:]],
                 "not a Magenta transfer net", tmp)
    r = cli(TRANSFER, KODIM23, os.path.join(tmp, "x.png"), "--style", tiny, "--style-predictor",
            PREDICT, "--style-encoder", ENCODER)
    check("error: a predictor and an encoder together is a usage error",
          r.returncode == 2 and "at most one of --style-predictor" in r.stderr, r.stderr.strip())
    r = cli(ADAIN_ONE, KODIM23, os.path.join(tmp, "x.png"), "--style", tiny, "--style2", tiny, "--mix", "0.5")
    check("error: --style2 without a style pack is a usage error",
          r.returncode == 2 and "--style2 needs a style pack" in r.stderr, r.stderr.strip())
    r = subprocess.run([CLI, "stylize", TRANSFER, KODIM23, os.path.join(tmp, "x.png")], capture_output=True, text=True)
    check("error: a two-input model without a style says how to bind it",
          r.returncode == 1 and "2 runtime inputs" in r.stderr, r.stderr.strip())


def main():
    global CLI
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    CLI = sys.argv[1]
    for f in (PREDICT, TRANSFER, ENCODER, DECODER, ADAIN_ONE, KODIM23):
        if not os.path.exists(f):
            return missing_data(f)
    with tempfile.TemporaryDirectory() as tmp:
        test_magenta(tmp)
        test_adain(tmp)
        test_adain_one_graph(tmp)
        test_packs(tmp)
        test_errors(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
