# SPDX-License-Identifier: GPL-3.0-or-later
"""CycleGAN ResNet and pix2pix U-Net generators (junyanz/pytorch-CycleGAN-and-pix2pix layouts) from
their state dicts to ONNX.  Widths and depths are read off the weights, so any ngf / block count works.
Both nets take and give RGB in -1..1; BatchNorm uses the running statistics (eval mode)."""
from onnx_builder import Builder, weight

DYNAMIC = [1, 3, "height", "width"]


def is_cyclegan(sd):
    return "model.1.weight" in sd and sd["model.1.weight"].ndim == 4 and sd["model.1.weight"].shape[2] == 7


def is_pix2pix(sd):
    return "model.model.0.weight" in sd and "model.model.1.model.1.weight" in sd


def cyclegan_resnet(sd, metadata):
    """ReflectionPad3 Conv7 IN ReLU, 2x (Conv3/2 IN ReLU), N residual blocks, 2x (ConvT3/2 IN ReLU),
    ReflectionPad3 Conv7 Tanh.  Sequential indices as in ResnetGenerator (no dropout)."""
    b = Builder()
    x = b.input("input", DYNAMIC)
    w = weight(sd, "model.1.weight")
    x = b.conv(b.reflect_pad(x, 3), w, sd.get("model.1.bias"))
    x = b.op("Relu", [b.instance_norm(x, w.shape[0])])
    for i in (4, 7):
        w = weight(sd, f"model.{i}.weight")
        x = b.conv(x, w, sd.get(f"model.{i}.bias"), stride=2, pads=(1, 1, 1, 1))
        x = b.op("Relu", [b.instance_norm(x, w.shape[0])])
    i = 10
    while f"model.{i}.conv_block.1.weight" in sd:
        p = f"model.{i}.conv_block."
        w1, w2 = sd[p + "1.weight"], weight(sd, p + "5.weight")
        y = b.conv(b.reflect_pad(x, 1), w1, sd.get(p + "1.bias"))
        y = b.op("Relu", [b.instance_norm(y, w1.shape[0])])
        y = b.conv(b.reflect_pad(y, 1), w2, sd.get(p + "5.bias"))
        x = b.op("Add", [x, b.instance_norm(y, w2.shape[0])])
        i += 1
    if i == 10:
        raise KeyError("no residual blocks found (not a CycleGAN ResNet generator)")
    for j in (i, i + 3):
        w = weight(sd, f"model.{j}.weight")  # ConvTranspose [in, out, 3, 3]
        x = b.conv_transpose(x, w, sd.get(f"model.{j}.bias"), output_padding=(1, 1))
        x = b.op("Relu", [b.instance_norm(x, w.shape[1])])
    j = i + 7
    x = b.conv(b.reflect_pad(x, 3), weight(sd, f"model.{j}.weight"), sd.get(f"model.{j}.bias"))
    b.output(b.op("Tanh", [x]), "output", DYNAMIC)
    return b.model(metadata, "CycleGAN ResNet generator (Zhu et al. 2017)")


def _unet_block(b, sd, p, x, outermost=False):
    """One UnetSkipConnectionBlock whose Sequential is at key prefix p (ends with '.')."""
    if outermost:
        y = b.conv(x, weight(sd, p + "0.weight"), sd.get(p + "0.bias"), stride=2, pads=(1, 1, 1, 1))
        y = _unet_block(b, sd, p + "1.model.", y)
        y = b.op("Relu", [y])
        return b.conv_transpose(y, weight(sd, p + "3.weight"), sd.get(p + "3.bias"))
    y = b.op("LeakyRelu", [x], alpha=0.2)
    y = b.conv(y, weight(sd, p + "1.weight"), sd.get(p + "1.bias"), stride=2, pads=(1, 1, 1, 1))
    if any(k.startswith(p + "3.model.") for k in sd):
        y = b.batch_norm(y, sd, p + "2.")
        y = _unet_block(b, sd, p + "3.model.", y)
        up = 5
    else:  # innermost: no norm after the down conv, no sub-block
        up = 3
    y = b.op("Relu", [y])
    y = b.conv_transpose(y, weight(sd, p + f"{up}.weight"), sd.get(p + f"{up}.bias"))
    y = b.batch_norm(y, sd, p + f"{up + 1}.")
    return b.op("Concat", [x, y], axis=1)


def pix2pix_unet(sd, metadata):
    b = Builder()
    x = b.input("input", DYNAMIC)
    y = _unet_block(b, sd, "model.model.", x, outermost=True)
    b.output(b.op("Tanh", [y]), "output", DYNAMIC)
    return b.model(metadata, "pix2pix U-Net generator (Isola et al. 2017)")
