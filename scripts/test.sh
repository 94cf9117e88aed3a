#!/usr/bin/env bash
# The whole test suite, from a fresh machine (run as root on Debian 12 or 13):
#   1. native build + tests (engine, CLI) on the host;
#   2. the Debian 13 root (created on first use): build with the GIMP plug-in, all tests,
#      including the exactness tests against ONNX Runtime 1.21, the ONNX node conformance cases
#      and the GIMP tests;
#   3. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer in the Debian 13 root;
#   4. a clang 19 build in the Debian 13 root, also under ASan + UBSan (clang's UBSan checks more,
#      e.g. arithmetic on NULL): the engine's C tests, the fuzz corpus replay, the ONNX node cases
#      and the kernel references (the CLI and GIMP tests exercise no compiler-specific code beyond
#      what these cover, and take minutes).
# Every build is warning-free (--werror).  Prints one closing line "total: N passed, M failed,
# K skipped"; exits non-zero on any failure.
#
#   scripts/test.sh [--quick]      --quick: skip the sanitizer passes (the clang build runs
#                                  without sanitizers then)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd)
cd "$top"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
status=0
builds=()

run_suite() { # dir, runner, compiler ("" = default), tests ("" = all), meson setup args...
  local dir=$1 runner=$2 compiler=$3 tests=$4; shift 4
  echo "=== $dir"
  $runner bash -c "set -e
    ${compiler:+export CC=$compiler}
    if [ ! -f '$dir/build.ninja' ]; then meson setup '$dir' $*; else meson setup --reconfigure '$dir' $* >/dev/null; fi
    ninja -C '$dir'
    meson test -C '$dir' --print-errorlogs --num-processes 1 $tests" || status=1
  builds+=("$dir")
}

clang_tests="loader ops engine engine-avx2 winograd conv_direct conv_s2 half fuzz-replay onnx-conformance refs-vs-ort"
sanitize="-Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false"

"$here/native-deps.sh" || exit 1
run_suite build-native env "" "" --werror
"$here/trixie-root.sh" >/dev/null || exit 1
run_suite build-trixie "$here/in-trixie.sh" "" "" -Dplugin=enabled --werror
if [ $quick = 0 ]; then
  run_suite build-asan "$here/in-trixie.sh" "" "" -Dplugin=enabled --werror $sanitize
  run_suite build-clang "$here/in-trixie.sh" clang "$clang_tests" -Dplugin=enabled --werror $sanitize
else
  run_suite build-clang "$here/in-trixie.sh" clang "$clang_tests" -Dplugin=enabled --werror \
    -Dbuildtype=release -Db_sanitize=none -Db_lundef=true
fi

# one closing line over all runs, from meson's own logs
python3 - "${builds[@]}" <<'PY'
import json, sys
p = f = s = 0
for d in sys.argv[1:]:
    try:
        for line in open(f"{d}/meson-logs/testlog.json"):
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"): p += 1
            elif r == "SKIP": s += 1
            else: f += 1
    except OSError:
        f += 1
print(f"total: {p} passed, {f} failed, {s} skipped")
PY
exit $status
