#!/usr/bin/env bash
# The main job, from a fresh machine (run as root on Debian 12 or 13): create the Debian 13 root
# if needed, build Impasto there, and stylise a sample photo.  The result is written next to the
# input copy in out/.
#
#   scripts/demo.sh [MODEL [IMAGE]]     defaults: ../shared/models/mosaic-9.onnx, Kodak 23
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
shared=$(cd "$top/../shared" 2>/dev/null && pwd || true)
model=${1:-$shared/models/mosaic-9.onnx}
image=${2:-$shared/models-src/images-kodak/kodim23.png}
[ -f "$model" ] || { echo "demo: model not found: $model (models come from ../shared/models)" >&2; exit 1; }
[ -f "$image" ] || { echo "demo: image not found: $image" >&2; exit 1; }
mkdir -p out
name=$(basename "${image%.*}")
cp "$image" "out/$name.png" 2>/dev/null || cp "$image" "out/"
"$here/in-trixie.sh" bash -c "set -e
  [ -f build-trixie/build.ninja ] || meson setup build-trixie >/dev/null
  ninja -C build-trixie >/dev/null
  build-trixie/cli/impasto stylize '$model' 'out/$name.png' 'out/$name-$(basename "${model%.onnx}").png'"
echo "demo: wrote out/$name-$(basename "${model%.onnx}").png"
