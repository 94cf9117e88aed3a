#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Convert a published style network to the ONNX files Impasto runs.

    impasto-convert.py CONVERTER OUT_DIR INPUT... [--meta KEY=VALUE]...

CONVERTER is one of the catalogue's converters (catalogue/catalogue.json):
  onnx            an ONNX model, checked and passed through (metadata added)
  pth-cyclegan    a CycleGAN ResNet generator state dict (pytorch-CycleGAN-and-pix2pix)
  pth-pix2pix     a pix2pix U-Net generator state dict
  pth-adain       pytorch-AdaIN: vgg_normalised.pth then decoder.pth
  tflite-magenta  Magenta arbitrary stylization: the style predictor then the transfer .tflite
  ncnn-fast-style the ONNX model zoo's fast-neural-style TransformerNet as ncnn fp16 weights (.bin)
  auto            a single file: ONNX, or a CycleGAN / pix2pix checkpoint told apart by its tensor names
Writes OUT_DIR/model.onnx (the network the user runs), or for a pack of several networks one
OUT_DIR/ROLE.onnx per network: tflite-magenta predictor.onnx + transfer.onnx, pth-adain encoder.onnx +
decoder.onnx (the roles of the sidecar's "networks").
Prints `family FAMILY` on stdout (the sidecar's family: fast, magenta, adain, cyclegan, pix2pix) when
the converter knows it, e.g. for a checkpoint that auto recognised.  Needs only numpy and the onnx package.  Exit status: 0 done, 2 unknown or unsupported input, 1 other errors;
the reason is one line on stderr."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy  # noqa: F401
    import onnx
except ImportError as e:
    print(f"impasto-convert: needs python3 with numpy and onnx ({e})", file=sys.stderr)
    sys.exit(1)

import ncnn_fns  # noqa: E402
import pth_reader  # noqa: E402
import tflite_onnx  # noqa: E402
import tflite_reader  # noqa: E402

CONVERTERS = ("onnx", "pth-cyclegan", "pth-pix2pix", "pth-adain", "tflite-magenta", "ncnn-fast-style", "auto")
RANGE_11 = {"impasto.input_range": "-1,1"}
FAMILIES = {"pth-cyclegan": "cyclegan", "pth-pix2pix": "pix2pix", "pth-adain": "adain", "tflite-magenta": "magenta",
            "ncnn-fast-style": "fast"}


class Unknown(Exception):
    pass


def is_onnx(path):
    try:
        m = onnx.load(path, load_external_data=False)
    except Exception:  # noqa: BLE001  (protobuf raises several types on garbage)
        return False
    return len(m.graph.node) > 0


def pass_onnx(path, meta):
    if not is_onnx(path):
        raise Unknown(f"{path} is not an ONNX model")
    m = onnx.load(path)
    onnx.checker.check_model(m)
    existing = {p.key: p for p in m.metadata_props}
    for k, v in meta.items():
        p = existing.get(k) or m.metadata_props.add()
        p.key, p.value = k, str(v)
    return m


def convert(converter, inputs, meta):
    """(converter used, {output file name: ONNX model}): model.onnx, or ROLE.onnx per network of a pack."""
    import gan
    if converter == "auto":
        if len(inputs) != 1:
            raise Unknown("auto needs exactly one input file")
        path = inputs[0]
        if tflite_reader.is_tflite(path):
            raise Unknown(f"{path} is a TensorFlow Lite file: only the Magenta pair is known "
                          "(install it by its catalogue name)")
        if pth_reader.is_checkpoint(path):
            sd = pth_reader.load_state_dict(path)
            if gan.is_cyclegan(sd):
                converter = "pth-cyclegan"
            elif gan.is_pix2pix(sd):
                converter = "pth-pix2pix"
            else:
                raise Unknown(f"{path} is a PyTorch checkpoint of an unknown architecture "
                              f"(first tensors: {', '.join(list(sd)[:4])})")
        elif is_onnx(path):
            converter = "onnx"
        else:
            with open(path, "rb") as f:
                head = f.read(8)
            raise Unknown(f"unknown model format: {os.path.basename(path)} is neither ONNX, a PyTorch "
                          f"checkpoint nor TensorFlow Lite (first bytes {head.hex()})")
    return converter, _convert(converter, inputs, meta)


def _convert(converter, inputs, meta):
    import gan
    want = {"onnx": 1, "pth-cyclegan": 1, "pth-pix2pix": 1, "pth-adain": 2, "tflite-magenta": 2,
            "ncnn-fast-style": 1}[converter]
    if len(inputs) != want:
        raise Unknown(f"{converter} needs {want} input file(s), got {len(inputs)}")
    if converter == "onnx":
        return {"model.onnx": pass_onnx(inputs[0], meta)}
    if converter == "pth-cyclegan":
        return {"model.onnx": gan.cyclegan_resnet(pth_reader.load_state_dict(inputs[0]), {**RANGE_11, **meta})}
    if converter == "pth-pix2pix":
        return {"model.onnx": gan.pix2pix_unet(pth_reader.load_state_dict(inputs[0]),
                                               {**RANGE_11, "impasto.size_multiple": "256", **meta})}
    if converter == "ncnn-fast-style":
        return {"model.onnx": ncnn_fns.transformer_net(inputs[0], {"impasto.input_range": "0,255", **meta})}
    if converter == "pth-adain":
        import adain
        vgg, dec = (pth_reader.load_state_dict(p) for p in inputs)
        nets = adain.adain(vgg, dec, {"impasto.input_range": "0,1", **meta})
        return {f"{role}.onnx": m for role, m in nets.items()}
    predictor, transfer = tflite_onnx.magenta(inputs[0], inputs[1], {"impasto.input_range": "0,1", **meta})
    return {"predictor.onnx": predictor, "transfer.onnx": transfer}


def main(argv):
    meta, args = {}, []
    it = iter(argv)
    for a in it:
        if a == "--meta":
            k, _, v = next(it, "").partition("=")
            meta[k] = v
        else:
            args.append(a)
    if len(args) < 3 or args[0] not in CONVERTERS:
        print(__doc__, file=sys.stderr)
        return 2
    converter, out_dir, inputs = args[0], args[1], args[2:]
    try:
        converter, models = convert(converter, inputs, meta)
    except (Unknown, pth_reader.CheckpointError, tflite_reader.TFLiteError, tflite_onnx.UnsupportedOp,
            ncnn_fns.NcnnError) as e:
        print(f"impasto-convert: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"impasto-convert: {converter}: {e.args[0]}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001  (one line for the caller, whatever went wrong)
        print(f"impasto-convert: {converter}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for name in list(models):
        paths.append(os.path.join(out_dir, name))
        onnx.save(models.pop(name), paths[-1])
    # checked as written, with the in-memory models gone: the checker holds its own copy of the weights
    try:
        for path in paths:
            onnx.checker.check_model(path, full_check=True)
    except onnx.checker.ValidationError as e:
        for path in paths:
            os.unlink(path)
        print(f"impasto-convert: {converter}: the ONNX written does not pass onnx.checker: {e}", file=sys.stderr)
        return 1
    if converter in FAMILIES:
        print("family", FAMILIES[converter])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
