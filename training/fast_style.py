# SPDX-License-Identifier: GPL-3.0-or-later
"""Train a fast style network (Johnson et al. 2016 TransformerNet) for one painting.

    scripts/in-trixie.sh python3 -m training.fast_style --style painting.jpg \\
        --install ~/.config/GIMP/3.0

Loss on random crops of photos (x = photo, y = student(x), t = teacher(x), s = the painting):
  distill  L1(y, t), t from Magenta's arbitrary network run for the same painting
  feature  L1 between deep features of y and of t (relative to |F(t)|)
  style    Gram matrices of F(y) against those of the painting (relative squared error)
  gan      LSGAN with a PatchGAN discriminator: real = teacher outputs (or painting crops)
F = the MobileNetV2 trunk of Magenta's style predictor (default) or a torchvision VGG19 .pth.
Exports NAME.onnx (input and output RGB 0-255, H and W multiples of 4), NAME.json, NAME.png."""
import json
import os
import random
import time

import torch
import torch.nn.functional as F

from . import common
from .features import feature_net, gram
from .nets import PatchGAN, TransformerNet
from .teacher import Teacher

HOLDOUT = ("kodim23", "kodim15", "chelsea", "astronaut")


def parse(argv=None):
    p = common.base_parser(__doc__.split("\n")[0], "trained-styles")
    p.set_defaults(steps=2000)
    p.add_argument("--style", required=True, help="the painting (any image)")
    p.add_argument("--content", nargs="+",
                   default=[os.path.join(common.SHARED, "models-src", "images-content"),
                            os.path.join(common.SHARED, "models-src", "images-kodak")],
                   help="photo folders or files to train on (default: ../shared's photos)")
    p.add_argument("--holdout", nargs="*", default=list(HOLDOUT),
                   help="photo stems kept out of training (evaluation; default %(default)s)")
    p.add_argument("--scales", type=int, nargs="+", default=[256, 384, 512],
                   help="short sides the photos are loaded at (crops come from all)")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--ngf", type=int, default=16)
    p.add_argument("--blocks", type=int, default=5)
    p.add_argument("--ndf", type=int, default=16)
    p.add_argument("--w-distill", type=float, default=1.0)
    p.add_argument("--w-feature", type=float, default=0.05)
    p.add_argument("--w-style", type=float, default=0.02)
    p.add_argument("--w-gan", type=float, default=0.01)
    p.add_argument("--gan-real", choices=("teacher", "painting"), default="teacher")
    p.add_argument("--no-teacher", action="store_true",
                   help="classic Johnson training: feature loss against the photo, no distillation")
    p.add_argument("--magenta", default=None, help="folder with magenta-style-{predict,transfer}.onnx")
    p.add_argument("--vgg19", metavar="PTH", help="torchvision VGG19 state dict for the feature net")
    p.add_argument("--thumbnail-photo", default=None,
                   help="photo stylised for the thumbnail (default: the first held-out one)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse(argv)
    common.setup(args)
    stem = args.name or os.path.splitext(os.path.basename(args.style))[0]
    ckpt = args.checkpoint or os.path.join(args.out, stem + ".ckpt")
    if args.crop % 4:
        raise SystemExit("--crop must be a multiple of 4")

    photos = common.list_images(*args.content, exclude=set(args.holdout))
    held = [p for d in args.content if os.path.isdir(d) for p in common.list_images(d)
            if os.path.splitext(os.path.basename(p))[0] in args.holdout]
    pool = [common.load_rgb(p, s) for p in photos for s in args.scales]
    print(f"{stem}: {len(photos)} training photos x {len(args.scales)} scales, "
          f"{len(held)} held out", flush=True)

    teacher = None
    magenta = args.magenta or os.path.join(common.SHARED, "models-magenta")
    if not args.no_teacher:
        teacher = Teacher(args.style, magenta, threads=1)
    try:
        feat, style_taps, content_taps = feature_net(
            os.path.join(magenta, "magenta-style-predict.onnx"), args.vgg19)
    except (ValueError, OSError) as e:
        raise SystemExit(f"fast_style: {e}")
    painting = common.load_rgb(args.style, 256)
    with torch.no_grad():
        style_grams = {k: gram(v) for k, v in feat(painting[None]).items() if k in style_taps}

    G = TransformerNet(args.ngf, args.blocks)
    D = PatchGAN(3, args.ndf, 3)
    opt_g = torch.optim.Adam(G.parameters(), args.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), args.lr, betas=(0.5, 0.999))
    progress = common.Progress(args)
    if os.path.exists(ckpt):
        progress.step, progress.before, progress.skipped, _ = common.load_checkpoint(
            ckpt, {"G": G, "D": D}, {"G": opt_g, "D": opt_d})

    def crops(n, size):
        out = []
        for _ in range(n):
            im = random.choice(pool)
            _, h, w = im.shape
            y, x = random.randint(0, h - size), random.randint(0, w - size)
            c = im[:, y:y + size, x:x + size]
            out.append(c.flip(2) if random.random() < 0.5 else c)
        return torch.stack(out)

    def painting_crops(n, size):
        _, h, w = painting.shape
        out = []
        for _ in range(n):
            y, x = random.randint(0, h - size), random.randint(0, w - size)
            out.append(painting[:, y:y + size, x:x + size])
        return torch.stack(out)

    G.train()
    D.train()
    while not progress.done():
        for o in (opt_g, opt_d):
            for g in o.param_groups:
                g["lr"] = args.lr * common.lr_factor(progress.fraction())
        x = crops(args.batch, args.crop)
        with torch.no_grad():
            t = teacher(x) if teacher else None
            target = t if t is not None else x
            ft = feat(target)
        y = G(x)
        losses = {}
        fy = feat(y)
        if t is not None:
            losses["distill"] = args.w_distill * F.l1_loss(y, t)
        losses["feature"] = args.w_feature * sum(
            F.l1_loss(fy[k], ft[k]) / (ft[k].abs().mean() + 1e-8) for k in content_taps)
        losses["style"] = args.w_style * sum(
            ((gram(fy[k]) - style_grams[k]) ** 2).sum((1, 2)).mean() /
            (style_grams[k] ** 2).sum() for k in style_taps)
        if args.w_gan > 0:
            losses["gan"] = args.w_gan * ((D(y) - 1) ** 2).mean()
        loss_g = sum(losses.values())
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ok = torch.isfinite(loss_g) and common.grads_finite(G)
        if ok:
            opt_g.step()
        if args.w_gan > 0:
            real = t if (t is not None and args.gan_real == "teacher") else \
                painting_crops(args.batch, args.crop)
            loss_d = 0.5 * (((D(real) - 1) ** 2).mean() + (D(y.detach()) ** 2).mean())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            if torch.isfinite(loss_d) and common.grads_finite(D):
                opt_d.step()
                losses["D"] = loss_d.detach()
            else:
                ok = False
        progress.step += 1
        if not ok:
            progress.skipped += 1
        else:
            progress.add({k: v.detach() for k, v in losses.items()})
        progress.log()
        if progress.step % args.checkpoint_every == 0:
            common.save_checkpoint(ckpt, progress, {"G": G, "D": D}, {"G": opt_g, "D": opt_d})
    progress.log(force=True)
    common.save_checkpoint(ckpt, progress, {"G": G, "D": D}, {"G": opt_g, "D": opt_d})
    seconds = progress.elapsed()
    print(f"{stem}: {progress.step} steps in {seconds / 60:.1f} min, "
          f"{progress.skipped} skipped (non-finite)", flush=True)
    export(args, G, stem, held, seconds, progress)


def export(args, G, stem, held, seconds, progress):
    G.eval()
    net = G.scaled_copy(255.0)
    path = os.path.join(args.out, stem + ".onnx")
    common.export_onnx(net, path, torch.rand(1, 3, 64, 64) * 255)
    photo = args.thumbnail_photo or (held[0] if held else None)
    if photo:
        x = common.load_rgb(photo, 256)
        _, h, w = x.shape
        x = x[:, :h - h % 4, :w - w % 4]
        with torch.no_grad():
            y = G(x[None])[0]
        common.thumbnail(common.to_uint8(y), os.path.join(args.out, stem + ".png"))
    common.write_sidecar(args, stem, "fast", [0, 255], 4, seconds, progress.step, extra={
        "training": {"command": common.command_line(), "minutes": round(seconds / 60, 1),
                     "steps": progress.step, "skipped_steps": progress.skipped,
                     "threads": args.threads, "seed": args.seed, "ngf": args.ngf,
                     "crop": args.crop, "batch": args.batch,
                     "teacher": None if args.no_teacher else "magenta-arbitrary-v1-256",
                     "feature_net": "vgg19" if args.vgg19 else "magenta-mobilenetv2"}})
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.2f} MB)", flush=True)
    common.install(args, stem)


if __name__ == "__main__":
    main()
