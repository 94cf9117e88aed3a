#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ONNX project's backend node test cases through the engine.

    onnx_conformance.py ONNX_NODE_RUN WORK_DIR

Generates the node cases that Debian 13's python3-onnx carries (python3 -m
onnx.backend.test.cmd_tools generate-data) into WORK_DIR, picks every case whose nodes are all
operators the engine accepts (and the few the issue names that it does not, so their refusal shows)
and whose first input and first output are 4-D float32 tensors (elementwise ops' 1-D to
3-D cases run with the input lifted to 4-D, which keeps their meaning), folds every input but the first
into an initializer (the engine runs one image input), and runs it with tests/onnx_node_run.c.

Each case is PASS (numbers within the op's tolerance of the expected output), REFUSED (the engine
refused it at load with a message: an unsupported op or attribute combination) or FAIL (wrong
shape or numbers, a run-time error, or a crash).  Prints one line per case and a table per
operator; exits 1 on any FAIL.  Needs python3-onnx and numpy: natively on Debian 12 it exits 77
(skipped) saying so; it runs in the trixie root (scripts/in-trixie.sh meson test -C build-trixie).
"""
import collections
import os
import shutil
import subprocess
import sys

try:
    import onnx
    import onnx.backend.test.cmd_tools  # noqa: F401 (the node cases ship with it)
    from onnx import numpy_helper
    import numpy as np
except ImportError as e:
    print(f"SKIPPED, cannot run here: {e}. The ONNX node cases come with python3-onnx "
          "(Debian 13); run this test in the trixie root: "
          "scripts/in-trixie.sh meson test -C build-trixie onnx-conformance")
    sys.exit(77)

RUNNER, WORK = sys.argv[1], os.path.abspath(sys.argv[2])
ONLY = sys.argv[3] if len(sys.argv) > 3 else None  # a case-name substring, for debugging

# the ops of engine/ops/, plus ops the issue lists that the engine does not accept (their cases
# must come out REFUSED, never FAIL)
ACCEPTED = {"Conv", "ConvTranspose", "Pad", "InstanceNormalization", "BatchNormalization", "Relu",
            "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Add", "Sub", "Mul", "Div", "Upsample",
            "Resize", "Concat", "GlobalAveragePool", "Identity", "Dropout"}
NAMED_UNSUPPORTED = {"MaxPool", "ReduceMean"}

# |got - want| <= ATOL + RTOL * |want| per element; the conv family accumulates over up to
# hundreds of products in a different order (Winograd, sgemm), so it is measured against the
# output's scale instead
RTOL, ATOL = 1e-4, 1e-5
CONV_RTOL = 1e-4  # of max |want|
CONV_OPS = {"Conv", "ConvTranspose"}
# Elementwise ops keep their meaning when the input gets leading axes of 1 (broadcasting aligns
# the trailing ones): their 1-D to 3-D cases run lifted to 4-D, the engine's input rank; so does
# Concat, with every operand lifted and a non-negative axis shifted.
ELEMENTWISE = {"Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Add", "Sub", "Mul", "Div",
               "Identity", "Dropout"}


def generate(cases):
    if os.path.isdir(cases) and len(os.listdir(cases)) > 1000:
        return
    shutil.rmtree(os.path.dirname(cases), ignore_errors=True)
    os.makedirs(cases)
    subprocess.run([sys.executable, "-m", "onnx.backend.test.cmd_tools", "generate-data",
                    "-o", os.path.dirname(cases)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def float_rank(vi):
    """Rank of a float32 tensor value, else -1."""
    t = vi.type.tensor_type
    ok = vi.type.HasField("tensor_type") and t.elem_type == onnx.TensorProto.FLOAT and t.HasField("shape")
    return len(t.shape.dim) if ok else -1


def lift_to_4d(vi):
    shape = vi.type.tensor_type.shape
    for _ in range(4 - len(shape.dim)):
        shape.dim.insert(0, onnx.TensorShapeProto.Dimension(dim_value=1))


def load_case(case_dir):
    """(model, inputs, outputs) of test_data_set_0, or None when it is not a float 4-D case."""
    model = onnx.load(os.path.join(case_dir, "model.onnx"))
    g = model.graph
    ops = {n.op_type for n in g.node}
    if not ops or not ops <= (ACCEPTED | NAMED_UNSUPPORTED) or any(n.domain not in ("", "ai.onnx") for n in g.node):
        return None
    if not g.input or not g.output:
        return None
    lift = 1 <= float_rank(g.input[0]) < 4 and ops <= ELEMENTWISE | {"Concat"} and 1 <= float_rank(g.output[0]) <= 4
    if not lift and (float_rank(g.input[0]) != 4 or float_rank(g.output[0]) != 4):
        return None
    if lift:
        rank = float_rank(g.input[0])
        lift_to_4d(g.input[0])
        lift_to_4d(g.output[0])
        for n in g.node:  # Concat's axis counts from the front: it moves with the new axes
            for a in n.attribute:
                if n.op_type == "Concat" and a.name == "axis" and a.i >= 0:
                    a.i += 4 - rank
    data = os.path.join(case_dir, "test_data_set_0")
    def tensors(prefix, n):
        out = []
        for i in range(n):
            t = onnx.TensorProto()
            with open(os.path.join(data, f"{prefix}_{i}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            out.append(numpy_helper.to_array(t))
        return out
    init_names = {i.name for i in g.initializer}
    runtime = [i for i in g.input if i.name not in init_names]
    return model, runtime, tensors("input", len(runtime)), tensors("output", len(g.output))


def fold_inputs(model, runtime, inputs):
    """The model with every runtime input but the first turned into an initializer."""
    g = model.graph
    concat = any(n.op_type == "Concat" for n in g.node)
    for vi, value in zip(runtime[1:], inputs[1:]):
        if concat:  # every operand gets the leading axes the first one got
            value = value.reshape((1,) * (4 - value.ndim) + value.shape)
        g.initializer.append(numpy_helper.from_array(value, vi.name))
        g.input.remove(vi)
    return model


def compare(op, got, want):
    """None when got matches want, else what differs."""
    if got.shape != want.shape:
        return f"shape {list(got.shape)}, expected {list(want.shape)}"
    if np.isnan(want).any() or np.isnan(got).any():
        same_nan = np.array_equal(np.isnan(got), np.isnan(want))
        if not same_nan:
            return "NaN positions differ"
        got, want = np.nan_to_num(got), np.nan_to_num(want)
    if op in CONV_OPS:
        tol = ATOL + CONV_RTOL * float(np.abs(want).max(initial=0))
        bad = np.abs(got - want) > tol
    else:
        bad = np.abs(got - want) > ATOL + RTOL * np.abs(want)
    if bad.any():
        i = np.unravel_index(np.argmax(np.abs(got - want)), got.shape)
        return (f"{int(bad.sum())} of {got.size} values off, worst at {list(i)}: "
                f"{got[i]!r} vs {want[i]!r}")
    return None


def run_case(name, case_dir, work):
    loaded = load_case(case_dir)
    if loaded is None:
        return None
    model, runtime, inputs, outputs = loaded
    op = model.graph.node[-1].op_type if len(model.graph.node) == 1 else "+".join(
        sorted({n.op_type for n in model.graph.node}))
    os.makedirs(work, exist_ok=True)
    model = fold_inputs(model, runtime, inputs)
    path = os.path.join(work, "model.onnx")
    onnx.save(model, path)
    x = np.ascontiguousarray(inputs[0], dtype=np.float32)
    lifted = x.ndim < 4
    x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    x.tofile(os.path.join(work, "input.f32"))
    r = subprocess.run([RUNNER, path, os.path.join(work, "input.f32"), *map(str, x.shape),
                        os.path.join(work, "output.f32")], capture_output=True, text=True,
                       timeout=120)
    msg = r.stdout.strip()
    if r.returncode == 3:
        return op, "REFUSED", msg.removeprefix("refused: ")
    if r.returncode != 0:
        what = "run error" if r.returncode == 4 else f"exit status {r.returncode}"
        return op, "FAIL", f"{what}: {msg} {r.stderr.strip()[-400:]}"
    dims = [int(d) for d in msg.split()]
    got = np.fromfile(os.path.join(work, "output.f32"), dtype=np.float32)
    want = outputs[0]
    if lifted and want.ndim < len(dims):
        want = want.reshape((1,) * (len(dims) - want.ndim) + want.shape)
    if got.size != int(np.prod(dims)):
        return op, "FAIL", f"output file has {got.size} floats for dims {dims}"
    diff = compare(op, got.reshape(dims), want.astype(np.float32))
    notes = []
    if lifted:
        notes.append(f"input lifted from {list(inputs[0].shape)} to 4-D")
    if len(outputs) > 1:
        notes.append(f"graph has {len(outputs)} outputs; the engine returns the first")
    return (op, "FAIL", diff) if diff else (op, "PASS", "; ".join(notes))


def main():
    cases = os.path.join(WORK, "cases", "node")
    generate(cases)
    table = collections.OrderedDict()
    fails = []
    for name in sorted(os.listdir(cases)):
        if ONLY and ONLY not in name:
            continue
        res = run_case(name, os.path.join(cases, name), os.path.join(WORK, "runs", name))
        if res is None:
            continue
        op, verdict, detail = res
        row = table.setdefault(op, collections.Counter())
        row["cases"] += 1
        row[verdict] += 1
        print(f"{verdict:8} {name}" + (f": {detail}" if detail else ""))
        if verdict == "FAIL":
            fails.append(name)
    print()
    print(f"{'op':28} {'cases':>5} {'pass':>5} {'refused':>7} {'fail':>5}")
    total = collections.Counter()
    for op, row in sorted(table.items()):
        print(f"{op:28} {row['cases']:5} {row['PASS']:5} {row['REFUSED']:7} {row['FAIL']:5}")
        total.update(row)
    print(f"{'total':28} {total['cases']:5} {total['PASS']:5} {total['REFUSED']:7} {total['FAIL']:5}")
    if not total["cases"]:
        print("FAIL: no float 4-D cases found")
        return 1
    if fails:
        print("FAIL: " + " ".join(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
