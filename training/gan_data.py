# SPDX-License-Identifier: GPL-3.0-or-later
"""Image folders for the CycleGAN and pix2pix trainers, in -1..1, and their shared export step."""
import os
import random

import onnx
import torch

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
