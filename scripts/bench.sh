#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark the impasto CLI against ONNX Runtime, whole process each (decode, run, encode PNG).
#
#   scripts/bench.sh [--sizes 512,1024[,2048,6000x4000]] [--runs 5] [--threads 2]
#                    [--model mosaic-9] [--image kodim23] [--build-dir build-bench] [--cli PATH]
#
# Runs inside the Debian 13 root (re-executes itself through scripts/in-trixie.sh when needed),
# makes a release build, makes the inputs (a Kodak image resized with numpy), then for each size
# runs ours and ORT alternately N times and prints median wall time, the ratio ours/ORT, peak RSS
# (GNU time's "Maximum resident set size", max over runs) and how close the two outputs are.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)

if [ -z "${IMPASTO_IN_TRIXIE:-}" ]; then
  exec "$here/in-trixie.sh" "$here/bench.sh" "$@"
fi

sizes=512,1024
runs=5
threads=2
model=mosaic-9
image=kodim23
build=$top/build-bench
cli=

usage() { sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --build-dir) build=$(cd "$top" && realpath -m "$2"); shift 2 ;;
    --cli) cli=$(realpath "$2"); shift 2 ;;  # an existing impasto binary: no build
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs must be a positive number" >&2; exit 2; }

shared=$(cd "$top/../shared" && pwd)
model_path=$shared/models/$model.onnx
kodak=$shared/models-src/images-kodak/$image.png
[ -f "$model_path" ] || { echo "bench.sh: no model $model_path" >&2; exit 1; }
[ -f "$kodak" ] || { echo "bench.sh: no image $kodak" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench.sh: /usr/bin/time missing (package 'time')" >&2; exit 1; }

log() { printf '[bench] %s\n' "$*" >&2; }

if [ -z "$cli" ]; then
  log "release build in $build"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$top" --buildtype=release -Dplugin=disabled >/dev/null
  fi
  ninja -C "$build" cli/impasto >/dev/null
  cli=$build/cli/impasto
fi

work=$(mktemp -d /tmp/impasto-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
ort_model=$work/$model-ort.onnx
python3 "$here/bench_ort.py" prepare "$model_path" "$ort_model"

# Seconds (wall) of one whole-process run; peak RSS in KiB goes to the file named by $1.
timed() {
  local rss_file=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
    echo "bench.sh: run failed: $*" >&2; cat "$work/stderr.txt" >&2; exit 1; }
  t1=$(date +%s%N)
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt" >> "$rss_file"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak_mib() { sort -g "$1" | tail -1 | awk '{ printf "%.0f", $1 / 1024 }'; }

printf '\nimpasto %s vs ONNX Runtime %s — %s, %s threads, %s runs each (median wall s, whole process)\n' \
  "$("$cli" --version | cut -d' ' -f2)" "$(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')" \
  "$model" "$threads" "$runs"
printf '%-11s %10s %10s %8s %12s %12s %14s\n' size "ours s" "ORT s" ours/ORT "ours RSS MiB" "ORT RSS MiB" "PSNR/max|d|"

IFS=, read -ra size_list <<< "$sizes"
for size in "${size_list[@]}"; do
  if [[ $size =~ ^([0-9]+)x([0-9]+)$ ]]; then w=${BASH_REMATCH[1]}; h=${BASH_REMATCH[2]}
  elif [[ $size =~ ^[0-9]+$ ]]; then w=$size; h=$size
  else echo "bench.sh: bad size '$size' (N or WxH)" >&2; exit 2; fi
  input=$work/in-${w}x$h.png
  python3 "$here/bench_ort.py" make-input "$kodak" "$w" "$h" "$input"
  : > "$work/ours.t"; : > "$work/ort.t"; : > "$work/ours.rss"; : > "$work/ort.rss"
  # One untimed run of each first, so both start with warm caches.
  # (Debian's ORT prints hundreds of harmless "Schema error" lines on stderr: keep them out.)
  "$cli" stylize "$model_path" "$input" "$work/ours.png" --threads "$threads"
  python3 "$here/bench_ort.py" run "$ort_model" "$input" "$work/ort.png" "$threads" 2>/dev/null
  for ((r = 1; r <= runs; r++)); do
    log "${w}x$h run $r/$runs"
    timed "$work/ours.rss" "$cli" stylize "$model_path" "$input" "$work/ours.png" \
      --threads "$threads" >> "$work/ours.t"
    timed "$work/ort.rss" python3 "$here/bench_ort.py" run "$ort_model" "$input" "$work/ort.png" \
      "$threads" >> "$work/ort.t"
  done
  ours=$(median < "$work/ours.t"); ort=$(median < "$work/ort.t")
  ratio=$(awk -v a="$ours" -v b="$ort" 'BEGIN { printf "%.2f", a / b }')
  close=$(python3 "$here/bench_ort.py" compare "$work/ours.png" "$work/ort.png" | tr ' ' /)
  printf '%-11s %10s %10s %8s %12s %12s %14s\n' "${w}x$h" "$ours" "$ort" "$ratio" \
    "$(peak_mib "$work/ours.rss")" "$(peak_mib "$work/ort.rss")" "$close"
done
