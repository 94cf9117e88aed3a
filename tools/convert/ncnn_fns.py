# SPDX-License-Identifier: GPL-3.0-or-later
"""The ONNX model zoo's fast-neural-style TransformerNet from its ncnn fp16 weight file (.bin) to ONNX.

The .bin has no header: per Convolution a 4-byte storage tag (0x01306B47 = fp16), the weights [O, I, kh, kw]
as half floats, then O float32 biases; per InstanceNorm C float32 gammas then C betas; in layer order.
The graph is fixed (pytorch/examples TransformerNet; its ncnn param file is not needed): the sizes
below must consume the file exactly, which also rejects files of other nets."""
import struct

import numpy as np

from onnx_builder import Builder

FP16_TAG = 0x01306B47
# (in, out, kernel, stride) of every conv in file order; each but the last is followed by an IN.
CONVS = [(3, 32, 9, 1), (32, 64, 3, 2), (64, 128, 3, 2)] + [(128, 128, 3, 1)] * 10 + \
        [(128, 64, 3, 1), (64, 32, 3, 1), (32, 3, 9, 1)]


class NcnnError(Exception):
    pass


def read_weights(path):
    with open(path, "rb") as f:
        buf = f.read()
    pos, layers = 0, []
    try:
        for k, (cin, cout, ks, _) in enumerate(CONVS):
            (tag,) = struct.unpack_from("<I", buf, pos)
            if tag != FP16_TAG:
                raise NcnnError(f"{path}: conv {k + 1} is not stored as fp16 (tag {tag:#010x}): "
                                "not an ncnn fast-neural-style weight file")
            n = cout * cin * ks * ks
            w = np.frombuffer(buf, "<f2", n, pos + 4).astype(np.float32).reshape(cout, cin, ks, ks)
            pos += 4 + 2 * n + (-2 * n) % 4
            b = np.frombuffer(buf, "<f4", cout, pos).copy()
            pos += 4 * cout
            g = beta = None
            if k + 1 < len(CONVS):
                g = np.frombuffer(buf, "<f4", cout, pos).copy()
                beta = np.frombuffer(buf, "<f4", cout, pos + 4 * cout).copy()
                pos += 8 * cout
            layers.append((w, b, g, beta))
    except (struct.error, ValueError) as e:
        raise NcnnError(f"{path}: truncated ncnn weight file ({len(buf)} bytes)") from e
    if pos != len(buf):
        raise NcnnError(f"{path}: {len(buf)} bytes, expected {pos} for the fast-neural-style TransformerNet")
    return layers


def transformer_net(path, metadata):
    layers = read_weights(path)
    b = Builder()
    x = b.input("input", [1, 3, "height", "width"])

    def conv_in(x, i, relu=True):
        w, bias, g, beta = layers[i]
        stride = CONVS[i][3]
        x = b.conv(b.reflect_pad(x, CONVS[i][2] // 2), w, bias, stride=stride)
        if g is None:
            return x
        x = b.instance_norm(x, w.shape[0], g, beta)
        return b.op("Relu", [x]) if relu else x

    for i in range(3):
        x = conv_in(x, i)
    for r in range(5):
        y = conv_in(x, 3 + 2 * r)
        x = b.op("Add", [conv_in(y, 4 + 2 * r, relu=False), x])
    x = conv_in(b.upsample2(x), 13)
    x = conv_in(b.upsample2(x), 14)
    x = conv_in(x, 15)
    b.output(x, "output", [1, 3, "height", "width"])
    return b.model(metadata, "Fast neural style TransformerNet (Johnson et al. 2016), ONNX model zoo weights via ncnn fp16")
