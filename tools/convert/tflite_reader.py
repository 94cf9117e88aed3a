# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal reader for TensorFlow Lite flatbuffers: the parts of the schema (tensorflow/lite/schema/
schema.fbs, version 3) that plain convolutional models need.  Field numbers are the schema's."""
import struct

import numpy as np

# BuiltinOperator codes used by the converters (schema.fbs enum values).
OPS = {0: "ADD", 3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 6: "DEQUANTIZE", 14: "LOGISTIC", 18: "MUL",
       19: "RELU", 21: "RELU6", 22: "RESHAPE", 34: "PAD", 40: "MEAN", 41: "SUB", 76: "RSQRT",
       97: "RESIZE_NEAREST_NEIGHBOR", 99: "SQUARED_DIFFERENCE", 100: "MIRROR_PAD", 114: "QUANTIZE"}
# TensorType
DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8, 7: np.int16}


class TFLiteError(Exception):
    pass


class Table:
    def __init__(self, buf, pos):
        self.buf, self.pos = buf, pos
        (soff,) = struct.unpack_from("<i", buf, pos)
        self.vt = pos - soff
        self.vt_size = struct.unpack_from("<H", buf, self.vt)[0]

    def _field(self, i):
        o = 4 + 2 * i
        if o >= self.vt_size:
            return 0
        return struct.unpack_from("<H", self.buf, self.vt + o)[0]

    def scalar(self, i, fmt, default=0):
        off = self._field(i)
        return struct.unpack_from("<" + fmt, self.buf, self.pos + off)[0] if off else default

    def _target(self, i):
        off = self._field(i)
        if not off:
            return None
        p = self.pos + off
        return p + struct.unpack_from("<I", self.buf, p)[0]

    def table(self, i):
        t = self._target(i)
        return Table(self.buf, t) if t is not None else None

    def vector(self, i, fmt):
        t = self._target(i)
        if t is None:
            return []
        (n,) = struct.unpack_from("<I", self.buf, t)
        return list(struct.unpack_from(f"<{n}{fmt}", self.buf, t + 4))

    def bytes(self, i):
        t = self._target(i)
        if t is None:
            return b""
        (n,) = struct.unpack_from("<I", self.buf, t)
        if t + 4 + n > len(self.buf):
            raise TFLiteError("vector past the end of the file")
        return self.buf[t + 4:t + 4 + n]

    def string(self, i):
        return self.bytes(i).decode("utf-8", "replace")

    def tables(self, i):
        t = self._target(i)
        if t is None:
            return []
        (n,) = struct.unpack_from("<I", self.buf, t)
        out = []
        for k in range(n):
            p = t + 4 + 4 * k
            out.append(Table(self.buf, p + struct.unpack_from("<I", self.buf, p)[0]))
        return out


class Tensor:
    def __init__(self, t, buffers):
        self.shape = t.vector(0, "i")
        self.type = t.scalar(1, "b")
        self.name = t.string(3)
        buf = buffers[t.scalar(2, "I")]
        self.data = None
        raw = buf.bytes(0) if buf is not None else b""
        if raw:
            dtype = np.dtype(DTYPES[self.type]).newbyteorder("<")
            self.data = np.frombuffer(raw, dtype).reshape(self.shape)
        q = t.table(4)
        self.scale = np.array(q.vector(2, "f"), np.float32) if q else np.zeros(0, np.float32)
        self.zero_point = np.array(q.vector(3, "q"), np.int64) if q else np.zeros(0, np.int64)
        self.quantized_dimension = q.scalar(6, "i") if q else 0

    def dequantized(self):
        """The constant as float32: fp16 upcast; int8/int32 times their (per-channel) scale."""
        if self.data is None:
            raise TFLiteError(f"tensor {self.name} has no data")
        d = self.data
        if d.dtype == np.float32:
            return d.astype(np.float32)
        if d.dtype == np.float16:
            return d.astype(np.float32)
        if self.scale.size == 0:
            raise TFLiteError(f"tensor {self.name}: integer data without a quantisation scale")
        shape = [1] * d.ndim
        if self.scale.size > 1:
            shape[self.quantized_dimension] = -1
        s = self.scale.reshape(shape)
        zp = (self.zero_point if self.zero_point.size else np.zeros(1, np.int64)).reshape(shape if self.zero_point.size > 1 else [1] * d.ndim)
        return ((d.astype(np.float64) - zp) * s).astype(np.float32)


class Operator:
    def __init__(self, t, opcodes):
        code = opcodes[t.scalar(0, "I")]
        self.code = code
        self.op = OPS.get(code, f"BUILTIN_{code}")
        self.inputs = t.vector(1, "i")
        self.outputs = t.vector(2, "i")
        self.options = t.table(4)


def is_tflite(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"


def load(path):
    """(tensors, operators, inputs, outputs) of the first subgraph."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise TFLiteError(f"{path}: not a TensorFlow Lite file (no TFL3 identifier)")
    try:
        model = Table(buf, struct.unpack_from("<I", buf, 0)[0])
        opcodes = []
        for oc in model.tables(1):
            dep = oc.scalar(0, "b")
            code = oc.scalar(3, "i")
            opcodes.append(max(dep, code))
        buffers = model.tables(4)
        sub = model.tables(2)[0]
        tensors = [Tensor(t, buffers) for t in sub.tables(0)]
        ops = [Operator(o, opcodes) for o in sub.tables(3)]
        return tensors, ops, sub.vector(1, "i"), sub.vector(2, "i")
    except (struct.error, IndexError, KeyError, ValueError) as e:
        raise TFLiteError(f"{path}: malformed TensorFlow Lite file ({e})") from e
