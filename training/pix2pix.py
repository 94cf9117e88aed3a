# SPDX-License-Identifier: GPL-3.0-or-later
"""Train pix2pix (Isola et al. 2017) on paired images.

    scripts/in-trixie.sh python3 -m training.pix2pix --pairs train/ --name my-mapping
    scripts/in-trixie.sh python3 -m training.pix2pix --a inputs/ --b targets/ ...

--pairs: each file holds input|target side by side (the pix2pix datasets' layout); --a/--b: two
folders paired by file name.  U-Net generator (8 levels = U-Net-256: H and W multiples of 256) and
a conditional PatchGAN on (input, output); LSGAN + lambda * L1 (lambda 100).  BatchNorm is
exported in eval mode (running statistics) and Dropout is off at inference, so the exported
network is deterministic.  Real data needs a GPU; on a CPU use small --ngf, --downs and --crop."""
import os
import random

import torch
import torch.nn.functional as F

from . import common
from .gan_data import export_generator, load_folder, lsgan, random_crop, train
from .nets import PatchGAN, UNetGenerator


def parse(argv=None):
    p = common.base_parser(__doc__.split("\n")[0], "trained-pix2pix")
    p.set_defaults(lr=2e-4, batch=1)
    p.add_argument("--pairs", help="folder of side-by-side input|target images")
    p.add_argument("--a", help="folder of inputs (with --b: paired by file name)")
    p.add_argument("--b", help="folder of targets")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--downs", type=int, default=8, help="U-Net levels (8 = U-Net-256)")
    p.add_argument("--d-layers", type=int, default=3)
    p.add_argument("--load-size", type=int, default=286)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--lambda-l1", type=float, default=100.0)
    return p.parse_args(argv)


def load_pairs(args):
    if args.pairs:
        pairs = []
        for name, ab in load_folder(args.pairs, None):
            w = ab.shape[2] // 2
            a, b = ab[:, :, :w], ab[:, :, w:2 * w]
            pairs.append((name, resize_short(a, args.load_size), resize_short(b, args.load_size)))
        return pairs
    if not (args.a and args.b):
        raise SystemExit("give --pairs DIR, or --a DIR and --b DIR")
    A = dict(load_folder(args.a, args.load_size))
    B = dict(load_folder(args.b, args.load_size))
    names = sorted(set(A) & set(B))
    if not names:
        raise SystemExit(f"no file names common to {args.a} and {args.b}")
    bad = [n for n in names if A[n].shape != B[n].shape]
    if bad:
        raise SystemExit(f"{bad[0]}: input and target sizes differ")
    return [(n, A[n], B[n]) for n in names]


def resize_short(t, short):
    if not short:
        return t
    _, h, w = t.shape
    s = short / min(h, w)
    return F.interpolate(t[None], size=(max(short, round(h * s)), max(short, round(w * s))),
                         mode="bicubic", align_corners=False)[0].clamp(-1, 1)


def main(argv=None):
    args = parse(argv)
    common.setup(args)
    stem = args.name or "pix2pix-" + os.path.basename(os.path.normpath(args.pairs or args.b))
    ckpt = args.checkpoint or os.path.join(args.out, stem + ".ckpt")
    pairs = load_pairs(args)
    G = UNetGenerator(args.ngf, args.downs)
    if args.crop % G.multiple:
        raise SystemExit(f"--crop must be a multiple of {G.multiple} for {args.downs} U-Net levels")
    D = PatchGAN(6, args.ndf, args.d_layers, norm=torch.nn.BatchNorm2d)
    print(f"{stem}: {len(pairs)} pairs", flush=True)

    def step():
        batch = [random_crop([a, b], args.crop) for _, a, b in
                 (random.choice(pairs) for _ in range(args.batch))]
        a = torch.stack([x for x, _ in batch])
        b = torch.stack([y for _, y in batch])
        fake = G(a)
        losses = {"gan": lsgan(D(torch.cat([a, fake], 1)), True),
                  "l1": args.lambda_l1 * F.l1_loss(fake, b)}
        return losses, lambda: 0.5 * (lsgan(D(torch.cat([a, b], 1)), True) +
                                      lsgan(D(torch.cat([a, fake.detach()], 1)), False))

    progress, seconds = train(args, stem, ckpt, {"G": G}, {"D": D}, step)
    _, a0, _ = pairs[0]
    m = G.multiple
    sample = a0[:, :max(m, a0.shape[1] // m * m), :max(m, a0.shape[2] // m * m)]
    export_generator(args, G, stem, sample, "pix2pix", m, seconds, progress,
                     {"downs": args.downs, "crop": args.crop, "lambda_l1": args.lambda_l1})


if __name__ == "__main__":
    main()
