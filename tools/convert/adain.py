# SPDX-License-Identifier: GPL-3.0-or-later
"""pytorch-AdaIN (Huang & Belongie 2017; naoto0804/pytorch-AdaIN) to ONNX: the VGG-19 encoder up to
relu4_1 (vgg_normalised.pth, Sequential indices 0..30), AdaIN, and the decoder (decoder.pth).

Two graphs, as an AdaIN pack's networks: the encoder (`input` RGB 0..1, any size -> `features`)
and the decoder (`features` -> `output` RGB ~0..1).  AdaIN runs between them (net.py's
calc_mean_std: per channel mean and unbiased variance over H*W, eps 1e-5 added to the variance).
MaxPool uses ceil_mode, so the output is 8*ceil(H/8) x 8*ceil(W/8)."""

from onnx_builder import Builder, weight

ENCODER = [("conv", 0, 0)] + [  # (kind, state-dict index, reflect pad)
    ("conv", 2, 1), ("conv", 5, 1), ("pool",), ("conv", 9, 1), ("conv", 12, 1), ("pool",),
    ("conv", 16, 1), ("conv", 19, 1), ("conv", 22, 1), ("conv", 25, 1), ("pool",), ("conv", 29, 1)]
DECODER = [("conv", 1), ("up",), ("conv", 5), ("conv", 8), ("conv", 11), ("conv", 14), ("up",),
           ("conv", 18), ("conv", 21), ("up",), ("conv", 25), ("conv", 28)]


def _encode(b, vgg, x):
    for layer in ENCODER:
        if layer[0] == "pool":
            x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
            continue
        _, i, pad = layer
        if pad:
            x = b.reflect_pad(x, pad)
        x = b.conv(x, weight(vgg, f"{i}.weight"), weight(vgg, f"{i}.bias"))
        if i != 0:  # the leading 1x1 conv (RGB -> BGR 0..255 in the Lua original) has no ReLU
            x = b.op("Relu", [x])
    return x


def adain(vgg, dec, metadata):
    """{role: ONNX model}: the encoder (image -> relu4_1 features) and the decoder (features -> image).
    AdaIN itself runs between them, so that a style's statistics are computed once per style."""
    e = Builder()
    x = e.input("input", [1, 3, "height", "width"])
    e.output(_encode(e, vgg, x), "features", [1, "channels", "feature_height", "feature_width"])
    d = Builder()
    x = d.input("features", [1, "channels", "feature_height", "feature_width"])
    for layer in DECODER:
        if layer[0] == "up":
            x = d.upsample2(x)
            continue
        i = layer[1]
        x = d.conv(d.reflect_pad(x, 1), weight(dec, f"{i}.weight"), weight(dec, f"{i}.bias"))
        if i != 28:
            x = d.op("Relu", [x])
    d.output(x, "output", [1, 3, "out_height", "out_width"])
    return {"encoder": e.model(metadata, "AdaIN encoder: VGG-19 to relu4_1 (Huang & Belongie 2017)"),
            "decoder": d.model(metadata, "AdaIN decoder (Huang & Belongie 2017)")}
