# SPDX-License-Identifier: GPL-3.0-or-later
"""Impasto's trainers (PyTorch; optional, not needed to build or run the engine or plug-in).

    python3 -m training.fast_style  --style PAINTING ...   # Johnson TransformerNet, distilled + GAN
    python3 -m training.cyclegan    --a DIR --b DIR ...     # two ResNet generators, unpaired
    python3 -m training.pix2pix     --pairs DIR ...         # U-Net, paired
"""
