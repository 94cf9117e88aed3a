# SPDX-License-Identifier: GPL-3.0-or-later
"""Frozen feature networks for the perceptual and Gram losses.

Default: the MobileNetV2 trunk of Magenta's style predictor (`magenta-style-predict.onnx` in
../shared/models-magenta), rebuilt as a torch module from the ONNX initializers by a tiny
interpreter (Conv, Clip, Add).  Optional: a torchvision VGG19 state dict (`vgg19-*.pth`) given by
path.  Both take RGB in [0, 1] and return {tap name: [N, C, H, W]}."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# Taps of the MobileNetV2 trunk: stride 2, 4, 8, 16 (the residual sums end each stage).
MOBILENET_STYLE = ("/stem/Clip_output_0", "/blocks.2/Add_output_0", "/blocks.5/Add_output_0",
                   "/blocks.9/Add_output_0")
MOBILENET_CONTENT = ("/blocks.5/Add_output_0", "/blocks.12/Add_output_0")


class OnnxTrunk(nn.Module):
    """Runs the ONNX graph's nodes in order up to the last tap; weights are frozen buffers."""

    def __init__(self, path, taps):
        super().__init__()
        import onnx
        from onnx import numpy_helper
        model = onnx.load(path)
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.taps = tuple(taps)
        produced = [o for n in model.graph.node for o in n.output]
        missing = [t for t in self.taps if t not in produced]
        if missing:
            raise ValueError(f"{path}: no tensor named {', '.join(missing)}")
        last = max(produced.index(t) for t in self.taps)
        self.input = model.graph.input[0].name
        self.steps = []
        nbuf = 0
        for n in model.graph.node:
            a = {x.name: __import__("onnx").helper.get_attribute_value(x) for x in n.attribute}
            if n.op_type == "Conv":
                names = []
                for arr in (inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None):
                    if arr is None:
                        names.append(None)
                        continue
                    name = f"w{nbuf}"
                    nbuf += 1
                    self.register_buffer(name, torch.from_numpy(np.array(arr, np.float32)))
                    names.append(name)
                pads = list(a.get("pads", [0, 0, 0, 0]))
                self.steps.append(("Conv", n.input[0], n.output[0], names,
                                   dict(stride=tuple(a.get("strides", [1, 1])),
                                        groups=a.get("group", 1),
                                        pads=(pads[1], pads[3], pads[0], pads[2]))))
            elif n.op_type == "Clip":
                lo = float(inits[n.input[1]]) if len(n.input) > 1 and n.input[1] else a.get("min")
                hi = float(inits[n.input[2]]) if len(n.input) > 2 and n.input[2] else a.get("max")
                self.steps.append(("Clip", n.input[0], n.output[0], None, dict(lo=lo, hi=hi)))
            elif n.op_type == "Add":
                self.steps.append(("Add", tuple(n.input), n.output[0], None, {}))
            else:
                raise ValueError(f"{path}: op {n.op_type} before the last tap is not supported")
            if n.output[0] == produced[last]:
                break
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        env = {self.input: x}
        out = {}
        for op, src, dst, names, a in self.steps:
            if op == "Conv":
                y = env[src]
                if any(a["pads"]):
                    y = F.pad(y, a["pads"])
                w = getattr(self, names[0])
                b = getattr(self, names[1]) if names[1] else None
                y = F.conv2d(y, w, b, a["stride"], 0, 1, a["groups"])
            elif op == "Clip":
                y = env[src].clamp(a["lo"], a["hi"])
            else:
                y = env[src[0]] + env[src[1]]
            env[dst] = y
            if dst in self.taps:
                out[dst] = y
        return out


# torchvision's vgg19().features: conv widths, "M" = max pool; indices match `features.N.*`.
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
             512, 512, 512, 512, "M")
# ReLU outputs by torchvision index: relu1_1 1, relu2_1 6, relu3_1 11, relu4_1 20, relu4_2 22.
VGG_STYLE = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
VGG_CONTENT = ("relu4_2",)
VGG_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu4_2": 22,
             "relu5_1": 29}


def vgg19_features():
    layers, c = [], 3
    for v in VGG19_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
            c = v
    return nn.Sequential(*layers)


class VGG19(nn.Module):
    """torchvision VGG19 trunk from a .pth (a full model state dict or `features.*` only)."""

    def __init__(self, path, taps):
        super().__init__()
        try:
            sd = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises many kinds for a file that is no state dict
            raise ValueError(f"{path}: not a torchvision VGG19 state dict ({type(e).__name__})")
        if isinstance(sd, dict) and "state_dict" in sd:
            sd = sd["state_dict"]
        feats = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
        if not feats:
            raise ValueError(f"{path}: no 'features.*' tensors (not a torchvision VGG19 state dict)")
        self.features = vgg19_features()
        want = self.features.state_dict().keys()
        unknown = sorted(set(want) - set(feats))
        if unknown:
            raise ValueError(f"{path}: missing VGG19 tensors features.{unknown[0]} ...")
        self.features.load_state_dict({k: feats[k] for k in want})
        self.taps = tuple(taps)
        self.index = {VGG_INDEX[t]: t for t in self.taps}
        self.last = max(self.index)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x):
        out = {}
        x = (x - self.mean) / self.std
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.index:
                out[self.index[i]] = x
            if i == self.last:
                break
        return out


def feature_net(predictor_onnx=None, vgg19_pth=None):
    """(module, style taps, content taps): VGG19 when a .pth is given, else the MobileNetV2 trunk."""
    if vgg19_pth:
        return VGG19(vgg19_pth, VGG_STYLE + VGG_CONTENT), VGG_STYLE, VGG_CONTENT
    taps = tuple(dict.fromkeys(MOBILENET_STYLE + MOBILENET_CONTENT))
    return OnnxTrunk(predictor_onnx, taps), MOBILENET_STYLE, MOBILENET_CONTENT


def gram(f):
    """[N, C, H, W] -> [N, C, C], normalised by C*H*W."""
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)
