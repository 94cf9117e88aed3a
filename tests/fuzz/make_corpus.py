#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the fuzz seed corpus (tests/fuzz/corpus/): tiny valid style-like models made with the
onnx package (ok-*: the replay test requires them to load and run), models broken in one place
(bad-*: must be refused), and truncated / bit-flipped variants of the valid ones (any outcome but
a crash); NAME.expect holds a text the refusal of NAME.onnx must contain.  Deterministic; run in the Debian 13 root:

    scripts/in-trixie.sh python3 tests/fuzz/make_corpus.py
"""
import os
import random
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
rng = np.random.default_rng(8)


def w(name, *shape, dtype=np.float32, scale=0.2):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(dtype), name)


def ints(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def floats(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.float32), name)


def model(nodes, inits, opset=13, out_channels=3, meta=None, name="g"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "H", "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_channels, "H", "W"])
    g = helper.make_graph(nodes, name, [x], [y], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="impasto-corpus")
    m.ir_version = 7
    for k, v in (meta or {}).items():
        m.metadata_props.add(key=k, value=v)
    return m


def N(op, ins, outs, name="", **attrs):
    return helper.make_node(op, ins, outs, name=name, **attrs)


P4, P1 = [0, 0, 4, 4, 0, 0, 4, 4], [0, 0, 1, 1, 0, 0, 1, 1]


def transformer_mini():
    """Pad-reflect + conv, instance norm + relu, stride-2 conv, residual, nearest upsample, 9x9."""
    nodes = [
        N("Pad", ["x"], ["xp"], "pad1", mode="reflect", pads=P4),
        N("Conv", ["xp", "w1", "b1"], ["c1"], "conv1", kernel_shape=[9, 9]),
        N("InstanceNormalization", ["c1", "s1", "t1"], ["n1"], "in1"),
        N("Relu", ["n1"], ["r1"], "relu1"),
        N("Pad", ["r1"], ["r1p"], "pad2", mode="reflect", pads=P1),
        N("Conv", ["r1p", "w2", "b2"], ["c2"], "down", kernel_shape=[3, 3], strides=[2, 2]),
        N("Relu", ["c2"], ["r2"], ""),
        N("Pad", ["r2"], ["r2p"], "", mode="reflect", pads=P1),
        N("Conv", ["r2p", "w3", "b3"], ["c3"], "res", kernel_shape=[3, 3]),
        N("Add", ["c3", "r2"], ["a3"], "skip"),
        N("Upsample", ["a3", "sc"], ["u3"], "up", mode="nearest"),
        N("Pad", ["u3"], ["u3p"], "", mode="reflect", pads=P1),
        N("Conv", ["u3p", "w4", "b4"], ["y"], "out", kernel_shape=[3, 3]),
    ]
    inits = [w("w1", 4, 3, 9, 9), w("b1", 4), floats("s1", [1, 1.5, 0.5, 1]), w("t1", 4),
             w("w2", 8, 4, 3, 3), w("b2", 8), w("w3", 8, 8, 3, 3), w("b3", 8),
             floats("sc", [1, 1, 2, 2]), w("w4", 3, 8, 3, 3), w("b4", 3)]
    return model(nodes, inits, opset=9)


def elementwise():
    """BatchNorm, LeakyRelu, Clip (inputs), Sigmoid, Sub/Mul/Div with broadcasts, Identity,
    Dropout, GlobalAveragePool, Concat, ConvTranspose, Resize with sizes from a folded subgraph."""
    nodes = [
        N("BatchNormalization", ["x", "bs", "bb", "bm", "bv"], ["bn"], "bn"),
        N("LeakyRelu", ["bn"], ["lr"], "leaky", alpha=0.2),
        N("Clip", ["lr", "lo", "hi"], ["cl"], "clip"),
        N("Sub", ["cl", "mean"], ["sb"], "sub"),
        N("Mul", ["sb", "gain"], ["ml"], "mul"),
        N("Div", ["ml", "two"], ["dv"], "div"),
        N("GlobalAveragePool", ["dv"], ["gp"], "gap"),
        N("Add", ["dv", "gp"], ["ad"], "addgap"),
        N("Identity", ["ad"], ["id"], "id"),
        N("Dropout", ["id"], ["dr"], "drop"),
        N("Conv", ["dr", "wd", "bd"], ["dn"], "down", kernel_shape=[3, 3], strides=[2, 2],
          pads=[1, 1, 1, 1]),
        N("ConvTranspose", ["dn", "wt", "bt"], ["up"], "up", kernel_shape=[3, 3],
          strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
        N("Resize", ["dn", "", "rsc"], ["rs"], "resize", mode="nearest",
          coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        N("Concat", ["up", "rs"], ["cc"], "cat", axis=1),
        N("Conv", ["cc", "wo", "bo"], ["co"], "out", kernel_shape=[1, 1]),
        N("Sigmoid", ["co"], ["y"], "sig"),
    ]
    inits = [floats("bs", [1, 2, 0.5]), floats("bb", [0, 0.1, -0.1]), floats("bm", [0.5, 0.4, 0.6]),
             floats("bv", [0.1, 0.2, 0.3]), floats("lo", [-0.5]), floats("hi", [0.8]),
             floats("mean", [0.25]), w("gain", 1, 3, 1, 1), floats("two", [2.0]),
             w("wd", 6, 3, 3, 3), w("bd", 6), w("wt", 6, 3, 3, 3), w("bt", 3),
             w("wo", 3, 9, 1, 1), w("bo", 3),
             floats("rsc", [1, 1, 2, 2])]
    return model(nodes, inits, opset=13, meta={"impasto.input_range": "0,1"})


def folded():
    """Constants through the folder: Constant, ConstantOfShape, Reshape, Transpose, Cast, Slice,
    Unsqueeze, Squeeze, Gather, Concat, arithmetic; float16, double and int8 initializers."""
    nodes = [
        N("Constant", [], ["k"], "k", value=numpy_helper.from_array(
            (rng.standard_normal(27 * 3) * 0.2).astype(np.float16), "kv")),
        N("Cast", ["k"], ["kf"], "cast", to=TensorProto.FLOAT),
        N("Reshape", ["kf", "wshape"], ["kr"], "reshape"),
        N("Transpose", ["kr"], ["kt"], "transpose", perm=[1, 0, 2, 3]),
        N("Slice", ["kt", "st", "en", "ax"], ["ks"], "slice"),
        N("ConstantOfShape", ["bshape"], ["bz"], "zeros",
          value=numpy_helper.from_array(np.array([0.05], dtype=np.float32), "v")),
        N("Squeeze", ["bz", "sqax"], ["bq"], "squeeze"),
        N("Cast", ["dbl"], ["dblf"], "castd", to=TensorProto.FLOAT),
        N("Add", ["bq", "dblf"], ["bias"], "bias"),
        N("Conv", ["x", "ks", "bias"], ["c"], "conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        N("Gather", ["i8", "gi"], ["g"], "gather", axis=0),
        N("Cast", ["g"], ["gf"], "", to=TensorProto.FLOAT),
        N("Unsqueeze", ["gf", "uax"], ["gu"], "unsq"),
        N("Mul", ["c", "gu"], ["m"], "scale"),
        N("Tanh", ["m"], ["y"], "tanh"),
    ]
    inits = [ints("wshape", [3, 3, 3, 3]), ints("st", [0]), ints("en", [3]), ints("ax", [0]),
             ints("bshape", [3, 1]), ints("sqax", [1]),
             numpy_helper.from_array(np.array([0.1, -0.1, 0.0], dtype=np.float64), "dbl"),
             numpy_helper.from_array(np.array([1, 2, -3, 4], dtype=np.int8), "i8"),
             ints("gi", [1]), ints("uax", [0, 1, 2])]
    return model(nodes, inits, opset=13)


def clip_attrs():
    nodes = [N("Clip", ["x"], ["c"], "clip6", min=0.1, max=0.9),
             N("Pad", ["c"], ["p"], "pad2", mode="edge", pads=[0, 0, 2, 1, 0, 0, 2, 1]),
             N("Conv", ["p", "w", "b"], ["y"], "conv", kernel_shape=[5, 3])]
    return model(nodes, [w("w", 3, 3, 5, 3), w("b", 3)], opset=6)


def resize10():
    nodes = [N("Conv", ["x", "w"], ["c"], "", kernel_shape=[2, 2], strides=[2, 2], group=3),
             N("Resize", ["c", "s"], ["y"], "", mode="nearest")]
    return model(nodes, [w("w", 3, 1, 2, 2), floats("s", [1, 1, 2, 2])], opset=10)


def broken(valid):
    """One defect each, on a copy of a valid model."""
    out = {}
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node[1].op_type = "NoSuchOp"; out["unknown-op"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node[1].input[0] = "missing"; out["undefined-input"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node[0].input[0] = m.graph.node[-1].output[0]; out["cycle"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.initializer[2].dims[0] = 1 << 40; out["huge-dims"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    t = m.graph.initializer[2]; t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../etc/passwd"); t.ClearField("raw_data")
    out["external-escape"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.initializer[2].raw_data = m.graph.initializer[2].raw_data[:-4]; out["short-raw"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node[1].attribute.append(helper.make_attribute("bogus", 3)); out["unknown-attr"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node[2].name = ""; m.graph.node[2].op_type = ""; out["empty-op"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.node.append(m.graph.node[0]); out["duplicate-output"] = m
    m = onnx.ModelProto(); m.CopyFrom(valid)
    m.graph.ClearField("input"); out["no-input"] = m
    return out


EXPECT = {
    "bad-unknown-attr": "node 'conv1' (Conv): attribute 'bogus' is not supported",
    "bad-cycle": "graph has a cycle",
    "bad-external-escape": "external data file '../../etc/passwd' is outside the model's folder",
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        os.remove(os.path.join(OUT, f))
    valid = {"transformer-mini": transformer_mini(), "elementwise": elementwise(),
             "folded": folded(), "clip-opset6": clip_attrs(), "resize-opset10": resize10()}
    blobs = {}
    for name, m in valid.items():
        onnx.checker.check_model(m, full_check=True)
        blobs["ok-" + name] = m.SerializeToString()
    for name, m in broken(valid["transformer-mini"]).items():
        blobs["bad-" + name] = m.SerializeToString()
    blobs["bad-empty"] = b""
    blobs["bad-not-protobuf"] = b"\xff" * 64
    r = random.Random(8)
    for name, m in valid.items():
        data = blobs["ok-" + name]
        for frac in (0.25, 0.5, 0.9):
            blobs[f"cut{int(frac * 100)}-{name}"] = data[:int(len(data) * frac)]
        for k in range(4):
            b = bytearray(data)
            for _ in range(1 + k):
                i = r.randrange(len(b))
                b[i] ^= 1 << r.randrange(8)
            blobs[f"flip{k}-{name}"] = bytes(b)
    for name, data in sorted(blobs.items()):
        with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
            f.write(data)
    for name, text in EXPECT.items():  # the replay checks the refusal's message for these
        with open(os.path.join(OUT, name + ".expect"), "w") as f:
            f.write(text + "\n")
    print(f"{len(blobs)} files, {sum(map(len, blobs.values()))} bytes in {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
