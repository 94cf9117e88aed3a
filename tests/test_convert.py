#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The converters of tools/convert against PyTorch and ONNX Runtime.

    python3 tests/test_convert.py BUILD/cli/impasto

CycleGAN ResNet, pix2pix U-Net and AdaIN checkpoints with seeded random weights are made here with
PyTorch in the layouts of the published files (pytorch-CycleGAN-and-pix2pix, pytorch-AdaIN), saved both
as zip and as legacy (torch <= 1.5) checkpoints, converted by tools/convert/impasto-convert.py (numpy +
onnx only), and the ONNX results compared with PyTorch on the same weights: PSNR >= 50 dB through ONNX
Runtime, and for the single-image nets (CycleGAN, pix2pix) also through our engine (the impasto CLI,
8-bit PNG in and out).  AdaIN has two inputs (content, style), which the engine does not run yet: it is
checked through ONNX Runtime only.  Magenta: the shared TFLite originals are converted and compared with
the shared float ONNX conversions (verified against TFLite) through ONNX Runtime.  Error paths: unknown
format, pickles that reference code, truncated checkpoints.

Exit status: 0 all passed, 1 something failed, 77 skipped (no torch/onnx/onnxruntime/Pillow).
"""
import os
import pickle
import subprocess
import sys
import tempfile

SKIP = 77
try:
    import numpy as np
    import onnxruntime as ort
    import torch
    import torch.nn as nn
    from PIL import Image
except ImportError as e:
    print(f"SKIP: needs numpy, onnxruntime, PyTorch and Pillow (the Debian 13 root has them: "
          f"scripts/in-trixie.sh meson test -C build-trixie convert) ({e})")
    sys.exit(SKIP)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap import check, summary  # noqa: E402

SOURCE = os.environ.get("IMPASTO_SOURCE", os.path.join(os.path.dirname(__file__), ".."))
SHARED = os.environ.get("IMPASTO_SHARED", os.path.join(SOURCE, "..", "shared"))
CONVERT = os.path.join(SOURCE, "tools", "convert", "impasto-convert.py")
PSNR_MIN = 50.0
torch.set_num_threads(2)


def psnr(a, b, peak):
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)


def convert(converter, out_dir, *inputs):
    r = subprocess.run([sys.executable, CONVERT, converter, out_dir, *inputs], capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def ort_run(path, feeds):
    o = ort.SessionOptions()
    o.intra_op_num_threads = 2
    o.log_severity_level = 3
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


# ---- the published layouts, random weights ------------------------------------------------------
class ResnetBlock(nn.Module):  # pytorch-CycleGAN-and-pix2pix networks.py, no dropout
    def __init__(self, c):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=True), nn.InstanceNorm2d(c),
                                        nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3, bias=True),
                                        nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf, n_blocks):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=True), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for i in range(2):
            k = 2 ** i
            m += [nn.Conv2d(ngf * k, ngf * k * 2, 3, 2, 1, bias=True), nn.InstanceNorm2d(ngf * k * 2), nn.ReLU(True)]
        m += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            k = 2 ** (2 - i)
            m += [nn.ConvTranspose2d(ngf * k, ngf * k // 2, 3, 2, 1, output_padding=1, bias=True),
                  nn.InstanceNorm2d(ngf * k // 2), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class UnetBlock(nn.Module):
    def __init__(self, outer, inner, inc=None, sub=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost = outermost
        inc = inc or outer
        downconv = nn.Conv2d(inc, inner, 4, 2, 1, bias=False)
        if outermost:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1)
            model = [downconv, sub, nn.ReLU(True), up, nn.Tanh()]
        elif innermost:
            up = nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False)
            model = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True), up, nn.BatchNorm2d(outer)]
        else:
            up = nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False)
            model = [nn.LeakyReLU(0.2, True), downconv, nn.BatchNorm2d(inner), sub, nn.ReLU(True), up,
                     nn.BatchNorm2d(outer), nn.Dropout(0.5)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    def __init__(self, ngf, num_downs=8):
        super().__init__()
        b = UnetBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(num_downs - 5):
            b = UnetBlock(ngf * 8, ngf * 8, sub=b)
        b = UnetBlock(ngf * 4, ngf * 8, sub=b)
        b = UnetBlock(ngf * 2, ngf * 4, sub=b)
        b = UnetBlock(ngf, ngf * 2, sub=b)
        self.model = UnetBlock(3, ngf, inc=3, sub=b, outermost=True)

    def forward(self, x):
        return self.model(x)


def adain_nets(w):
    """pytorch-AdaIN's net.vgg (to relu4_1 and beyond, as published) and net.decoder, widths / (64 / w)."""
    def pad():
        return nn.ReflectionPad2d((1, 1, 1, 1))
    c1, c2, c3, c4 = w, 2 * w, 4 * w, 8 * w
    vgg = nn.Sequential(
        nn.Conv2d(3, 3, 1), pad(), nn.Conv2d(3, c1, 3), nn.ReLU(), pad(), nn.Conv2d(c1, c1, 3), nn.ReLU(),
        nn.MaxPool2d(2, 2, 0, ceil_mode=True), pad(), nn.Conv2d(c1, c2, 3), nn.ReLU(), pad(), nn.Conv2d(c2, c2, 3),
        nn.ReLU(), nn.MaxPool2d(2, 2, 0, ceil_mode=True), pad(), nn.Conv2d(c2, c3, 3), nn.ReLU(), pad(),
        nn.Conv2d(c3, c3, 3), nn.ReLU(), pad(), nn.Conv2d(c3, c3, 3), nn.ReLU(), pad(), nn.Conv2d(c3, c3, 3),
        nn.ReLU(), nn.MaxPool2d(2, 2, 0, ceil_mode=True), pad(), nn.Conv2d(c3, c4, 3), nn.ReLU(),
        pad(), nn.Conv2d(c4, c4, 3), nn.ReLU())  # relu4_2: in the file, unused by AdaIN
    dec = nn.Sequential(
        pad(), nn.Conv2d(c4, c3, 3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
        pad(), nn.Conv2d(c3, c3, 3), nn.ReLU(), pad(), nn.Conv2d(c3, c3, 3), nn.ReLU(),
        pad(), nn.Conv2d(c3, c3, 3), nn.ReLU(), pad(), nn.Conv2d(c3, c2, 3), nn.ReLU(),
        nn.Upsample(scale_factor=2, mode="nearest"), pad(), nn.Conv2d(c2, c2, 3), nn.ReLU(),
        pad(), nn.Conv2d(c2, c1, 3), nn.ReLU(), nn.Upsample(scale_factor=2, mode="nearest"),
        pad(), nn.Conv2d(c1, c1, 3), nn.ReLU(), pad(), nn.Conv2d(c1, 3, 3))
    return vgg, dec


def adain_torch(vgg, dec, content, style):
    enc = vgg[:31]

    def mean_std(f):
        n, c = f.shape[:2]
        var = f.view(n, c, -1).var(dim=2) + 1e-5
        return f.view(n, c, -1).mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)
    fc, fs = enc(content), enc(style)
    cm, cs = mean_std(fc)
    sm, ss = mean_std(fs)
    return dec((fc - cm) / cs * ss + sm)


def adain_pair_run(encoder, decoder, content, style):
    """An AdaIN pack (encoder.onnx, decoder.onnx) through ONNX Runtime, AdaIN between them in float64
    as pytorch-AdaIN's calc_mean_std: unbiased variance + 1e-5."""
    def mean_std(f):
        flat = f.reshape(f.shape[0], f.shape[1], -1).astype(np.float64)
        return flat.mean(2)[..., None, None], np.sqrt(flat.var(2, ddof=1) + 1e-5)[..., None, None]
    fc, fs = ort_run(encoder, {"input": content}), ort_run(encoder, {"input": style})
    cm, cs = mean_std(fc)
    sm, ss = mean_std(fs)
    return ort_run(decoder, {"features": ((fc - cm) / cs * ss + sm).astype(np.float32)})


def randomise(net, seed):
    torch.manual_seed(seed)
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.5 / np.sqrt(m.weight[0].numel()))
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.1, 0.1)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return net.eval()


def save_both(sd, tmp, stem):
    """The state dict as a zip checkpoint and as a legacy (torch <= 1.5) one."""
    zipped, legacy = os.path.join(tmp, stem + ".pth"), os.path.join(tmp, stem + "-legacy.pth")
    torch.save(sd, zipped)
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    return zipped, legacy


def test_pattern(h, w):
    """A small synthetic picture (gradients + rings), uint8 [H, W, 3]: no third-party image."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(y - h / 2, x - w / 2)
    img = np.stack([x / w * 255, y / h * 255, 127.5 + 127.5 * np.sin(r / 4)], -1)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def check_engine(name, impasto, onnx_path, img_u8, expect_u8, tmp, against="PyTorch"):
    """Our engine through the CLI on an 8-bit picture against the reference's (rounded) output."""
    src, dst = os.path.join(tmp, name + "-in.png"), os.path.join(tmp, name + "-out.png")
    Image.fromarray(img_u8).save(src)
    r = subprocess.run([impasto, "stylize", onnx_path, src, dst, "--threads", "2"], capture_output=True, text=True)
    if not check(f"{name}: the engine runs the converted model", r.returncode == 0, r.stderr.strip()):
        return
    got = np.asarray(Image.open(dst).convert("RGB"))
    p = psnr(got, expect_u8, 255)
    diff = int(np.abs(got.astype(int) - expect_u8.astype(int)).max())
    check(f"{name}: engine vs {against} PSNR >= {PSNR_MIN} dB", p >= PSNR_MIN, f"{p:.1f} dB, max |diff| {diff}/255")


def gan_case(name, net, converter, size, impasto, tmp):
    sd = net.state_dict()
    img = test_pattern(size, size)
    x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    with torch.no_grad():
        ref = net(x).numpy()
    check(f"{name}: the random-weight reference output is not flat", float(ref.std()) > 0.05, f"std {ref.std():.3f}")
    for path in save_both(sd, tmp, name):
        kind = "legacy" if path.endswith("-legacy.pth") else "zip"
        out = os.path.join(tmp, f"{name}-{kind}")
        rc, err = convert(converter, out, path)
        if not check(f"{name} ({kind} checkpoint): {converter} converts", rc == 0, err):
            continue
        got = ort_run(os.path.join(out, "model.onnx"), {"input": x.numpy()})
        p = psnr(got, ref, 2.0)
        check(f"{name} ({kind}): ONNX Runtime vs PyTorch PSNR >= {PSNR_MIN} dB", p >= PSNR_MIN,
              f"{p:.1f} dB, max |diff| {np.abs(got - ref).max():.2e}")
        rc, err = convert("auto", out + "-auto", path)
        check(f"{name} ({kind}): auto recognises the architecture", rc == 0 and os.path.exists(
            os.path.join(out + "-auto", "model.onnx")), err)
    if impasto:
        expect = np.clip(np.rint((ref[0].transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8)
        check_engine(name, impasto, os.path.join(tmp, f"{name}-zip", "model.onnx"), img, expect, tmp)


def test_adain(tmp):
    vgg, dec = adain_nets(16)
    randomise(vgg, 3)
    randomise(dec, 4)
    content = torch.from_numpy(test_pattern(72, 96).astype(np.float32) / 255).permute(2, 0, 1)[None]
    style = torch.rand(1, 3, 64, 80, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = adain_torch(vgg, dec, content, style).numpy()
    vz, vl = save_both(vgg.state_dict(), tmp, "vgg")
    dz, dl = save_both(dec.state_dict(), tmp, "decoder")
    for kind, v, d in (("zip", vz, dz), ("legacy", vl, dl)):
        out = os.path.join(tmp, "adain-" + kind)
        rc, err = convert("pth-adain", out, v, d)
        if not check(f"adain ({kind}): pth-adain converts", rc == 0, err):
            continue
        check(f"adain ({kind}): a pack of encoder.onnx and decoder.onnx, no model.onnx",
              sorted(os.listdir(out)) == ["decoder.onnx", "encoder.onnx"], str(os.listdir(out)))
        got = adain_pair_run(os.path.join(out, "encoder.onnx"), os.path.join(out, "decoder.onnx"),
                             content.numpy(), style.numpy())
        p = psnr(got, ref, 1.0)
        check(f"adain ({kind}): encoder, AdaIN, decoder (ONNX Runtime) vs PyTorch PSNR >= {PSNR_MIN} dB "
              "(our engine does not run AdaIN yet)", p >= PSNR_MIN and got.shape == ref.shape,
              f"{p:.1f} dB, max |diff| {np.abs(got - ref).max():.2e}, shape {got.shape}")


def test_magenta(tmp):
    src = os.path.join(SHARED, "models-src", "magenta-arbitrary-tflite")
    ref = os.path.join(SHARED, "models-magenta")
    present = os.path.isdir(src) and os.path.isdir(ref)
    if not check("magenta: shared TFLite originals and ONNX references present", present,
                 "" if present else f"missing {src} or {ref}"):
        return
    out = os.path.join(tmp, "magenta")
    rc, err = convert("tflite-magenta", out, os.path.join(src, "style_predict_quantized_256.tflite"),
                      os.path.join(src, "style_transfer_f16_384.tflite"))
    if not check("magenta: tflite-magenta converts", rc == 0, err):
        return
    rng = np.random.default_rng(6)
    style = rng.random((1, 3, 256, 256), np.float32)
    a = ort_run(os.path.join(out, "predictor.onnx"), {"style_image": style})
    b = ort_run(os.path.join(ref, "magenta-style-predict.onnx"), {"style_image": style})
    check("magenta: predictor vs the shared float ONNX (max |diff| <= 1e-4)", np.abs(a - b).max() <= 1e-4,
          f"max |diff| {np.abs(a - b).max():.2e} on a 100-d vector of norm {np.linalg.norm(b):.2f}")
    content = test_pattern(100, 148).astype(np.float32).transpose(2, 0, 1)[None] / 255
    check("magenta: a pack of predictor.onnx and transfer.onnx", sorted(os.listdir(out)) ==
          ["predictor.onnx", "transfer.onnx"], str(os.listdir(out)))
    a = ort_run(os.path.join(out, "transfer.onnx"), {"content_image": content, "style_bottleneck": b})
    c = ort_run(os.path.join(ref, "magenta-style-transfer.onnx"), {"content_image": content, "style_bottleneck": b})
    check("magenta: transfer vs the shared float ONNX at 100x148 (max |diff| <= 1e-4)",
          np.abs(a - c).max() <= 1e-4, f"max |diff| {np.abs(a - c).max():.2e}")


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_ncnn(impasto, tmp):
    """The zoo's TransformerNet from the ncnn fp16 originals against ../shared/models (made from them)."""
    import onnx
    from ort_model import free_hw
    src = os.path.join(SHARED, "models-src", "fns-onnxzoo-ncnn")
    img = test_pattern(96, 128)
    x = img.astype(np.float32).transpose(2, 0, 1)[None]
    for style in ("candy", "rain_princess"):
        ref_path = os.path.join(SHARED, "models", f"{style}-9.onnx")
        if not check(f"ncnn {style}: shared original and ONNX present", os.path.isfile(ref_path)):
            continue
        out = os.path.join(tmp, "ncnn-" + style)
        rc, err = convert("ncnn-fast-style", out, os.path.join(src, style + ".bin"))
        if not check(f"ncnn {style}: ncnn-fast-style converts", rc == 0, err):
            continue
        ref = ort_run(free_hw(onnx.load(ref_path)).SerializeToString(), {"input1": x})
        got = ort_run(os.path.join(out, "model.onnx"), {"input": x})
        p = psnr(got, ref, 255.0)
        check(f"ncnn {style}: ONNX Runtime vs the shared ONNX PSNR >= {PSNR_MIN} dB", p >= PSNR_MIN,
              f"{p:.1f} dB, max |diff| {np.abs(got - ref).max():.2e}")
        if impasto:
            expect = np.clip(np.rint(ref[0].transpose(1, 2, 0)), 0, 255).astype(np.uint8)
            check_engine(f"ncnn {style}", impasto, os.path.join(out, "model.onnx"), img, expect, tmp,
                         against="ONNX Runtime")
    rc, err = convert("ncnn-fast-style", os.path.join(tmp, "ncnn-bad"), os.path.join(src, "candy9.param"))
    check("ncnn: a file that is not the TransformerNet's weights is refused", rc == 2 and "candy9.param" in err, err)


def test_errors(tmp):
    junk = os.path.join(tmp, "junk.bin")
    with open(junk, "wb") as f:
        f.write(b"GIF89a not a model at all" * 10)
    rc, err = convert("auto", os.path.join(tmp, "junk-out"), junk)
    check("unknown format: refused with exit status 2 and a message", rc == 2 and "unknown model format" in err, err)
    check("unknown format: nothing written", not os.path.exists(os.path.join(tmp, "junk-out")))

    evil = os.path.join(tmp, "evil.pth")
    torch.save({"model.1.weight": torch.zeros(1)}, evil, _use_new_zipfile_serialization=False)
    with open(evil, "wb") as f:  # a legacy checkpoint whose object pickle calls os.system
        for obj in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(obj, f, protocol=2)
        pickle.dump(Evil(), f, protocol=2)
    rc, err = convert("pth-cyclegan", os.path.join(tmp, "evil-out"), evil)
    check("a pickle that calls code is refused, not run", rc == 2 and "refusing to load" in err and "system" in err, err)

    net = randomise(ResnetGenerator(4, 1), 7)
    good = os.path.join(tmp, "small.pth")
    torch.save(net.state_dict(), good)
    data = open(good, "rb").read()
    cut = os.path.join(tmp, "cut.pth")
    open(cut, "wb").write(data[: len(data) // 2])
    rc, err = convert("pth-cyclegan", os.path.join(tmp, "cut-out"), cut)
    check("a truncated checkpoint is refused", rc == 2 and "cut.pth" in err, err)
    rc, err = convert("pth-pix2pix", os.path.join(tmp, "wrong-out"), good)
    check("a checkpoint of another architecture is refused by name", rc == 2 and "model.model.0.weight" in err, err)
    tfl = os.path.join(tmp, "cut.tflite")
    src = os.path.join(SHARED, "models-src", "magenta-arbitrary-tflite", "style_transfer_f16_384.tflite")
    if os.path.exists(src):
        open(tfl, "wb").write(open(src, "rb").read()[:5000])
        rc, err = convert("tflite-magenta", os.path.join(tmp, "tfl-out"), tfl, tfl)
        check("a truncated TFLite file is refused", rc == 2 and "cut.tflite" in err, err)


def main():
    impasto = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as tmp:
        gan_case("cyclegan", randomise(ResnetGenerator(8, 9), 1), "pth-cyclegan", 64, impasto, tmp)
        gan_case("pix2pix", randomise(UnetGenerator(8), 2), "pth-pix2pix", 256, impasto, tmp)
        test_adain(tmp)
        test_magenta(tmp)
        test_ncnn(impasto, tmp)
        test_errors(tmp)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
