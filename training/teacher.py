# SPDX-License-Identifier: GPL-3.0-or-later
"""The distillation teacher: Magenta's arbitrary stylization network (Ghiasi et al. 2017, the ONNX
conversions in ../shared/models-magenta), run with ONNX Runtime in the training process."""
import os

import numpy as np
import torch
from PIL import Image

from .common import SHARED


def magenta_dir():
    return os.path.join(SHARED, "models-magenta")


def style_crop(path):
    """The predictor's input: short side 256 (bilinear), centre crop 256x256, [1, 3, 256, 256]."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = 256 / min(w, h)
    nw, nh = max(256, int(w * s)), max(256, int(h * s))
    im = im.resize((nw, nh), Image.BILINEAR)
    x, y = (nw - 256) // 2, (nh - 256) // 2
    a = np.asarray(im.crop((x, y, x + 256, y + 256)), np.float32) / 255.0
    return a.transpose(2, 0, 1)[None].copy()


class Teacher:
    def __init__(self, painting, folder=None, threads=1):
        import onnxruntime as ort
        folder = folder or magenta_dir()
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        mk = lambda f: ort.InferenceSession(os.path.join(folder, f), so,  # noqa: E731
                                            providers=["CPUExecutionProvider"])
        self.predict = mk("magenta-style-predict.onnx")
        self.transfer = mk("magenta-style-transfer.onnx")
        self.predictor_path = os.path.join(folder, "magenta-style-predict.onnx")
        self.bottleneck = self.predict.run(None, {"style_image": style_crop(painting)})[0]

    def __call__(self, content):
        """[N, 3, H, W] torch in [0, 1] (H, W multiples of 4) -> the teacher's output, same shape."""
        out = [self.transfer.run(None, {"content_image": c[None].numpy(),
                                        "style_bottleneck": self.bottleneck})[0]
               for c in content]
        return torch.from_numpy(np.concatenate(out, 0))
