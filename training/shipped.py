# SPDX-License-Identifier: GPL-3.0-or-later
"""Train the styles Impasto ships (models/), one after another, with the recipe in models/README.md.

    scripts/in-trixie.sh nice -n 10 python3 -m training.shipped [--only STEM ...] [--minutes M]

Paintings: ../shared/models-src/images-style (public domain; provenance in SOURCES.md §5 there).
Checkpoints go to build-training/ckpt (git-ignored; a rerun resumes, delete them to start over)."""
import argparse
import json
import os
import sys
import time

from . import common, fast_style

REPO = {
    "jcjohnson/neural-style": "https://github.com/jcjohnson/neural-style/blob/07c4b8299f8f/examples/inputs/",
    "jcjohnson/fast-neural-style": "https://github.com/jcjohnson/fast-neural-style/blob/813c83441953/images/styles/",
    "reiinakano": "https://github.com/reiinakano/fast-style-transfer-deeplearnjs/blob/bd3a0486e4ed/src/images/",
    "yining1023": "https://github.com/yining1023/fast_style_transfer_in_ML5/blob/ea990e18acf1/images/",
}

# stem: file in images-style, display name, painter, date, where the file came from, description
STYLES = [
    ("starry-night", "starry_night.jpg", "Starry Night", "Vincent van Gogh", "1889",
     "jcjohnson/neural-style", "Swirling blue and yellow brushwork."),
    ("great-wave", "wave.jpg", "The Great Wave", "Katsushika Hokusai", "c. 1831",
     "reiinakano", "Woodblock print: indigo, cream and crisp outlines."),
    ("the-scream", "the_scream.jpg", "The Scream", "Edvard Munch", "1893",
     "jcjohnson/neural-style", "Wavy orange and blue bands."),
    ("composition-vii", "composition_vii.jpg", "Composition VII", "Wassily Kandinsky", "1913",
     "jcjohnson/fast-neural-style", "Abstract, many bright colour patches."),
    ("grande-jatte", "sunday.jpg", "La Grande Jatte", "Georges Seurat", "1884",
     "yining1023", "Pointillism: small dots of pure colour."),
    ("shipwreck", "shipwreck.jpg", "The Shipwreck", "J. M. W. Turner", "c. 1810",
     "jcjohnson/neural-style", "Stormy browns and greys, heavy strokes."),
    ("udnie", "udnie.jpg", "Udnie", "Francis Picabia", "1913",
     "reiinakano", "Cubist facets in warm greys and blues."),
    ("fuchun-mountains", "fuchun.jpg", "Fuchun Mountains", "Huang Gongwang", "1350",
     "yining1023", "Chinese ink landscape: brown ink strokes on paper."),
]
TITLES = {
    "starry_night.jpg": "The Starry Night", "wave.jpg": "The Great Wave off Kanagawa",
    "the_scream.jpg": "The Scream", "composition_vii.jpg": "Composition VII",
    "sunday.jpg": "A Sunday Afternoon on the Island of La Grande Jatte",
    "shipwreck.jpg": "The Shipwreck of the Minotaur",
    "udnie.jpg": "Udnie (Jeune fille américaine; la danse)",
    "fuchun.jpg": "Dwelling in the Fuchun Mountains (section)",
}


def source(style):
    stem, file, _, painter, date, repo, _ = style
    return {"title": TITLES[file], "painter": painter, "date": date, "url": REPO[repo] + file,
            "licence": "public domain (see ../shared/models-src/SOURCES.md §5)"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", help="stems to train (default: all)")
    ap.add_argument("--out", default=os.path.join(common.SOURCE, "models"))
    ap.add_argument("--minutes", type=float, default=9.0)
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--ckpt-dir", default=os.path.join(common.SOURCE, "build-training", "ckpt"))
    a, extra = ap.parse_known_args()
    os.makedirs(a.ckpt_dir, exist_ok=True)
    for st in STYLES:
        stem, file, name, painter, date, _, desc = st
        if a.only and stem not in a.only:
            continue
        argv = ["--style", os.path.join(common.SHARED, "models-src", "images-style", file),
                "--out", a.out, "--name", stem, "--title", name,
                "--description", f"{desc} After {TITLES[file]}, {painter}, {date}.",
                "--author", "Impasto contributors (trained by training/shipped.py)",
                "--source-json", json.dumps(source(st), ensure_ascii=False),
                "--steps", str(a.steps), "--minutes", str(a.minutes),
                "--checkpoint", os.path.join(a.ckpt_dir, stem + ".ckpt")] + extra
        t0 = time.time()
        sys.argv = [fast_style.__file__] + argv
        common.COMMAND = (f"python3 -m training.shipped --only {stem} --minutes {a.minutes:g} "
                          f"--steps {a.steps}" + "".join(" " + x for x in extra))
        fast_style.main(argv)
        print(f"== {stem} done in {(time.time() - t0) / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
