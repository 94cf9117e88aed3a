#!/usr/bin/env bash
# Make docs/before-after.jpg for the README with our own CLI: Chelsea the cat (CC0, scikit-image,
# from ../shared/models-src/images-content) beside two stylisations (fast-neural-style models,
# BSD-3-Clause).  Runs in the Debian 13 root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
if [ -z "${IMPASTO_IN_TRIXIE:-}" ]; then exec "$here/in-trixie.sh" "$here/readme-picture.sh" "$@"; fi
cd "$top"
shared=$(cd ../shared && pwd)
[ -f build-trixie/build.ninja ] || meson setup build-trixie >/dev/null
ninja -C build-trixie cli/impasto >/dev/null
tmp=$(mktemp -d)
src=$shared/models-src/images-content/chelsea.png
for style in mosaic-9 candy-9; do
  build-trixie/cli/impasto stylize "$shared/models/$style.onnx" "$src" "$tmp/$style.png"
done
python3 - "$src" "$tmp/mosaic-9.png" "$tmp/candy-9.png" docs/before-after.jpg <<'PY'
import sys, gi
gi.require_version('GdkPixbuf', '2.0')
from gi.repository import GdkPixbuf
tiles = [GdkPixbuf.Pixbuf.new_from_file(p) for p in sys.argv[1:4]]
h = 240
tiles = [t.scale_simple(t.get_width() * h // t.get_height(), h, GdkPixbuf.InterpType.HYPER) for t in tiles]
gap = 6
w = sum(t.get_width() for t in tiles) + gap * (len(tiles) - 1)
out = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, False, 8, w, h)
out.fill(0xffffffff)
x = 0
for t in tiles:
    t.copy_area(0, 0, t.get_width(), h, out, x, 0)
    x += t.get_width() + gap
out.savev(sys.argv[4], 'jpeg', ['quality'], ['88'])
PY
rm -rf "$tmp"
echo "wrote docs/before-after.jpg"
