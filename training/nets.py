# SPDX-License-Identifier: GPL-3.0-or-later
"""The networks the trainers train.  Every generator exports to ONNX opset 13 with ops the engine
runs (Pad reflect, Conv, ConvTranspose, InstanceNormalization, BatchNormalization, Relu,
LeakyRelu, Add, Concat, Resize nearest, Tanh)."""
import torch
import torch.nn as nn


# ---- Johnson et al. 2016 TransformerNet (the layout of pytorch/examples' fast_neural_style) ----

class ConvIN(nn.Sequential):
    """Reflect pad, conv, affine InstanceNorm, optional ReLU."""

    def __init__(self, cin, cout, k, stride=1, relu=True):
        layers = [nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride),
                  nn.InstanceNorm2d(cout, affine=True)]
        if relu:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(ConvIN(c, c, 3), ConvIN(c, c, 3, relu=False))

    def forward(self, x):
        return x + self.body(x)


class TransformerNet(nn.Module):
    """Width ngf (pytorch/examples: 32).  Works on [0, 1] RGB during training; export() folds the
    0-255 scaling of the engine's "fast" family into the first and last convolutions."""

    def __init__(self, ngf=16, blocks=5):
        super().__init__()
        self.ngf = ngf
        self.net = nn.Sequential(
            ConvIN(3, ngf, 9), ConvIN(ngf, 2 * ngf, 3, 2), ConvIN(2 * ngf, 4 * ngf, 3, 2),
            *[Residual(4 * ngf) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"), ConvIN(4 * ngf, 2 * ngf, 3),
            nn.Upsample(scale_factor=2, mode="nearest"), ConvIN(2 * ngf, ngf, 3),
            nn.ReflectionPad2d(4), nn.Conv2d(ngf, 3, 9))

    def forward(self, x):
        return self.net(x)

    def scaled_copy(self, scale):
        """A copy taking and returning x * scale: conv1(x/s) = (W/s) * x, last conv times s."""
        import copy
        m = copy.deepcopy(self)
        first, last = m.net[0][1], m.net[-1]
        with torch.no_grad():
            first.weight /= scale
            last.weight *= scale
            last.bias *= scale
        return m


# ---- PatchGAN discriminator (Isola et al. 2017; 70x70 for n_layers 3) ---------------------------

class PatchGAN(nn.Module):
    def __init__(self, cin=3, ndf=64, n_layers=3, norm=nn.InstanceNorm2d):
        super().__init__()
        layers = [nn.Conv2d(cin, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < n_layers else 1, 1),
                       norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# ---- CycleGAN ResNet generator (Zhu et al. 2017; pytorch-CycleGAN-and-pix2pix layout) ----------

class ResnetBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """-1..1 in and out; two stride-2 convs down, ConvTranspose with output_padding up."""

    def __init__(self, ngf=64, blocks=9):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
        for m in (1, 2):
            layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), nn.InstanceNorm2d(ngf * m * 2),
                       nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(blocks)]
        for m in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                       nn.InstanceNorm2d(ngf * m // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


# ---- pix2pix U-Net (Isola et al. 2017): 4x4 stride-2 convs, skip Concat, BatchNorm ------------

class UNetBlock(nn.Module):
    def __init__(self, outer, inner, sub=None, cin=None, outermost=False, innermost=False,
                 dropout=False):
        super().__init__()
        cin = cin or outer
        self.outermost = outermost
        down_conv = nn.Conv2d(cin, inner, 4, 2, 1, bias=False)
        if outermost:
            layers = [down_conv, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1),
                      nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.BatchNorm2d(inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False),
                      nn.BatchNorm2d(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UNetGenerator(nn.Module):
    """U-Net with `downs` stride-2 levels (8 = the published U-Net-256: H, W multiples of 256)."""

    def __init__(self, ngf=64, downs=8):
        super().__init__()
        if downs < 5:
            raise ValueError("the U-Net needs at least 5 levels")
        b = UNetBlock(ngf * 8, ngf * 8, innermost=True)
        for _ in range(downs - 5):
            b = UNetBlock(ngf * 8, ngf * 8, b, dropout=True)
        b = UNetBlock(ngf * 4, ngf * 8, b)
        b = UNetBlock(ngf * 2, ngf * 4, b)
        b = UNetBlock(ngf, ngf * 2, b)
        self.net = UNetBlock(3, ngf, b, cin=3, outermost=True)
        self.multiple = 2 ** downs

    def forward(self, x):
        return self.net(x)
