"""ONNX Runtime reference helpers shared by tests/test_cli.py and scripts/bench_ort.py."""


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
