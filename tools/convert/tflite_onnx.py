# SPDX-License-Identifier: GPL-3.0-or-later
"""TensorFlow Lite -> ONNX for plain convolutional image models (Magenta arbitrary stylization's
predictor and transfer networks): NHWC activations become NCHW, constants are dequantised (int8/int32
times their per-channel scales, fp16 upcast), activation quantisation is dropped (float activations:
see ../shared README, the int8 predictor differs from its float run by ~0.03 on a 100-d vector)."""
import numpy as np

import tflite_reader as tfl
from onnx_builder import Builder

NHWC_TO_NCHW_AXIS = {0: 0, 1: 2, 2: 3, 3: 1}
ACT = {0: None, 1: "Relu", 3: "Relu6"}


class UnsupportedOp(Exception):
    pass


def _nchw_const(a):
    """A constant combined elementwise with NCHW activations: [C] and [1,1,1,C] -> [1,C,1,1]."""
    a = np.asarray(a, np.float32)
    if a.ndim == 1 and a.size > 1:
        return a.reshape(1, -1, 1, 1)
    if a.ndim == 4:
        return a.transpose(0, 3, 1, 2)
    return a


def _same_pads(in_hw, k, stride):
    pads = []
    for n, kk in zip(in_hw, k):
        if stride == 1 or n < 0:
            total = kk - 1
        else:
            total = max((-(-n // stride) - 1) * stride + kk - n, 0)
        pads.append((total // 2, total - total // 2))
    return [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]


def convert(path, io_names, io_shapes, metadata, doc):
    """io_names: ONNX names for the graph inputs then outputs, in TFLite order; io_shapes likewise (NCHW)."""
    tensors, ops, inputs, outputs = tfl.load(path)
    b = Builder()
    val = {}  # tensor index -> ('act', onnx name) | ('const', float32 array in TFLite layout)

    for k, (idx, name) in enumerate(zip(inputs, io_names)):
        val[idx] = ("act", b.input(name, io_shapes[k]))

    def const(i):
        if i in val and val[i][0] == "const":
            return val[i][1]
        t = tensors[i]
        if t.data is None:
            raise UnsupportedOp(f"{t.name}: expected a constant")
        return t.dequantized()

    def get(i):
        if i in val:
            kind, v = val[i]
            return v if kind == "act" else b.const(_nchw_const(v))
        return b.const(_nchw_const(const(i)))

    def activation(x, code):
        if code not in ACT:
            raise UnsupportedOp(f"fused activation {code}")
        if ACT[code] == "Relu":
            return b.op("Relu", [x])
        if ACT[code] == "Relu6":
            return b.op("Clip", [x, b.const(np.array(0, np.float32)), b.const(np.array(6, np.float32))])
        return x

    for op in ops:
        ins, out = op.inputs, op.outputs[0]
        o = op.options
        if op.op in ("QUANTIZE", "DEQUANTIZE"):
            src = ins[0]
            if src in val and val[src][0] == "act":
                val[out] = val[src]
            else:
                val[out] = ("const", tensors[src].dequantized())
            continue
        if op.op in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            w = const(ins[1])
            bias = const(ins[2]) if len(ins) > 2 and ins[2] >= 0 else None
            stride = o.scalar(1, "i", 1) if o else 1
            if o and o.scalar(2, "i", 1) != stride:
                raise UnsupportedOp("unequal strides")
            padding = o.scalar(0, "b") if o else 0
            if op.op == "CONV_2D":
                w = w.transpose(0, 3, 1, 2)  # [O, kh, kw, I] -> [O, I, kh, kw]
                group, act = 1, (o.scalar(3, "b") if o else 0)
            else:
                w = w.transpose(3, 0, 1, 2)  # [1, kh, kw, C*m] -> [C*m, 1, kh, kw]
                group, act = tensors[ins[0]].shape[3], (o.scalar(4, "b") if o else 0)
            in_shape = tensors[ins[0]].shape
            pads = _same_pads(in_shape[1:3], w.shape[2:], stride) if padding == 0 else [0, 0, 0, 0]
            x = b.conv(get(ins[0]), w, bias, stride=stride, pads=pads, group=group)
            val[out] = ("act", activation(x, act))
            continue
        if op.op in ("ADD", "MUL", "SUB", "SQUARED_DIFFERENCE"):
            if all(i not in val or val[i][0] == "const" for i in ins):
                raise UnsupportedOp(f"{op.op} of constants")
            x, y = get(ins[0]), get(ins[1])
            if op.op == "SQUARED_DIFFERENCE":
                d = b.op("Sub", [x, y])
                val[out] = ("act", b.op("Mul", [d, d]))
                continue
            r = b.op({"ADD": "Add", "MUL": "Mul", "SUB": "Sub"}[op.op], [x, y])
            val[out] = ("act", activation(r, o.scalar(0, "b") if o else 0))
            continue
        if op.op == "MEAN":
            axes = [NHWC_TO_NCHW_AXIS[int(a) % 4] for a in np.ravel(tensors[ins[1]].data)]
            if not (o and o.scalar(0, "b")):
                raise UnsupportedOp("MEAN without keep_dims")
            val[out] = ("act", b.op("ReduceMean", [get(ins[0])], axes=sorted(axes), keepdims=1))
            continue
        if op.op == "RSQRT":
            val[out] = ("act", b.op("Reciprocal", [b.op("Sqrt", [get(ins[0])])]))
            continue
        if op.op == "LOGISTIC":
            val[out] = ("act", b.op("Sigmoid", [get(ins[0])]))
            continue
        if op.op in ("RELU", "RELU6"):
            val[out] = ("act", activation(get(ins[0]), 1 if op.op == "RELU" else 3))
            continue
        if op.op == "MIRROR_PAD":
            if o and o.scalar(0, "b") != 0:
                raise UnsupportedOp("MIRROR_PAD SYMMETRIC")
            p = np.asarray(tensors[ins[1]].data, np.int64).reshape(4, 2)
            order = [0, 3, 1, 2]
            pads = np.array([p[a, 0] for a in order] + [p[a, 1] for a in order], np.int64)
            val[out] = ("act", b.op("Pad", [get(ins[0]), b.const(pads, "pads")], mode="reflect"))
            continue
        if op.op == "RESIZE_NEAREST_NEIGHBOR":
            if o and (o.scalar(0, "b") or o.scalar(1, "b")):
                raise UnsupportedOp("RESIZE_NEAREST_NEIGHBOR with align_corners or half_pixel_centers")
            size = list(np.ravel(tensors[ins[1]].data))
            hw = tensors[ins[0]].shape[1:3]
            if size == list(hw):
                val[out] = val[ins[0]]  # resizing to the same size is an identity
            elif size == [2 * hw[0], 2 * hw[1]]:
                val[out] = ("act", b.upsample2(get(ins[0])))
            else:
                raise UnsupportedOp(f"resize {hw} -> {size} (only x2 and identity)")
            continue
        raise UnsupportedOp(f"TFLite op {op.op}")

    n_in = len(inputs)
    for k, idx in enumerate(outputs):
        b.output(get(idx), io_names[n_in + k], io_shapes[n_in + k])
    return b.model(metadata, doc)


def magenta(predict_path, transfer_path, metadata):
    """(predictor, transfer) ONNX models of Magenta's arbitrary image stylization."""
    predictor = convert(predict_path, ["style_image", "style_bottleneck"],
                        [[1, 3, 256, 256], [1, 100, 1, 1]], dict(metadata, **{"impasto.input_range": "0,1"}),
                        "Magenta arbitrary image stylization: style predictor (MobileNetV2, int8 weights dequantised)")
    transfer = convert(transfer_path, ["content_image", "style_bottleneck", "stylized_image"],
                       [[1, 3, "height", "width"], [1, 100, 1, 1], [1, 3, "height", "width"]], metadata,
                       "Magenta arbitrary image stylization: transfer network (fp16 weights upcast)")
    return predictor, transfer
