#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One huge image through the impasto CLI: wall time, CPU time and peak RSS of the whole process
# (decode, banded run, row-by-row PNG encode), then a seam check of the result.
#
#   scripts/bench_huge.sh [--size 12000x12000] [--threads 2] [--model mosaic-9] [--image kodim23]
#                         [--build-dir build-bench] [--cli PATH] [--work DIR]
#
# Runs inside the Debian 13 root (re-executes itself through scripts/in-trixie.sh when needed).
# The input (a Kodak photo enlarged with Pillow, bicubic) and the result live in a temporary
# folder under /var/tmp (--work: the folder to use instead), removed at the end.  Takes minutes.
#
# Seam check: a band boundary of any layer falls on an output row that is a multiple of some
# period P (bands start at row 0).  With D(y) the mean |row y - row y-1| over the image, the script
# prints, for every P from 2 to 2048 with at least 8 boundaries, mean D at the multiples of P over
# mean D of all rows; a seam would stand out as a ratio well above 1 (seam-free: within noise).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

if [ -z "${IMPASTO_IN_TRIXIE:-}" ]; then
  exec "$here/in-trixie.sh" "$here/bench_huge.sh" "$@"
fi

size=12000x12000
threads=2
model=mosaic-9
image=kodim23
build=$top/build-bench
cli=
work=

usage() { sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --build-dir) build=$(cd "$top" && realpath -m "$2"); shift 2 ;;
    --cli) cli=$(realpath "$2"); shift 2 ;;  # an existing impasto binary: no build
    --work) work=$(realpath -m "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench_huge.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $size =~ ^([0-9]+)x([0-9]+)$ ]] || { echo "bench_huge.sh: bad --size '$size' (WxH)" >&2; exit 2; }
w=${BASH_REMATCH[1]}; h=${BASH_REMATCH[2]}

shared=$(cd "$top/../shared" && pwd)
model_path=$shared/models/$model.onnx
kodak=$shared/models-src/images-kodak/$image.png
[ -f "$model_path" ] || { echo "bench_huge.sh: no model $model_path" >&2; exit 1; }
[ -f "$kodak" ] || { echo "bench_huge.sh: no image $kodak" >&2; exit 1; }

log() { printf '[bench_huge] %s\n' "$*" >&2; }

if [ -z "$cli" ]; then
  log "release build in $build"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$top" --buildtype=release -Dplugin=disabled >/dev/null
  fi
  ninja -C "$build" cli/impasto >/dev/null
  cli=$build/cli/impasto
fi

if [ -z "$work" ]; then
  work=$(mktemp -d /var/tmp/impasto-huge.XXXXXX)
  trap 'rm -rf "$work"' EXIT
else
  mkdir -p "$work"
  trap 'rm -f "$work/in.png" "$work/out.png" "$work/time.txt"' EXIT
fi

log "making the ${w}x$h input from $image"
python3 - "$kodak" "$w" "$h" "$work/in.png" <<'EOF'
import sys
from PIL import Image
src, w, h, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
Image.MAX_IMAGE_PIXELS = None
Image.open(src).convert("RGB").resize((w, h), Image.BICUBIC).save(out, compress_level=1)
EOF

load=$(cut -d' ' -f1-3 /proc/loadavg)
log "running (load average before: $load on $(nproc) CPUs)"
IMPASTO_SCRATCH_DIR=$work /usr/bin/time -v -o "$work/time.txt" \
  "$cli" stylize "$model_path" "$work/in.png" "$work/out.png" --threads "$threads"
wall=$(awk -F': ' '/Elapsed/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$work/time.txt")
cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$work/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time.txt")
printf '\nimpasto %s, %s, %sx%s (%.0f MP), %s threads, load average before: %s\n' \
  "$("$cli" --version | cut -d' ' -f2)" "$model" "$w" "$h" "$(awk -v a="$w" -v b="$h" 'BEGIN { print a * b / 1e6 }')" \
  "$threads" "$load"
printf 'wall %s s, CPU %s s, peak RSS %s MiB (1 GiB = 1024 MiB)\n' "$wall" "$cpu" "$rss"

log "seam check"
python3 - "$work/out.png" <<'EOF'
import sys
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
img = np.asarray(Image.open(sys.argv[1]).convert("RGB"))
h = img.shape[0]
d = np.zeros(h)  # d[y]: mean |row y - row y-1|, d[0] unused
for y0 in range(1, h, 512):
    y1 = min(h, y0 + 512)
    a = img[y0 - 1:y1].astype(np.int16)
    d[y0:y1] = np.abs(a[1:] - a[:-1]).mean(axis=(1, 2))
mean = d[1:].mean()
ratios = []
for p in range(2, 2049):
    at = d[p::p]
    if len(at) >= 8:
        ratios.append((at.mean() / mean, p, len(at)))
ratios.sort(reverse=True)
print(f"mean |row step| {mean:.3f}/255 over {h - 1} row boundaries")
print("highest ratios (mean |row step| at multiples of P / overall):")
for r, p, n in ratios[:5]:
    print(f"  P = {p:4d} ({n:4d} rows): {r:.3f}")
worst = max(range(1, h), key=lambda y: d[y])
print(f"largest single row step: {d[worst]:.2f}/255 at row {worst}")
EOF
