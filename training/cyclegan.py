# SPDX-License-Identifier: GPL-3.0-or-later
"""Train CycleGAN (Zhu et al. 2017) on two unpaired image folders A and B.

    scripts/in-trixie.sh python3 -m training.cyclegan --a photos/ --b paintings/ --name my-style

Two ResNet generators (A->B, B->A) and two PatchGAN discriminators; LSGAN + cycle (L1, lambda 10)
+ identity (L1, 0.5 * lambda) losses, Adam 2e-4 (beta1 0.5), a pool of 50 earlier fakes.
Exports the A->B generator (NAME.onnx, -1..1) with sidecar and thumbnail; with --export-reverse
also B->A as NAME-reverse.onnx.  Real data needs a GPU; on a CPU use small --ngf and --crop."""
import os
import random

import torch
import torch.nn.functional as F

from . import common
from .gan_data import ImagePool, export_generator, load_folder, lsgan, random_crop, train
from .nets import PatchGAN, ResnetGenerator


def parse(argv=None):
    p = common.base_parser(__doc__.split("\n")[0], "trained-cyclegan")
    p.set_defaults(lr=2e-4, batch=1)
    p.add_argument("--a", required=True, help="folder of domain A images (the input side)")
    p.add_argument("--b", required=True, help="folder of domain B images (the output side)")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--ndf", type=int, default=64)
    p.add_argument("--blocks", type=int, default=9)
    p.add_argument("--d-layers", type=int, default=3)
    p.add_argument("--load-size", type=int, default=286)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--lambda-cycle", type=float, default=10.0)
    p.add_argument("--lambda-identity", type=float, default=0.5)
    p.add_argument("--pool", type=int, default=50)
    p.add_argument("--export-reverse", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    common.setup(args)
    stem = args.name or "cyclegan-" + os.path.basename(os.path.normpath(args.b))
    ckpt = args.checkpoint or os.path.join(args.out, stem + ".ckpt")
    A = [im for _, im in load_folder(args.a, args.load_size)]
    B = [im for _, im in load_folder(args.b, args.load_size)]
    print(f"{stem}: {len(A)} A images, {len(B)} B images", flush=True)

    G_ab, G_ba = ResnetGenerator(args.ngf, args.blocks), ResnetGenerator(args.ngf, args.blocks)
    D_a, D_b = PatchGAN(3, args.ndf, args.d_layers), PatchGAN(3, args.ndf, args.d_layers)
    pool_a, pool_b = ImagePool(args.pool), ImagePool(args.pool)

    def step():
        ra = torch.stack([random_crop([random.choice(A)], args.crop)[0] for _ in range(args.batch)])
        rb = torch.stack([random_crop([random.choice(B)], args.crop)[0] for _ in range(args.batch)])
        fb, fa = G_ab(ra), G_ba(rb)
        losses = {"gan": lsgan(D_b(fb), True) + lsgan(D_a(fa), True),
                  "cycle": args.lambda_cycle * (F.l1_loss(G_ba(fb), ra) + F.l1_loss(G_ab(fa), rb))}
        if args.lambda_identity > 0:
            losses["identity"] = args.lambda_cycle * args.lambda_identity * (
                F.l1_loss(G_ab(rb), rb) + F.l1_loss(G_ba(ra), ra))
        return losses, lambda: (
            0.5 * (lsgan(D_b(rb), True) + lsgan(D_b(pool_b.query(fb)), False)) +
            0.5 * (lsgan(D_a(ra), True) + lsgan(D_a(pool_a.query(fa)), False)))

    progress, seconds = train(args, stem, ckpt, {"G_ab": G_ab, "G_ba": G_ba},
                              {"D_a": D_a, "D_b": D_b}, step)
    extra = {"blocks": args.blocks, "crop": args.crop, "lambda_cycle": args.lambda_cycle,
             "lambda_identity": args.lambda_identity}
    sample = A[0][:, :A[0].shape[1] // 4 * 4, :A[0].shape[2] // 4 * 4]
    export_generator(args, G_ab, stem, sample, "cyclegan", 4, seconds, progress, extra)
    if args.export_reverse:
        sample = B[0][:, :B[0].shape[1] // 4 * 4, :B[0].shape[2] // 4 * 4]
        export_generator(args, G_ba, stem + "-reverse", sample, "cyclegan", 4, seconds,
                         progress, extra)


if __name__ == "__main__":
    main()
