"""ONNX Runtime reference helpers shared by tests/test_cli.py, tests/test_style.py and
scripts/bench_ort.py."""
import os
import sys
import tempfile


def free_hw(model):
    """The opset-9 model files declare a fixed 1x3x224x224 input; ONNX Runtime then refuses
    other sizes.  Make H and W of the first input and output symbolic (in place)."""
    for vi in list(model.graph.input[:1]) + list(model.graph.output[:1]):
        dims = vi.type.tensor_type.shape.dim
        for i, name in ((2, "height"), (3, "width")):
            if dims[i].HasField("dim_value"):
                dims[i].ClearField("dim_value")
                dims[i].dim_param = name
    del model.graph.value_info[:]
    return model


class QuietStderr:
    """Silence fd 2 (C++ libraries included) for a block; replay it if the block raises.

    Debian's onnx and onnxruntime share the ONNX schema registry, and once both are loaded the
    registry prints hundreds of harmless "Schema error: ... already registered" lines."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.buf = tempfile.TemporaryFile()
        os.dup2(self.buf.fileno(), 2)
        return self

    def __exit__(self, kind, value, tb):
        sys.stderr.flush()
        os.dup2(self.saved, 2)
        os.close(self.saved)
        if kind is not None:
            self.buf.seek(0)
            sys.stderr.write(self.buf.read().decode(errors="replace")[-4000:])
        self.buf.close()
        return False
