#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmark the impasto CLI against ONNX Runtime, whole process each (decode, run, encode PNG).
#
#   scripts/bench.sh [--sizes 512,1024[,2048,6000x4000]] [--runs 5] [--threads 2]
#                    [--model mosaic-9|PATH.onnx] [--image kodim23] [--build-dir build-bench]
#                    [--cli PATH] [--ort-mem-gib 20]
#
# --model magenta: the Magenta arbitrary-style pack (../shared/models-magenta), style
# ref/style_starry_night_256.png; both sides run the predictor on the style and the transfer net.
#
# Runs inside the Debian 13 root (re-executes itself through scripts/in-trixie.sh when needed),
# makes a release build, makes the inputs (a Kodak image resized with numpy), then for each size
# runs ours and ORT alternately N times and prints median wall time, the ratio ours/ORT, median CPU
# time (user + system), peak RSS (GNU time's "Maximum resident set size", max over runs) and how
# close the two outputs are (PSNR dB / max |difference| of 255).  --model takes a name in
# ../shared/models or a path to any .onnx file: the CycleGAN / pix2pix generators (e.g. ngf 64 made
# with ../shared/models-arch/export_gan_arch.py) run with their own value range and size multiple
# on both sides (bench_ort.py prepare).
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
ort_mem_gib=20

usage() { sed -n '3,7p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) sizes=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --build-dir) build=$(cd "$top" && realpath -m "$2"); shift 2 ;;
    --cli) cli=$(realpath "$2"); shift 2 ;;
    --ort-mem-gib) ort_mem_gib=$2; shift 2 ;;  # an existing impasto binary: no build
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --runs must be a positive number" >&2; exit 2; }

shared=$(cd "$top/../shared" && pwd)
style_args=()
if [ "$model" = magenta ]; then
  model_path=$shared/models-magenta/magenta-style-transfer.onnx
  predictor=$shared/models-magenta/magenta-style-predict.onnx
  style=$shared/models-magenta/ref/style_starry_night_256.png
  style_args=(--style "$style" --style-predictor "$predictor")
elif [[ $model == *.onnx ]]; then model_path=$(realpath "$model"); model=$(basename "$model" .onnx)
else model_path=$shared/models/$model.onnx; fi
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
ort_run=(run "$ort_model")
if [ "$model" = magenta ]; then
  ort_run=(run-magenta "$predictor" "$model_path" "$style")
else
  python3 "$here/bench_ort.py" prepare "$model_path" "$ort_model"
fi

# One whole-process run of "$@": appends wall seconds to $1.t, peak RSS (KiB) to $1.rss and CPU
# seconds (user + system) to $1.cpu.  On failure (e.g. out of memory) logs why and returns 1.
timed() {
  local stem=$1; shift
  local t0 t1
  t0=$(date +%s%N)
  if ! /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt"; then
    log "run failed: $* — $(grep -v 'Schema error\|^$' "$work/stderr.txt" | tail -1)"
    return 1
  fi
  t1=$(date +%s%N)
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time.txt" >> "$stem.rss"
  awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f\n", s }' "$work/time.txt" >> "$stem.cpu"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }' >> "$stem.t"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
peak_mib() { sort -g "$1" | tail -1 | awk '{ printf "%.0f", $1 / 1024 } END { if (NR == 0) print "-" }'; }

printf '\nimpasto %s vs ONNX Runtime %s — %s, %s threads, %s runs each (median wall s, whole process)\n' \
  "$("$cli" --version | cut -d' ' -f2)" "$(python3 -c 'import onnxruntime; print(onnxruntime.__version__)')" \
  "$model" "$threads" "$runs"
load=$(cut -d' ' -f1-3 /proc/loadavg)
printf 'load average before: %s on %s CPUs%s\n' "$load" "$(nproc)" \
  "$(awk -v l="${load%% *}" 'BEGIN { if (l > 0.5) print " — machine busy: wall times are noisy, compare CPU s" }')"
printf '%-11s %8s %8s %8s %9s %9s %9s %9s %12s\n' size "ours s" "ORT s" ours/ORT "ours CPU" "ORT CPU" \
  "ours MiB" "ORT MiB" "PSNR/max|d|"

IFS=, read -ra size_list <<< "$sizes"
for size in "${size_list[@]}"; do
  if [[ $size =~ ^([0-9]+)x([0-9]+)$ ]]; then w=${BASH_REMATCH[1]}; h=${BASH_REMATCH[2]}
  elif [[ $size =~ ^[0-9]+$ ]]; then w=$size; h=$size
  else echo "bench.sh: bad size '$size' (N or WxH)" >&2; exit 2; fi
  input=$work/in-${w}x$h.png
  python3 "$here/bench_ort.py" make-input "$kodak" "$w" "$h" "$input"
  for side in ours ort; do : > "$work/$side.t"; : > "$work/$side.rss"; : > "$work/$side.cpu"; done
  rm -f "$work/ours.png" "$work/ort.png"
  ours_cmd=("$cli" stylize "$model_path" "$input" "$work/ours.png" --threads "$threads" "${style_args[@]}")
  # ORT gets an address-space cap (default 20 GiB of this 24 GiB machine): at 24 MP it needs more,
  # and a cap makes it fail cleanly instead of waking the OOM killer.
  ort_cmd=(bash -c 'ulimit -v "$1"; shift; exec "$@"' _ $((ort_mem_gib * 1024 * 1024))
           python3 "$here/bench_ort.py" "${ort_run[@]}" "$input" "$work/ort.png" "$threads")
  ours_ok=1; ort_ok=1
  # One untimed run of each first (small sizes only), so both start with warm caches.
  if (( w * h <= 4 * 1024 * 1024 )); then
    "${ours_cmd[@]}" >/dev/null 2>&1 || true
    "${ort_cmd[@]}" >/dev/null 2>&1 || true  # Debian's ORT prints many harmless "Schema error" lines
  fi
  for ((r = 1; r <= runs; r++)); do
    log "${w}x$h run $r/$runs"
    (( ours_ok )) && { timed "$work/ours" "${ours_cmd[@]}" || ours_ok=0; }
    (( ort_ok )) && { timed "$work/ort" "${ort_cmd[@]}" || ort_ok=0; }
  done
  ours=$(median < "$work/ours.t"); ort=$(median < "$work/ort.t")
  (( ours_ok )) || ours="failed"
  (( ort_ok )) || ort="failed"
  ratio=$(awk -v a="$ours" -v b="$ort" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
  close=-
  if (( ours_ok && ort_ok )); then
    close=$(python3 "$here/bench_ort.py" compare "$work/ours.png" "$work/ort.png" | tr ' ' /)
  fi
  printf '%-11s %8s %8s %8s %9s %9s %9s %9s %12s\n' "${w}x$h" "$ours" "$ort" "$ratio" \
    "$(median < "$work/ours.cpu")" "$(median < "$work/ort.cpu")" \
    "$(peak_mib "$work/ours.rss")" "$(peak_mib "$work/ort.rss")" "$close"
done
