#!/usr/bin/env bash
# The main job, from a fresh machine (run as root on Debian 12 or 13): create the Debian 13 root
# if needed, build Impasto there, install the GIMP plug-in into a throw-away GIMP profile, and
# stylise a photo through GIMP headless (Script-Fu batch, plug-in-impasto).  The result is written
# to out/ in the checkout, next to a copy of the photo; its path is the last line printed.
#
#   scripts/demo.sh [STYLE [PHOTO]]
#
# STYLE: a model name; default the first style shipped in models/, else mosaic-9 from
#   ../shared/models.  Styles are looked for in models/, then ../shared/models.
# PHOTO: any image file, absolute or relative to the current folder (it is copied into out/, which
#   the Debian 13 root sees); default Kodak photo 23 from ../shared, else GIMP's splash picture.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd -P)
log() { printf '[demo] %s\n' "$*" >&2; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# ---- on the host: check the arguments before the (possibly long) root creation ----------------
if [ -z "${IMPASTO_IN_TRIXIE:-}" ]; then
  [ $# -le 2 ] || die "usage: scripts/demo.sh [STYLE [PHOTO]]"
  shared=$(cd "$top/../shared" 2>/dev/null && pwd -P || true)
  model=${1:-}
  if [ -z "$model" ]; then
    first=$(find "$top/models" -maxdepth 1 \( -name '*.onnx' -o -name '*.json' -o -name '*.ini' \) \
              -printf '%f\n' 2>/dev/null | sed 's/\.[^.]*$//' | sort -u | head -n1)
    model=${first:-mosaic-9}
  fi
  found=
  for dir in "$top/models" ${shared:+"$shared/models"}; do
    for ext in onnx json ini; do [ -f "$dir/$model.$ext" ] && found=$dir/$model.$ext && break 2; done
  done
  if [ -z "$found" ]; then
    have=$(find "$top/models" ${shared:+"$shared/models"} -maxdepth 1 -name '*.onnx' -printf '%f\n' \
             2>/dev/null | sed 's/\.onnx$//' | sort -u | xargs)
    where="$top/models${shared:+ or $shared/models}"
    [ -n "$shared" ] || where="$where (and there is no ../shared next to the checkout)"
    die "no style '$model' in $where; styles here: ${have:-none}"
  fi
  photo=${2:-}
  if [ -n "$photo" ]; then
    [ -f "$photo" ] || die "photo not found: $photo (relative to $(pwd))"
    photo=$(realpath "$photo")
  elif [ -n "$shared" ] && [ -f "$shared/models-src/images-kodak/kodim23.png" ]; then
    photo=$shared/models-src/images-kodak/kodim23.png
  else
    photo=  # GIMP's splash picture, inside the root
  fi
  mkdir -p "$top/out"
  if [ -n "$photo" ]; then
    # The root sees the checkout, not the rest of the host: work on a copy in out/.
    copy=$top/out/$(basename "$photo")
    [ "$photo" -ef "$copy" ] || cp "$photo" "$copy"
    photo=$copy
  fi
  log "style $model ($found), photo ${photo:-the GIMP splash picture}"
  exec "$here/in-trixie.sh" "$here/demo.sh" "$model" "$photo"
fi

# ---- inside the Debian 13 root ----------------------------------------------------------------
cd "$top"
model=$1 photo=${2:-/usr/share/gimp/3.0/images/gimp-splash.png}
shared=$(cd "$top/../shared" 2>/dev/null && pwd -P || true)
buildlog=$top/out/demo-build.log
start=$SECONDS

log "building in build-trixie (log: $buildlog)"
{
  if [ -f build-trixie/build.ninja ]; then
    meson configure build-trixie -Dplugin=enabled
  else
    meson setup build-trixie -Dplugin=enabled
  fi
  ninja -C build-trixie -j2
} >"$buildlog" 2>&1 || { tail -n 30 "$buildlog" >&2; die "the build failed (whole log: $buildlog)"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
meson install -C build-trixie --no-rebuild --quiet --tags plugin,i18n --destdir "$work/stage" \
  >>"$buildlog" 2>&1 || die "meson install failed (log: $buildlog)"
folder=$(find "$work/stage" -type d -name plug-in-impasto -print -quit)
profile=$work/profile
mkdir -p "$profile/plug-ins"
cp -r "$folder" "$profile/plug-ins/"
log "installed the plug-in into a throw-away GIMP profile"

input=$photo
name=$(basename "${photo%.*}")
output=$top/out/$name-$model.png
gimplog=$top/out/demo-gimp.log
rm -f "$output"
script="(let* ((img (car (gimp-file-load RUN-NONINTERACTIVE \"$input\")))
               (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
          (plug-in-impasto #:run-mode RUN-NONINTERACTIVE #:image img #:drawables (vector layer)
                           #:model \"$model\" #:strength 1.0)
          (file-png-export #:run-mode RUN-NONINTERACTIVE #:image img #:file \"$output\")
          (gimp-image-delete img))"
log "stylising $input with $model through GIMP headless (console log: $gimplog)"
t0=$SECONDS
status=0
GIMP3_DIRECTORY=$profile IMPASTO_MODEL_PATH=$top/models${shared:+:$shared/models} \
  gimp-console-3.0 -i --batch-interpreter=plug-in-script-fu-eval -b "$script" --quit \
  >"$gimplog" 2>&1 || status=$?
# GIMP's console start-up always prints the same harmless lines (no display for GTK, the plug-ins'
# pipes closing at exit, an empty tag cache in a new profile): show everything else.
noise='cannot open display|Welcome to GIMP|gimp_wire_read\(\): unexpected EOF|gimp_flush\(\): error: Broken pipe|Failed to parse tag cache|batch command executed successfully|^$'
grep -Ev "$noise" "$gimplog" | sed 's/^/  gimp: /' >&2 || true
[ $status = 0 ] && [ -s "$output" ] ||
  die "GIMP wrote no $output (exit status $status; whole console log: $gimplog)"
log "GIMP took $((SECONDS - t0)) s; the demo $((SECONDS - start)) s in the root (GIMP's known start-up warnings are in $gimplog)"
echo "demo: result: $output"
