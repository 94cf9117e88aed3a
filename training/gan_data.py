# SPDX-License-Identifier: GPL-3.0-or-later
"""What the CycleGAN and pix2pix trainers share: image folders in -1..1, the adversarial training
loop, the export step."""
import itertools
import os
import random

import onnx
import torch
import torch.nn.functional as F

from . import common


def load_folder(folder, load_size):
    return [(os.path.basename(p), common.load_rgb(p, load_size) * 2 - 1)
            for p in common.list_images(folder)]


def random_crop(ims, size, flip=True):
    """Same crop (and flip) of every [3, H, W] in ims; they must have the same size."""
    _, h, w = ims[0].shape
    if h < size or w < size:
        raise SystemExit(f"image of {w}x{h} is smaller than the crop {size}")
    y, x = random.randint(0, h - size), random.randint(0, w - size)
    f = flip and random.random() < 0.5
    out = []
    for im in ims:
        c = im[:, y:y + size, x:x + size]
        out.append(c.flip(2) if f else c)
    return out


class ImagePool:
    """Shrivastava et al. 2017: D sees a mix of current and earlier fakes (CycleGAN's pool of 50)."""

    def __init__(self, size=50):
        self.size, self.images = size, []

    def query(self, batch):
        if self.size == 0:
            return batch
        out = []
        for im in batch.detach():
            if len(self.images) < self.size:
                self.images.append(im)
                out.append(im)
            elif random.random() < 0.5:
                i = random.randrange(self.size)
                out.append(self.images[i])
                self.images[i] = im
            else:
                out.append(im)
        return torch.stack(out)


def lsgan(pred, real):
    """Least-squares GAN loss (Mao et al. 2017), as both papers' code trains."""
    return F.mse_loss(pred, torch.full_like(pred, 1.0 if real else 0.0))


def adam(modules, lr):
    """Adam over the parameters of modules, with both papers' beta1 of 0.5."""
    return torch.optim.Adam(itertools.chain(*(m.parameters() for m in modules)), lr,
                            betas=(0.5, 0.999))


def train(args, stem, ckpt, generators, discriminators, step):
    """Alternate generator and discriminator updates until args' steps or minutes are spent,
    resuming from and saving checkpoint ckpt; returns (progress, seconds).

    generators and discriminators: {name: module} (the names key the checkpoint).  step() draws a
    batch and returns ({name: generator loss}, loss_d): loss_d() is the discriminator's loss, called
    after the generator's update.  An update whose loss or gradients are not finite is skipped
    and counted (the step's losses are then not logged)."""
    opt_g = adam(generators.values(), args.lr)
    opt_d = adam(discriminators.values(), args.lr)
    modules, optims = {**generators, **discriminators}, {"G": opt_g, "D": opt_d}
    progress = common.Progress(args)
    if os.path.exists(ckpt):
        progress.step, progress.before, progress.skipped, _ = common.load_checkpoint(
            ckpt, modules, optims)
    for m in modules.values():
        m.train()
    while not progress.done():
        for o in optims.values():
            for g in o.param_groups:
                g["lr"] = args.lr * common.lr_factor(progress.fraction())
        losses, loss_d_of = step()
        loss_g = sum(losses.values())
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        ok = bool(torch.isfinite(loss_g)) and common.grads_finite(*generators.values())
        if ok:
            opt_g.step()
        loss_d = loss_d_of()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if bool(torch.isfinite(loss_d)) and common.grads_finite(*discriminators.values()):
            opt_d.step()
        else:
            ok = False
        progress.step += 1
        if ok:
            losses["D"] = loss_d
            progress.add({k: v.detach() for k, v in losses.items()})
        else:
            progress.skipped += 1
        progress.log()
        if progress.step % args.checkpoint_every == 0:
            common.save_checkpoint(ckpt, progress, modules, optims)
    progress.log(force=True)
    common.save_checkpoint(ckpt, progress, modules, optims)
    seconds = progress.elapsed()
    print(f"{stem}: {progress.step} steps in {seconds / 60:.1f} min, "
          f"{progress.skipped} skipped (non-finite)", flush=True)
    return progress, seconds


def export_generator(args, G, stem, sample_in, family, multiple, seconds, progress, extra=None):
    """ONNX (input/output -1..1) + sidecar + thumbnail of G on sample_in ([3, H, W] in -1..1)."""
    G.eval()
    path = os.path.join(args.out, stem + ".onnx")
    s = max(multiple, 32)
    common.export_onnx(G, path, torch.rand(1, 3, s, s) * 2 - 1)
    model = onnx.load(path)
    onnx.helper.set_model_props(model, {"impasto.input_range": "-1,1"})
    onnx.save(model, path)
    with torch.no_grad():
        y = G(sample_in[None])[0]
    common.thumbnail(common.to_uint8((y + 1) / 2), os.path.join(args.out, stem + ".png"))
    training = {"command": common.command_line(), "minutes": round(seconds / 60, 1),
                "steps": progress.step, "skipped_steps": progress.skipped,
                "threads": args.threads, "seed": args.seed, "ngf": args.ngf}
    training.update(extra or {})
    common.write_sidecar(args, stem, family, [-1, 1], multiple, seconds, progress.step,
                         extra={"training": training})
    print(f"exported {path} ({os.path.getsize(path) / 1e6:.2f} MB)", flush=True)
    common.install(args, stem)
    return path
