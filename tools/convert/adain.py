# SPDX-License-Identifier: GPL-3.0-or-later
"""pytorch-AdaIN (Huang & Belongie 2017; naoto0804/pytorch-AdaIN) to ONNX: the VGG-19 encoder up to
relu4_1 (vgg_normalised.pth, Sequential indices 0..30), AdaIN, and the decoder (decoder.pth).

The graph has two inputs, content and style (RGB 0..1, any sizes) and one output (RGB ~0..1).
AdaIN follows net.py's calc_mean_std: per channel mean and unbiased variance over H*W, eps 1e-5
added to the variance.  MaxPool uses ceil_mode, so the output is 8*ceil(H/8) x 8*ceil(W/8)."""
import numpy as np

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


def _mean_std(b, f):
    mean = b.op("ReduceMean", [f], axes=[2, 3], keepdims=1)
    d = b.op("Sub", [f, mean])
    biased = b.op("ReduceMean", [b.op("Mul", [d, d])], axes=[2, 3], keepdims=1)
    # unbiased: * n / (n - 1), n = H * W taken from the run-time shape
    hw = b.op("Slice", [b.op("Shape", [f]), b.const(np.array([2], np.int64)), b.const(np.array([4], np.int64))])
    n = b.op("Cast", [b.op("ReduceProd", [hw], keepdims=1)], to=1)
    nm1 = b.op("Sub", [n, b.const(np.array([1], np.float32))])
    var = b.op("Div", [b.op("Mul", [biased, n]), nm1])
    std = b.op("Sqrt", [b.op("Add", [var, b.const(np.array(1e-5, np.float32))])])
    return mean, std


def adain(vgg, dec, metadata):
    b = Builder()
    c = b.input("content", [1, 3, "content_height", "content_width"])
    s = b.input("style", [1, 3, "style_height", "style_width"])
    fc, fs = _encode(b, vgg, c), _encode(b, vgg, s)
    cm, cs = _mean_std(b, fc)
    sm, ss = _mean_std(b, fs)
    t = b.op("Add", [b.op("Mul", [b.op("Div", [b.op("Sub", [fc, cm]), cs]), ss]), sm])
    x = t
    for layer in DECODER:
        if layer[0] == "up":
            x = b.upsample2(x)
            continue
        i = layer[1]
        x = b.conv(b.reflect_pad(x, 1), weight(dec, f"{i}.weight"), weight(dec, f"{i}.bias"))
        if i != 28:
            x = b.op("Relu", [x])
    b.output(x, "output", [1, 3, "out_height", "out_width"])
    return b.model(metadata, "AdaIN arbitrary style transfer (Huang & Belongie 2017)")
