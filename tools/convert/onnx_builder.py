# SPDX-License-Identifier: GPL-3.0-or-later
"""A small helper to write ONNX graphs node by node (opset 13) with numpy initialisers."""
import numpy as np
import onnx
from onnx import TensorProto, helper

OPSET = 13


class Builder:
    """Initialisers are written straight into the model's graph: make_graph / make_model would copy
    every weight again (pix2pix has 218 MB of them)."""

    def __init__(self):
        self.proto = onnx.ModelProto()
        self.graph = self.proto.graph
        self.nodes, self.inputs, self.outputs = [], [], []
        self.count = 0
        self.consts = {}

    def name(self, base):
        self.count += 1
        return f"{base}_{self.count}"

    def input(self, name, shape):
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def output(self, value, name, shape):
        self.nodes.append(helper.make_node("Identity", [value], [name]))
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))

    def const(self, array, base="c"):
        """An initialiser; identical small constants are shared."""
        array = np.ascontiguousarray(array)
        key = None
        if array.size <= 16:
            key = (array.dtype.str, array.shape, array.tobytes())
            if key in self.consts:
                return self.consts[key]
        name = self.name(base)
        t = self.graph.initializer.add()
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        t.dims.extend(array.shape)
        t.raw_data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        if key is not None:
            self.consts[key] = name
        return name

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out, **attrs))
        return out

    # ---- layers ------------------------------------------------------------------------------
    def conv(self, x, w, b=None, stride=1, pads=(0, 0, 0, 0), group=1):
        w = np.asarray(w, np.float32)
        ins = [x, self.const(w, "w")] + ([self.const(np.asarray(b, np.float32), "b")] if b is not None else [])
        return self.op("Conv", ins, kernel_shape=list(w.shape[2:]), strides=[stride, stride],
                       pads=list(pads), group=group)

    def conv_transpose(self, x, w, b=None, stride=2, pads=(1, 1, 1, 1), output_padding=None):
        w = np.asarray(w, np.float32)
        ins = [x, self.const(w, "w")] + ([self.const(np.asarray(b, np.float32), "b")] if b is not None else [])
        attrs = dict(kernel_shape=list(w.shape[2:]), strides=[stride, stride], pads=list(pads))
        if output_padding:
            attrs["output_padding"] = list(output_padding)
        return self.op("ConvTranspose", ins, **attrs)

    def reflect_pad(self, x, p):
        return self.op("Pad", [x, self.const(np.array([0, 0, p, p, 0, 0, p, p], np.int64), "pads")],
                       mode="reflect")

    def instance_norm(self, x, channels, scale=None, bias=None, eps=1e-5):
        s = np.ones(channels, np.float32) if scale is None else np.asarray(scale, np.float32)
        b = np.zeros(channels, np.float32) if bias is None else np.asarray(bias, np.float32)
        return self.op("InstanceNormalization", [x, self.const(s, "in_scale"), self.const(b, "in_bias")],
                       epsilon=eps)

    def batch_norm(self, x, sd, prefix, eps=1e-5):
        ins = [x] + [self.const(np.asarray(sd[prefix + k], np.float32), "bn")
                     for k in ("weight", "bias", "running_mean", "running_var")]
        return self.op("BatchNormalization", ins, epsilon=eps)

    def upsample2(self, x):
        return self.op("Resize", [x, "", self.const(np.array([1, 1, 2, 2], np.float32), "scales")],
                       mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def model(self, metadata=None, doc=""):
        """The finished ModelProto (unchecked: impasto-convert.py checks the written file)."""
        m, g = self.proto, self.graph
        g.name = "impasto"
        g.node.extend(self.nodes)
        g.input.extend(self.inputs)
        g.output.extend(self.outputs)
        m.ir_version = 7
        m.opset_import.append(helper.make_opsetid("", OPSET))
        m.producer_name = "impasto-convert"
        m.doc_string = doc
        for k, v in (metadata or {}).items():
            p = m.metadata_props.add()
            p.key, p.value = k, str(v)
        return m


def weight(sd, key):
    if key not in sd:
        raise KeyError(f"the checkpoint has no tensor '{key}' (not the expected architecture)")
    return sd[key]
