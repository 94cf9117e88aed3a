#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The naive kernel references of engine/kernels.h against ONNX Runtime.

Random single-node ONNX models (Conv, Pad+Conv, ConvTranspose, Resize nearest,
InstanceNormalization) are run by onnxruntime and by the *_ref functions, loaded with ctypes from
the shared module built by tests/meson.build.  Fails without onnxruntime, e.g.
natively on Debian 12; runs in the trixie root:  scripts/in-trixie.sh meson test -C build-trixie

Two ONNX Runtime behaviours that differ from the operator spec are left out (the references follow
the spec):
  * ConvTranspose with dilation > 1 and output_padding > 0 on the same axis: ORT 1.21 computes
    wrong values (e.g. x=[1,2,3], w=[1,10], dilation 2, output_padding 1 gives [1,2,23,40,0,0]
    instead of [1,2,13,20,30,0]).
  * Resize nearest: ORT copies the input when the output shape equals the input shape, and treats
    an axis with scale 1 as identity; the spec's formula differs for tf_half_pixel_for_nn with
    ceil / round_prefer_ceil (x = o + 0.5 rounds up) and for non-1 scales that keep the size.
"""
import ctypes
import sys

try:
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:
    print('FAIL: missing tool: %s' % e)  # meson registers this test only where they import
    sys.exit(1)

lib = ctypes.CDLL(sys.argv[1])
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 1
rng = np.random.default_rng(SEED)
P = ctypes.POINTER(ctypes.c_float)
I64P = ctypes.POINTER(ctypes.c_int64)
ort.set_default_logger_severity(3)


def ptr(a):
    return a.ctypes.data_as(P)


def run_ort(nodes, x, inits, opset=13):
    g = helper.make_graph(nodes, 'g', [helper.make_tensor_value_info('x', TensorProto.FLOAT, None)],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
    m.ir_version = 8
    s = ort.InferenceSession(m.SerializeToString(), providers=['CPUExecutionProvider'])
    return s.run(None, {'x': x})[0]


class Counter:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, what, got, want, tol):
        ok = got.shape == want.shape and np.allclose(got, want, atol=tol, rtol=tol)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            if self.failed <= 5:
                print('  FAIL %s: shapes %s %s' % (what, got.shape, want.shape))


class ConvShape(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in
                'in_c out_c group kh kw sh sw dh dw pt pl pb pr mode'.split()]


class ConvTShape(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int) for n in
                'in_c out_c group kh kw sh sw dh dw pt pl pb pr oph opw'.split()]


lib.imp_conv_out_size.argtypes = [ctypes.POINTER(ConvShape), ctypes.c_int64, ctypes.c_int64, I64P, I64P]
lib.imp_convt_out_size.argtypes = [ctypes.POINTER(ConvTShape), ctypes.c_int64, ctypes.c_int64, I64P, I64P]
lib.imp_resize_nearest_ref.argtypes = [ctypes.c_int] * 3 + [P, ctypes.c_int, ctypes.c_int, ctypes.c_float,
                                                            ctypes.c_float, ctypes.c_int, ctypes.c_int, P]
lib.imp_instnorm_ref.argtypes = [ctypes.c_int, ctypes.c_size_t, P, P, P, ctypes.c_float, P]


def ints(lo, hi, n):
    return [int(v) for v in rng.integers(lo, hi + 1, n)]


def test_conv():
    c = Counter('conv (+ fused pad)')
    for _ in range(300):
        g = int(rng.choice([1, 1, 2, 3]))
        ci, co = g * ints(1, 3, 1)[0], g * ints(1, 3, 1)[0]
        kh, kw, h, w = ints(1, 5, 2) + ints(1, 11, 2)
        sh, sw, dh, dw = ints(1, 3, 4)
        mode = ints(0, 2, 1)[0]  # constant (plain Conv), reflect, edge (Pad + Conv)
        lh, lw = (min(h - 1, 4), min(w - 1, 4)) if mode == 1 else (5, 5)
        pt, pb = ints(0, lh, 2)
        pl, pr = ints(0, lw, 2)
        s = ConvShape(ci, co, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, mode)
        oh, ow = ctypes.c_int64(), ctypes.c_int64()
        if not lib.imp_conv_out_size(ctypes.byref(s), h, w, ctypes.byref(oh), ctypes.byref(ow)):
            continue
        x = rng.standard_normal((1, ci, h, w)).astype(np.float32)
        W = rng.standard_normal((co, ci // g, kh, kw)).astype(np.float32)
        B = rng.standard_normal(co).astype(np.float32)
        y = np.zeros((1, co, oh.value, ow.value), np.float32)
        lib.imp_conv2d_ref(ctypes.byref(s), h, w, ptr(x), ptr(W), ptr(B), ptr(y))
        attrs = dict(group=g, strides=[sh, sw], dilations=[dh, dw])
        inits = {'W': W, 'B': B}
        if mode == 0:
            nodes = [helper.make_node('Conv', ['x', 'W', 'B'], ['y'], pads=[pt, pl, pb, pr], **attrs)]
        else:
            inits['pads'] = np.array([0, 0, pt, pl, 0, 0, pb, pr], np.int64)
            nodes = [helper.make_node('Pad', ['x', 'pads'], ['xp'], mode='reflect' if mode == 1 else 'edge'),
                     helper.make_node('Conv', ['xp', 'W', 'B'], ['y'], pads=[0, 0, 0, 0], **attrs)]
        c.check('conv %s' % [ci, co, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, mode, h, w],
                y, run_ort(nodes, x, inits), 1e-4)
    return c


def test_convt():
    c = Counter('conv_transpose')
    for _ in range(200):
        g = int(rng.choice([1, 1, 2]))
        ci, co = g * ints(1, 3, 1)[0], g * ints(1, 3, 1)[0]
        kh, kw, h, w = ints(1, 4, 2) + ints(1, 7, 2)
        sh, sw = ints(1, 3, 2)
        dh, dw = ints(1, 2, 2)
        pt, pl, pb, pr = ints(0, 2, 4)
        oph, opw = ints(0, max(sh, dh) - 1, 1)[0], ints(0, max(sw, dw) - 1, 1)[0]
        if (dh > 1 and oph > 0) or (dw > 1 and opw > 0):
            continue  # ORT bug, see the top of the file
        s = ConvTShape(ci, co, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw)
        oh, ow = ctypes.c_int64(), ctypes.c_int64()
        if not lib.imp_convt_out_size(ctypes.byref(s), h, w, ctypes.byref(oh), ctypes.byref(ow)):
            continue
        x = rng.standard_normal((1, ci, h, w)).astype(np.float32)
        W = rng.standard_normal((ci, co // g, kh, kw)).astype(np.float32)
        B = rng.standard_normal(co).astype(np.float32)
        y = np.zeros((1, co, oh.value, ow.value), np.float32)
        lib.imp_convt2d_ref(ctypes.byref(s), h, w, ptr(x), ptr(W), ptr(B), ptr(y))
        nodes = [helper.make_node('ConvTranspose', ['x', 'W', 'B'], ['y'], group=g, strides=[sh, sw],
                                  dilations=[dh, dw], pads=[pt, pl, pb, pr], output_padding=[oph, opw])]
        c.check('convt %s' % [ci, co, g, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw, h, w],
                y, run_ort(nodes, x, {'W': W, 'B': B}), 1e-4)
    return c


def test_resize():
    c = Counter('resize_nearest')
    coords = ['half_pixel', 'asymmetric', 'align_corners', 'pytorch_half_pixel', 'tf_half_pixel_for_nn']
    nearests = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']
    scales = [2, 3, 1, 0.5, 1.5, 0.7, 2.3, 1.25, 4, 0.6]
    for _ in range(400):
        ch, h, w = ints(1, 2, 1) + ints(1, 9, 2)
        s_h, s_w = float(rng.choice(scales)), float(rng.choice(scales))
        oh, ow = int(np.floor(h * np.float32(s_h))), int(np.floor(w * np.float32(s_w)))
        ci, ni = ints(0, 4, 1)[0], ints(0, 3, 1)[0]
        if oh < 1 or ow < 1 or (oh == h and ow == w):
            continue  # ORT copies unchanged shapes, see the top of the file
        if ci == 4 and ni in (1, 3) and 1.0 in (s_h, s_w):
            continue  # ORT treats scale-1 axes as identity
        x = rng.standard_normal((1, ch, h, w)).astype(np.float32)
        y = np.zeros((1, ch, oh, ow), np.float32)
        lib.imp_resize_nearest_ref(ch, h, w, ptr(x), oh, ow, s_h, s_w, ci, ni, ptr(y))
        nodes = [helper.make_node('Resize', ['x', 'roi', 'scales'], ['y'], mode='nearest',
                                  coordinate_transformation_mode=coords[ci], nearest_mode=nearests[ni])]
        inits = {'roi': np.zeros(0, np.float32), 'scales': np.array([1, 1, s_h, s_w], np.float32)}
        c.check('resize %s' % [ch, h, w, oh, ow, s_h, s_w, coords[ci], nearests[ni]], y,
                run_ort(nodes, x, inits), 0)
    return c


def test_instnorm():
    c = Counter('instnorm')
    for _ in range(50):
        ch, h, w = ints(1, 4, 1) + ints(1, 30, 2)
        x = (rng.standard_normal((1, ch, h, w)) * 3 + 5).astype(np.float32)
        sc = rng.standard_normal(ch).astype(np.float32)
        bi = rng.standard_normal(ch).astype(np.float32)
        y = np.zeros_like(x)
        lib.imp_instnorm_ref(ch, h * w, ptr(x), ptr(sc), ptr(bi), 1e-5, ptr(y))
        nodes = [helper.make_node('InstanceNormalization', ['x', 's', 'b'], ['y'], epsilon=1e-5)]
        c.check('instnorm %s' % [ch, h, w], y, run_ort(nodes, x, {'s': sc, 'b': bi}), 1e-4)
    return c


print('seed %d, onnxruntime %s' % (SEED, ort.__version__))
passed = failed = 0
for t in (test_conv, test_convt, test_resize, test_instnorm):
    c = t()
    print('%-22s %5d passed, %d failed' % (c.name, c.passed, c.failed))
    passed += c.passed
    failed += c.failed
print('%d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
