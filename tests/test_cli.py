#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of the `impasto` command against ONNX Runtime.

    python3 tests/test_cli.py BUILD/cli/impasto

For every model in $IMPASTO_SHARED/models and a few small images (RGB PNG, odd-sized PNG, JPEG,
RGBA PNG, gray PNG, gray + alpha PNG) the CLI's output must match ONNX Runtime run on the same
pixels with the documented pre/post-processing (PSNR >= 50 dB, max |diff| <= 2 of 255); alpha must pass through
byte for byte.  Also checks --strength, --preserve-colors, `info`, and the error paths (exit
status, one "impasto: " line naming the problem, no output file left behind).

Exit status: 0 all passed, 1 something failed (also without onnxruntime/numpy/onnx/gdk-pixbuf
bindings or shared models), 77 skipped (no shared models and IMPASTO_ALLOW_MISSING_DATA=1).  Images are read and written with gdk-pixbuf, the same decoder
the CLI uses, so both sides see identical input pixels.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import onnx
    import onnxruntime as ort
    import gi
    gi.require_version("GdkPixbuf", "2.0")
    from gi.repository import GdkPixbuf, GLib
except (ImportError, ValueError) as e:
    print(f"FAIL: missing tool: needs numpy, onnx, onnxruntime and GdkPixbuf bindings ({e})")
    sys.exit(1)

THREADS = "2"
PSNR_MIN = 50.0
MAXDIFF = 2

# Luma weights the engine uses to turn a stylised RGB result into gray (Rec. 601).
LUMA = np.array([0.299, 0.587, 0.114])

# ---- images through gdk-pixbuf ---------------------------------------------------------------

from pixbuf_io import load_image, save_image  # noqa: E402  (tests/, beside this file)
from ort_model import QuietStderr, free_hw  # noqa: E402
from tap import check, missing_data, summary  # noqa: E402


# ---- ONNX Runtime reference --------------------------------------------------------------------

_sessions = {}


def session_for(model_path, tmp):
    """ORT session; the opset-9 files declare 224x224, so make H and W symbolic first."""
    if model_path in _sessions:
        return _sessions[model_path]
    m = onnx.load(model_path)
    free_hw(m)
    path = os.path.join(tmp, "ort-" + os.path.basename(model_path))
    onnx.save(m, path)
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(THREADS)
    so.log_severity_level = 3
    with QuietStderr():
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    _sessions[model_path] = sess
    return sess


def ort_stylize_float(sess, rgb):
    """rgb uint8 [H, W, 3] -> stylised float [H, W, 3] clamped to 0..255 (not rounded)."""
    h, w, _ = rgb.shape
    x = rgb.astype(np.float32)
    ph, pw = (-h) % 4, (-w) % 4
    if ph or pw:
        x = np.pad(x, ((0, ph), (0, pw), (0, 0)), mode="reflect")
    x = np.ascontiguousarray(x.transpose(2, 0, 1)[None])  # [1, 3, H, W]
    y = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]  # [3, H, W]
    y = y[:, :h, :w].transpose(1, 2, 0)
    return np.clip(y, 0.0, 255.0)


def to_u8(f):
    return np.rint(f).astype(np.uint8)


# ---- comparisons -------------------------------------------------------------------------------

def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def maxdiff(a, b):
    return int(np.max(np.abs(a.astype(np.int32) - b.astype(np.int32))))


def check_close(name, got, want, psnr_min=PSNR_MIN, max_diff=MAXDIFF):
    if got.shape != want.shape:
        return check(name, False, f"shape {got.shape} != {want.shape}")
    p, d = psnr(got, want), maxdiff(got, want)
    return check(name, p >= psnr_min and d <= max_diff, f"PSNR {p:.1f} dB, max |diff| {d}")


def ycbcr(rgb):
    """BT.601 full-range Y, Cb, Cr of an RGB array (float)."""
    r, g, b = [rgb[..., i].astype(np.float64) for i in range(3)]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, 0.564 * (b - y), 0.713 * (r - y)


# ---- running the CLI ---------------------------------------------------------------------------

CLI = None


def run_cli(*args, timeout=300):
    p = subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_cli_measured(*args, env=None):
    """run_cli, plus the command's wall seconds and peak RSS in bytes, measured by GNU time (the
    rusage of a child forked from this process would count the copy of this process's memory it
    held before exec)."""
    import time
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        t0 = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file.name, CLI, *args],
                           capture_output=True, text=True, timeout=300,
                           env=None if env is None else {**os.environ, **env})
        wall = time.monotonic() - t0
        rss = int(rss_file.read().split()[-1]) * 1024
    return p.returncode, p.stdout, p.stderr, wall, rss


def stylize(model, src, dst, *opts):
    rc, _, err = run_cli("stylize", model, src, dst, "--threads", THREADS, *opts)
    if rc != 0:
        check(f"stylize {os.path.basename(model)} {os.path.basename(src)} {' '.join(opts)}",
              False, f"exit {rc}: {err.strip()}")
        return None
    return load_image(dst)


# ---- test inputs -------------------------------------------------------------------------------

def make_inputs(shared, tmp):
    kodak = os.path.join(shared, "models-src", "images-kodak")
    k23 = load_image(os.path.join(kodak, "kodim23.png"))
    k05 = load_image(os.path.join(kodak, "kodim05.png"))
    k03 = load_image(os.path.join(kodak, "kodim03.png"))
    inputs = {}

    def add(name, arr, fmt="png"):
        path = os.path.join(tmp, name)
        save_image(arr, path, fmt)
        inputs[name] = path

    add("rgb-256x192.png", k23[100:292, 300:556])
    add("odd-251x189.png", k05[50:239, 200:451])  # H % 4 == 1, W % 4 == 3: padded inside
    # A JPEG from the shared images, read directly (the JPEG decoder path).
    inputs["rocket.jpg"] = os.path.join(shared, "models-src", "images-content", "rocket.jpg")
    # RGBA: an alpha ramp with fully transparent and fully opaque corners.
    rgb = k03[200:296, 300:428]  # [96, 128, 3]
    ramp = np.linspace(0, 255, rgb.shape[1]).round().astype(np.uint8)
    alpha = np.broadcast_to(ramp[None, :], rgb.shape[:2]).copy()
    alpha[:8] = 255
    add("rgba-128x96.png", np.dstack([rgb, alpha]))
    # Gray: R = G = B (gdk-pixbuf loads gray files as RGB, so this is what a gray PNG looks like).
    g = to_u8(ycbcr(k05[300:420, 400:560])[0])
    add("gray-160x120.png", np.dstack([g, g, g]))
    # Gray with alpha: the engine gets a 2-channel image.
    add("grayalpha-96x64.png", np.dstack([g[:64, :96]] * 3 + [alpha[:64, :96]]))
    return inputs


def decode_png_strict(path, unfilter=True):
    """An independent PNG reader for the files the CLI writes: every chunk's CRC-32, the zlib
    stream (zlib checks its Adler-32), all five row filters.  uint8 [H, W, C] for 8-bit gray,
    gray + alpha, RGB and RGBA (unfilter=False: only the checks, returns the number of IDAT
    chunks)."""
    import struct
    import zlib
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    pos, idat, ihdr, ended = 8, [], None, False
    while pos < len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) != crc:
            raise ValueError(f"bad CRC in {ctype!r}")
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
        elif ctype == b"IEND":
            ended = True
        pos += 12 + length
    if not ended or ihdr is None:
        raise ValueError("missing IHDR or IEND")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (0, 2, 4, 6) or interlace:
        raise ValueError(f"unexpected IHDR {ihdr}")
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as e:
        raise ValueError(f"zlib stream: {e}")
    stride = 1 + w * bpp
    if len(raw) != h * stride:
        raise ValueError(f"{len(raw)} bytes of rows, want {h * stride}")
    if not unfilter:
        return len(idat)
    out = bytearray()
    n = w * bpp
    prev = bytes(n)
    for y in range(h):
        ft, row = raw[y * stride], raw[y * stride + 1:(y + 1) * stride]
        cur = bytearray(n)
        for x in range(n):
            a = cur[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ft == 0:
                pred = 0
            elif ft == 1:
                pred = a
            elif ft == 2:
                pred = b
            elif ft == 3:
                pred = (a + b) // 2
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                raise ValueError(f"filter {ft}")
            cur[x] = (row[x] + pred) & 255
        out += cur
        prev = cur
    return np.frombuffer(bytes(out), np.uint8).reshape(h, w, bpp)


# ---- test groups -------------------------------------------------------------------------------

def test_png_writer(model, tmp):
    """The CLI's own multi-threaded PNG writer: small and thin images, RGB and RGBA, 1-3 threads;
    each file checked by the strict reader above and by gdk-pixbuf, and the same for any thread
    count."""
    rng = np.random.default_rng(5)
    for w, h, n in ((1, 1, 3), (7, 3, 4), (300, 1, 3), (1, 40, 4), (97, 61, 3)):
        src = rng.integers(0, 256, (h, w, n), dtype=np.uint8)
        ipath = os.path.join(tmp, f"pngw-{w}x{h}x{n}.png")
        save_image(src, ipath)
        outs = []
        for threads in ("1", "2", "3"):
            out = os.path.join(tmp, f"pngw-out-{w}x{h}x{n}-{threads}.png")
            got = stylize(model, ipath, out, "--threads", threads)
            if got is None:
                break
            try:
                strict = decode_png_strict(out)
                detail = ""
            except ValueError as e:
                strict, detail = None, str(e)
            check(f"png writer {w}x{h}x{n} --threads {threads}: valid file, pixels as gdk-pixbuf reads",
                  strict is not None and np.array_equal(strict, got), detail)
            outs.append(got)
        check(f"png writer {w}x{h}x{n}: same pixels for 1, 2, 3 threads",
              len(outs) == 3 and all(np.array_equal(outs[0], o) for o in outs[1:]))
    # Noise compresses badly: over 1 MiB of zlib stream, so several IDAT chunks.
    src = rng.integers(0, 256, (800, 1100, 3), dtype=np.uint8)
    ipath, out = os.path.join(tmp, "pngw-big.png"), os.path.join(tmp, "pngw-big-out.png")
    save_image(src, ipath)
    rc, _, err = run_cli("stylize", model, ipath, out, "--threads", "2", "--strength", "0")
    try:
        chunks, detail = decode_png_strict(out, unfilter=False), ""
    except (ValueError, OSError) as e:
        chunks, detail = 0, str(e)
    check("png writer 1100x800 noise: valid file in several IDAT chunks", rc == 0 and chunks >= 2,
          f"exit {rc}, {chunks} IDAT chunks {detail} {err.strip()}")
    check("png writer 1100x800 noise: gdk-pixbuf reads back the input (strength 0)",
          rc == 0 and np.array_equal(load_image(out), src))

def test_model_vs_ort(model, inputs, tmp):
    sess = session_for(model, tmp)
    mname = os.path.basename(model)
    for iname, ipath in inputs.items():
        name = f"{mname} {iname}"
        src = load_image(ipath)
        want_f = ort_stylize_float(sess, src[..., :3])
        for fmt in ("png",) if not iname.startswith("rgb-") else ("png", "jpg"):
            out_path = os.path.join(tmp, f"out-{mname}-{iname}.{fmt}")
            got = stylize(model, ipath, out_path)
            if got is None:
                continue
            if fmt == "jpg":
                # Lossy output: only check that it is a JPEG of the right size and close overall.
                check_close(f"{name} -> jpeg", got, to_u8(want_f), psnr_min=30.0, max_diff=255)
                continue
            if iname.startswith("gray"):
                check(f"{name} output is gray",
                      np.array_equal(got[..., 0], got[..., 1])
                      and np.array_equal(got[..., 0], got[..., 2]))
                want_g = to_u8(np.clip(want_f @ LUMA, 0, 255))
                check_close(f"{name} vs ORT luma", got[..., 0], want_g)
            else:
                check_close(f"{name} vs ORT", got[..., :3], to_u8(want_f))
            check(f"{name} channels", got.shape[2] == src.shape[2],
                  f"{got.shape[2]} channels from {src.shape[2]}")
            if src.shape[2] == 4 and got.shape[2] == 4:
                check(f"{name} alpha byte-exact", np.array_equal(got[..., 3], src[..., 3]))


def test_strength_and_colors(model, ipath, tmp):
    src = load_image(ipath)[..., :3]
    full = stylize(model, ipath, os.path.join(tmp, "s1.png"))
    zero = stylize(model, ipath, os.path.join(tmp, "s0.png"), "--strength", "0")
    half = stylize(model, ipath, os.path.join(tmp, "s05.png"), "--strength", "0.5")
    if full is None or zero is None or half is None:
        return
    check("strength 0 -> input (+-1)", maxdiff(zero, src) <= 1, f"max |diff| {maxdiff(zero, src)}")
    mid = (src.astype(np.float64) + full.astype(np.float64)) / 2
    d = float(np.max(np.abs(half - mid)))
    check("strength 0.5 -> mean of input and strength 1 (+-1)", d <= 1.0, f"max |diff| {d:.2f}")
    check("strength 0.5 differs from both ends", maxdiff(half, src) > 8 and maxdiff(half, full) > 8)

    pc = stylize(model, ipath, os.path.join(tmp, "pc.png"), "--preserve-colors")
    if pc is None:
        return
    y_in, cb_in, cr_in = ycbcr(src)
    y_st, _, _ = ycbcr(full)
    y_pc, cb_pc, cr_pc = ycbcr(pc)
    # Where the new lightness and the old chroma fit in the RGB cube they are kept exactly (up to
    # rounding); elsewhere the result is clipped, so judge by typical (median) differences.
    dcb, dcr = np.median(np.abs(cb_pc - cb_in)), np.median(np.abs(cr_pc - cr_in))
    check("preserve-colors keeps the input's chroma", dcb <= 1.5 and dcr <= 1.5,
          f"median |dCb| {dcb:.2f}, |dCr| {dcr:.2f}")
    dy = np.median(np.abs(y_pc - y_st))
    dy_in = np.median(np.abs(y_pc - y_in))
    check("preserve-colors takes the stylised luma", dy <= 1.5 and dy_in > 4 * max(dy, 0.5),
          f"median |Y - Y_stylised| {dy:.2f}, |Y - Y_input| {dy_in:.2f}")
    sty_chroma = np.median(np.abs(ycbcr(full)[1] - cb_in))
    check("preserve-colors differs in chroma from the plain stylised result",
          sty_chroma > 3 * max(dcb, 0.5), f"stylised median |dCb| {sty_chroma:.2f}")
    # Per pixel: the engine adds the luma change (BT.601) to each channel of the original and
    # clips, i.e. keeps the original's Cb/Cr wherever the result fits in the RGB cube.
    st = ort_stylize_float(session_for(model, tmp), src)
    dy_ort = (st - src.astype(np.float64)) @ LUMA
    want = to_u8(np.clip(src + dy_ort[..., None], 0, 255))
    check_close("preserve-colors vs ORT (original + luma change, clipped)", pc, want)


def test_tiles(models, ipath, tmp):
    """--tile-size > 0 runs the image in horizontal bands (streaming): same result as ORT."""
    src = load_image(ipath)
    for model in models:
        name = f"{os.path.basename(model)} {os.path.basename(ipath)} --tile-size 64"
        got = stylize(model, ipath, os.path.join(tmp, "tiled.png"), "--tile-size", "64")
        if got is not None:
            want = to_u8(ort_stylize_float(session_for(model, tmp), src[..., :3]))
            check_close(f"{name} vs ORT", got, want)


def test_seams(model, shared, tmp):
    """2048 x 2048 in 256-row bands vs in one piece: PSNR >= 40 dB, and no band boundary stands
    out (the norms see whole-image statistics, so the bands must not show)."""
    k23 = load_image(os.path.join(shared, "models-src", "images-kodak", "kodim23.png"))
    big = np.repeat(np.repeat(k23, 4, axis=0), 3, axis=1)[:2048, :2048]  # [2048, 2048, 3]
    src = os.path.join(tmp, "big-2048.png")
    save_image(big, src)
    whole = stylize(model, src, os.path.join(tmp, "whole.png"), "--tile-size", "0")
    tiled = stylize(model, src, os.path.join(tmp, "tiled.png"), "--tile-size", "256")
    if whole is None or tiled is None:
        return check("2048x2048 tiled vs whole", False, "a run failed")
    name = f"{os.path.basename(model)} 2048x2048 --tile-size 256 vs 0"
    p = psnr(tiled, whole)
    check(name, p >= 40.0, f"PSNR {p:.1f} dB, max |diff| {maxdiff(tiled, whole)}")
    # the worst boundary: mean |tiled - whole| on the two rows around each multiple of 256, against
    # the same measure over the whole image
    d = np.abs(tiled.astype(np.float64) - whole.astype(np.float64)).mean(axis=(1, 2))  # per row
    worst = max(range(256, 2048, 256), key=lambda r: d[r - 1] + d[r])
    at, overall = (d[worst - 1] + d[worst]) / 2, d.mean()
    check(f"{name}: worst boundary (row {worst}) like the rest", at <= overall + 0.5,
          f"mean |diff| {at:.3f} at the boundary, {overall:.3f} overall")


def make_pointwise_model(path):
    """A one-layer model (a 1x1 convolution, 3 -> 3 channels): the engine's own memory stays
    tiny, so what a run holds is the CLI's images."""
    from onnx import TensorProto, helper, numpy_helper
    x = helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, "height", "width"])
    y = helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, "height", "width"])
    w = numpy_helper.from_array((np.eye(3) * 0.8 + 0.05).astype(np.float32).reshape(3, 3, 1, 1), "w")
    b = numpy_helper.from_array(np.full(3, 10, np.float32), "b")
    node = helper.make_node("Conv", ["input1", "w", "b"], ["output1"], kernel_shape=[1, 1])
    graph = helper.make_graph([node], "pointwise", [x], [y], initializer=[w, b])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def write_png(path, w, h, ctype, idat):
    """A PNG file from its parts: IHDR (8 bits, colour type ctype), one IDAT, IEND."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def test_image_limits(model, tiny, inputs, tmp):
    """A PNG header that lies about its size is refused at once, before the image is allocated;
    a real image that compresses as well as deflate allows still passes; --max-pixels."""
    import zlib
    out = os.path.join(tmp, "fail-out.png")
    liar = os.path.join(tmp, "liar-20000x20000.png")
    # 20000 x 20000 RGB claimed (1.2 GB), ten rows of data present
    write_png(liar, 20000, 20000, 2, zlib.compress(bytes(10 * (1 + 3 * 20000)), 9))
    rc, _, err, wall, rss = run_cli_measured("stylize", model, liar, out)  # default --max-pixels
    lines = err.splitlines()
    check("lying PNG header: refused with one clear line",
          rc == 1 and len(lines) == 1 and lines[0].startswith("impasto: ")
          and "liar-20000x20000.png" in err and "20000 x 20000" in err and "truncated or corrupt" in err,
          f"exit {rc}, {err!r}")
    check("lying PNG header: refused in under a second, without allocating the image",
          wall < 1.0 and rss < 100 << 20, f"{wall:.2f} s, peak RSS {rss >> 20} MiB")
    check("lying PNG header: no output left", no_leftovers(tmp, "fail-out.png")[0])
    rc, _, err, wall, rss = run_cli_measured("stylize", model, liar, out, "--max-pixels", "400000000")
    check("lying PNG header under --max-pixels 400000000: refused as quickly",
          rc == 1 and "truncated or corrupt" in err and wall < 1.0 and rss < 100 << 20,
          f"exit {rc}, {wall:.2f} s, peak RSS {rss >> 20} MiB, {err!r}")
    # All black, 3000 x 3000: about 1000:1 at zlib level 9, near deflate's limit, and real.
    black = os.path.join(tmp, "black-3000.png")
    write_png(black, 3000, 3000, 2, zlib.compress(b"".join([bytes(1 + 9000)] * 3000), 9))
    rc, _, err = run_cli("stylize", tiny, black, os.path.join(tmp, "black-out.png"), "--threads", THREADS)
    check("all-black 3000x3000 PNG (~1000:1) is not taken for a lie", rc == 0, f"exit {rc}, {err!r}")
    # A JPEG (Huffman-coded: at least one bit per 8x8 block) claiming 17000 x 17000, under the
    # default pixel limit, cut after 4 kB.
    with open(inputs["rocket.jpg"], "rb") as f:
        jpeg = bytearray(f.read())
    sof = next(i for i in range(2, len(jpeg) - 9) if jpeg[i] == 0xFF and jpeg[i + 1] in (0xC0, 0xC1, 0xC2))
    jpeg[sof + 5:sof + 9] = (17000).to_bytes(2, "big") * 2  # height, width
    jliar = os.path.join(tmp, "liar-17000x17000.jpg")
    with open(jliar, "wb") as f:
        f.write(jpeg[:4096])
    rc, _, err, wall, rss = run_cli_measured("stylize", model, jliar, out)
    check("lying JPEG header: refused at once, without allocating the image",
          rc == 1 and "17000 x 17000" in err and "truncated or corrupt" in err and wall < 1.0
          and rss < 100 << 20, f"exit {rc}, {wall:.2f} s, peak RSS {rss >> 20} MiB, {err!r}")
    img = inputs["rgb-256x192.png"]
    expect_failure("--max-pixels below the image", tmp,
                   ["stylize", tiny, img, out, "--max-pixels", "49151"], ["256 x 192", "--max-pixels"])
    expect_failure("--max-pixels below a JPEG", tmp,
                   ["stylize", tiny, inputs["rocket.jpg"], out, "--max-pixels", "1000"], ["--max-pixels"])
    rc, _, err = run_cli("stylize", tiny, img, os.path.join(tmp, "maxpx.png"), "--max-pixels", "49152")
    check("--max-pixels equal to the image passes", rc == 0, f"exit {rc}, {err!r}")
    expect_failure("--max-pixels 0", tmp, ["stylize", tiny, img, out, "--max-pixels", "0"], ["--max-pixels"])


def test_streamed_output(model, tiny, shared, tmp):
    """PNG results are written row by row as the engine finishes them: the same pixels as when
    the result is composed whole first (IMPASTO_WHOLE_OUTPUT), a valid file for the strict reader
    across row batches, and peak memory that grows by about one copy of the image, not two."""
    k23 = load_image(os.path.join(shared, "models-src", "images-kodak", "kodim23.png"))[..., :3]
    src = os.path.join(tmp, "k23-1200x900.png")
    save_image(np.repeat(np.repeat(k23, 2, axis=0), 2, axis=1)[:900, :1200], src)
    whole_png = os.path.join(tmp, "k23-whole.png")
    rc, _, err, _, _ = run_cli_measured("stylize", model, src, whole_png, "--threads", THREADS,
                                        "--tile-size", "64", env={"IMPASTO_WHOLE_OUTPUT": "1"})
    whole = load_image(whole_png) if rc == 0 else None
    check("1200x900 --tile-size 64, result composed whole", rc == 0, f"exit {rc}, {err!r}")
    out = os.path.join(tmp, "k23-streamed.png")  # one thread: row batches of 291 rows (1 MiB)
    rc, _, err = run_cli("stylize", model, src, out, "--threads", "1", "--tile-size", "64")
    try:
        chunks, detail = decode_png_strict(out, unfilter=False), ""
    except (ValueError, OSError) as e:
        chunks, detail = 0, str(e)
    check("1200x900 streamed: valid PNG for the strict reader", rc == 0 and chunks >= 2,
          f"exit {rc}, {chunks} IDAT chunks {detail} {err.strip()}")
    check("1200x900 streamed: pixel for pixel the whole-composed result",
          whole is not None and rc == 0 and np.array_equal(load_image(out), whole))

    # Rows of 22 kB gray: 47-row batches per PNG thread, so 100 rows are 3 batches (1 thread) or
    # 2 (2 threads); the file is gray.  Every byte goes through the strict reader's unfiltering
    # (one thread; the other only its checks), the pixels are those gdk-pixbuf reads.
    rng = np.random.default_rng(8)
    g = (np.linspace(0, 180, 22000)[None, :] + rng.integers(0, 70, (100, 22000))).astype(np.uint8)
    gsrc = os.path.join(tmp, "gray-22000x100.png")
    save_image(np.dstack([g, g, g]), gsrc)
    for threads in ("1", "2"):
        out = os.path.join(tmp, f"gray-streamed-{threads}.png")
        rc, _, err = run_cli("stylize", tiny, gsrc, out, "--threads", threads)
        got = load_image(out) if rc == 0 else None
        try:
            strict, detail = decode_png_strict(out, unfilter=threads == "1"), ""
        except (ValueError, OSError) as e:
            strict, detail = None, str(e)
        if threads == "1":
            ok = (strict is not None and strict.shape == (100, 22000, 1) and got is not None
                  and np.array_equal(strict[..., 0], got[..., 0]))
        else:
            ok = strict is not None and got is not None and np.array_equal(got, first)
        check(f"gray 22000x100 in row batches, --threads {threads}: "
              + ("strict reader = gdk-pixbuf" if threads == "1" else "valid, same pixels as 1 thread"),
              ok and np.array_equal(got[..., 0], got[..., 2]), f"exit {rc} {detail} {err.strip()}")
        first = got

    # Peak RSS at two sizes: the difference is one 8-bit copy of the extra pixels (the input), not
    # two or more (input and a whole output, as before the rows were streamed).  Measured in the
    # uninstrumented builds only: AddressSanitizer's redzones and quarantined frees inflate RSS.
    if os.environ.get("IMPASTO_SANITIZED"):
        print(f"# peak RSS scaling not measured under -fsanitize={os.environ['IMPASTO_SANITIZED']}"
              " (checked in the release builds)", flush=True)
        return
    rss = {}
    for w, h in ((1000, 750), (4000, 3000)):
        y, x = np.mgrid[0:h, 0:w]
        img = np.dstack([x * 255 // w, y * 255 // h, (x + y) % 256]).astype(np.uint8)
        path = os.path.join(tmp, f"ramp-{w}x{h}.png")
        save_image(img, path)
        rc, _, err, _, rss[w] = run_cli_measured("stylize", tiny, path, os.path.join(tmp, "ramp-out.png"),
                                                 "--threads", THREADS, "--tile-size", "64")
        check(f"ramp {w}x{h} runs", rc == 0, f"exit {rc}, {err!r}")
    extra = (4000 * 3000 - 1000 * 750) * 3
    ratio = (rss[4000] - rss[1000]) / extra
    check("peak RSS grows by about one copy of the image (< 1.5 copies)", ratio < 1.5,
          f"{rss[1000] >> 20} -> {rss[4000] >> 20} MiB for {extra >> 20} MiB more pixels: {ratio:.2f} copies")


def no_leftovers(tmp, out_name):
    left = [f for f in os.listdir(tmp) if f == out_name or (out_name in f and "impasto-" in f)]
    return not left, left


def expect_failure(name, tmp, args, needles, out_name="fail-out.png", timeout=300):
    stale = os.path.join(tmp, out_name or "fail-out.png")
    if os.path.exists(stale):  # left by an earlier failed check: do not let it cascade
        os.unlink(stale)
    try:
        rc, out, err = run_cli(*args, timeout=timeout)
    except subprocess.TimeoutExpired:
        check(f"error: {name}", False, f"no answer in {timeout} s (blocked?), wanted {needles}")
        return
    lines = err.splitlines()
    ok = (rc != 0 and len(lines) == 1 and lines[0].startswith("impasto: ")
          and all(n.lower() in lines[0].lower() for n in needles))
    check(f"error: {name}", ok, f"exit {rc}, stderr {err!r}, wanted {needles}")
    if out_name is None:
        return
    clean, left = no_leftovers(tmp, out_name)
    check(f"error: {name} leaves no output", clean, f"left {left}")


def make_unsupported_model(path):
    from onnx import TensorProto, helper
    x = helper.make_tensor_value_info("input1", TensorProto.FLOAT, [1, 3, "height", "width"])
    y = helper.make_tensor_value_info("output1", TensorProto.FLOAT, [1, 3, "height", "width"])
    node = helper.make_node("LRN", ["input1"], ["output1"], size=3)
    graph = helper.make_graph([node], "lrn", [x], [y])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.save(m, path)


def test_errors(shared, inputs, tmp):
    mosaic = os.path.join(shared, "models", "mosaic-9.onnx")
    img = inputs["rgb-256x192.png"]
    out = os.path.join(tmp, "fail-out.png")

    missing = os.path.join(tmp, "no-such-model.onnx")
    expect_failure("missing model", tmp, ["stylize", missing, img, out],
                   ["no-such-model.onnx", "no such file"])

    text = os.path.join(tmp, "not-a-model.onnx")
    with open(text, "w") as f:
        f.write("This is not an ONNX file, just some text.\n" * 10)
    expect_failure("not an ONNX file", tmp, ["stylize", text, img, out],
                   ["not-a-model.onnx", "not an ONNX model"])

    truncated = os.path.join(tmp, "truncated.onnx")
    with open(mosaic, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read(1000))
    expect_failure("truncated model", tmp, ["stylize", truncated, img, out], ["truncated.onnx"])

    lrn = os.path.join(tmp, "lrn.onnx")
    make_unsupported_model(lrn)
    expect_failure("unsupported op", tmp, ["stylize", lrn, img, out],
                   ["lrn.onnx", "unsupported", "LRN"])
    expect_failure("info on unsupported op", tmp, ["info", lrn], ["LRN"], out_name=None)

    bad_img = os.path.join(tmp, "not-an-image.png")
    with open(bad_img, "w") as f:
        f.write("not a PNG\n")
    expect_failure("unreadable image", tmp, ["stylize", mosaic, bad_img, out],
                   ["not-an-image.png", "cannot read image"])
    expect_failure("missing image", tmp, ["stylize", mosaic, os.path.join(tmp, "nope.png"), out],
                   ["nope.png"])
    # A FIFO is refused, not opened blocking (which waits for a writer that never comes).
    fifo_img, fifo_model = os.path.join(tmp, "fifo.png"), os.path.join(tmp, "fifo.onnx")
    os.mkfifo(fifo_img)
    os.mkfifo(fifo_model)
    expect_failure("FIFO as image", tmp, ["stylize", mosaic, fifo_img, out],
                   [f"cannot read image '{fifo_img}': not a regular file"], timeout=30)
    expect_failure("FIFO as model", tmp, ["stylize", fifo_model, img, out],
                   [f"{fifo_model}: not a regular file"], timeout=30)
    os.unlink(fifo_img)
    os.unlink(fifo_model)
    expect_failure("unwritable output", tmp,
                   ["stylize", mosaic, img, os.path.join(tmp, "no-dir", "fail-out.png")],
                   ["no-dir"])
    expect_failure("--strength 2", tmp, ["stylize", mosaic, img, out, "--strength", "2"],
                   ["--strength"])
    expect_failure("--threads -3", tmp, ["stylize", mosaic, img, out, "--threads", "-3"],
                   ["--threads"])
    expect_failure("unknown output format", tmp, ["stylize", mosaic, img,
                                                  os.path.join(tmp, "fail-out.gif")], ["gif"],
                   out_name="fail-out.gif")

    # An existing output is left untouched when a run fails.
    with open(out, "wb") as f:
        f.write(b"previous")
    rc, _, _ = run_cli("stylize", truncated, img, out)
    with open(out, "rb") as f:
        check("failed run keeps an existing output untouched", rc != 0 and f.read() == b"previous")
    os.unlink(out)


def test_interrupt(shared, tmp):
    """Ctrl-C during a run: the process dies by SIGINT and leaves neither output nor temp file.

    The signal is sent at several moments: right when the temporary file appears (the moment the
    CLI is still recording its name, and a signal may land on an OpenBLAS thread), and later, while
    the model loads and runs."""
    import signal
    import time
    model = os.path.join(shared, "models", "mosaic-9.onnx")
    img = os.path.join(shared, "models-src", "images-kodak", "kodim01.png")
    for i, delay in enumerate([0, 0, 0, 0, 0, 0.02, 0.1, 0.4]):
        folder = os.path.join(tmp, f"interrupt-{i}")
        os.mkdir(folder)
        out = os.path.join(folder, "out.png")
        p = subprocess.Popen([CLI, "stylize", model, img, out, "--threads", THREADS],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # The temporary file appears right after the image is read, before the model is even
        # loaded; signal when it exists (plus the delay), long before the stylisation can finish.
        deadline = time.monotonic() + 60
        while not os.listdir(folder) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        started = bool(os.listdir(folder))
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        name = f"SIGINT {delay * 1000:.0f} ms after the temp file (run {i + 1})"
        check(f"{name}: temp file seen while running", started)
        check(f"{name}: process killed by SIGINT", p.returncode == -signal.SIGINT,
              f"exit {p.returncode}, stderr {err!r}")
        check(f"{name}: nothing left behind", os.listdir(folder) == [],
              f"left {os.listdir(folder)}")


def test_misc(shared):
    rc, out, _ = run_cli("--version")
    check("--version", rc == 0 and out.startswith("impasto ") and out.count("\n") == 1, repr(out))
    rc, out, _ = run_cli("--help")
    check("--help", rc == 0 and "stylize" in out and "--strength" in out, repr(out[:80]))
    rc, out, err = run_cli("info", os.path.join(shared, "models", "mosaic-9.onnx"))
    check("info mosaic-9", rc == 0 and "Conv" in out and "InstanceNormalization" in out,
          f"exit {rc}: {err.strip()} {out[:200]!r}")


def main():
    global CLI
    if len(sys.argv) != 2:
        print("usage: test_cli.py PATH/TO/impasto", file=sys.stderr)
        return 2
    CLI = os.path.abspath(sys.argv[1])
    shared = os.environ.get("IMPASTO_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    models_dir = os.path.join(shared, "models")
    if not os.path.isdir(models_dir):
        return missing_data(f"no shared models in {models_dir}")
    models = sorted(os.path.join(models_dir, f) for f in os.listdir(models_dir) if f.endswith(".onnx"))
    with tempfile.TemporaryDirectory(prefix="impasto-cli-") as tmp:
        inputs = make_inputs(shared, tmp)
        test_misc(shared)
        test_errors(shared, inputs, tmp)
        test_interrupt(shared, tmp)
        test_png_writer(os.path.join(models_dir, "mosaic-9.onnx"), tmp)
        tiny = os.path.join(tmp, "pointwise.onnx")
        make_pointwise_model(tiny)
        test_image_limits(os.path.join(models_dir, "mosaic-9.onnx"), tiny, inputs, tmp)
        test_streamed_output(os.path.join(models_dir, "mosaic-9.onnx"), tiny, shared, tmp)
        for model in models:
            test_model_vs_ort(model, inputs, tmp)
        test_tiles([m for m in models if os.path.basename(m).startswith("mosaic-")],
                   inputs["odd-251x189.png"], tmp)
        test_strength_and_colors(os.path.join(models_dir, "mosaic-9.onnx"),
                                 inputs["rgb-256x192.png"], tmp)
        test_seams(os.path.join(models_dir, "mosaic-9.onnx"), shared, tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
