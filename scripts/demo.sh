#!/usr/bin/env bash
# The main job, from a fresh machine (run as root on Debian 12 or 13): create the Debian 13 root
# if needed, build Impasto there, install the GIMP plug-in into a throw-away GIMP profile, and
# stylise a sample photo through GIMP headless (Script-Fu batch, plug-in-impasto).  The result is
# written next to the input copy in out/.
#
#   scripts/demo.sh [MODEL [IMAGE]]   defaults: mosaic-9 from ../shared/models, Kodak photo 23
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
if [ -z "${IMPASTO_IN_TRIXIE:-}" ]; then exec "$here/in-trixie.sh" "$here/demo.sh" "$@"; fi
cd "$top"
shared=$(cd "$top/../shared" 2>/dev/null && pwd || true)
model=${1:-mosaic-9}
image=${2:-$shared/models-src/images-kodak/kodim23.png}
models=$shared/models
[ -f "$models/$model.onnx" ] || { echo "demo: no model $models/$model.onnx (models come from ../shared/models)" >&2; exit 1; }
[ -f "$image" ] || { echo "demo: image not found: $image" >&2; exit 1; }
log() { printf '[demo] %s\n' "$*" >&2; }

log "building in build-trixie"
if [ -f build-trixie/build.ninja ]; then
  meson configure build-trixie -Dplugin=enabled >/dev/null
else
  meson setup build-trixie -Dplugin=enabled >/dev/null
fi
ninja -C build-trixie >/dev/null

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
meson install -C build-trixie --no-rebuild --quiet --tags plugin,i18n --destdir "$work/stage" >/dev/null
folder=$(find "$work/stage" -type d -name plug-in-impasto -print -quit)
profile=$work/profile
mkdir -p "$profile/plug-ins"
cp -r "$folder" "$profile/plug-ins/"
log "installed the plug-in into a throw-away profile ($profile)"

mkdir -p out
name=$(basename "${image%.*}")
input=$top/out/$name.png
output=$top/out/$name-$model.png
cp "$image" "$input"
script="(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$input\")))
               (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
          (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector layer)
                           #:model \"$model\" #:strength 1.0)
          (file-png-export #:run-mode RUN-NONINTERACTIVE #:image img #:file \"$output\")
          (gimp-image-delete img))"
log "stylising $input with $model through GIMP headless"
GIMP3_DIRECTORY=$profile IMPASTO_MODEL_PATH=$models \
  gimp-console-3.0 -i --batch-interpreter=plug-in-script-fu-eval -b "$script" --quit
[ -s "$output" ] || { echo "demo: GIMP wrote no $output" >&2; exit 1; }
echo "demo: wrote $output"
