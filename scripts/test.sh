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
# Every build is warning-free (--werror).  Ends with "total: N passed, M failed, K skipped", the
# reason of every skip and the tests a build did not register (and why); exits non-zero on any
# failure.  Test data comes from ../shared (a folder or a symlink); without it the tests that need
# it fail, unless IMPASTO_ALLOW_MISSING_DATA=1 (then they skip).  Missing host packages are
# installed with apt after saying so (IMPASTO_NO_HOST_INSTALL=1 refuses and lists them).
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
  local t0=$SECONDS
  echo "=== $dir"
  $runner bash -c "set -e
    ${compiler:+export CC=$compiler}
    if [ ! -f '$dir/build.ninja' ]; then meson setup '$dir' $*; else meson setup --reconfigure '$dir' $* >/dev/null; fi
    ninja -C '$dir'
    meson test -C '$dir' --print-errorlogs --num-processes 1 $tests" || status=1
  builds+=("$dir")
  echo "=== $dir: $(( (SECONDS - t0) / 60 )) min $(( (SECONDS - t0) % 60 )) s"
}

# Fail at once, not after the builds, when the test data is missing (unless allowed).
check_shared() {
  [ -d "$top/../shared/models" ] && return
  if [ "${IMPASTO_ALLOW_MISSING_DATA:-}" = 1 ]; then
    echo "test.sh: no ../shared/models next to the checkout: the tests that need it skip (IMPASTO_ALLOW_MISSING_DATA=1)"
    return
  fi
  echo "test.sh: no ../shared/models next to the checkout ($top/../shared): the test models and photos" \
       "live there (see README.md); IMPASTO_ALLOW_MISSING_DATA=1 runs without them, skipping those tests" >&2
  exit 1
}

# One closing summary over all runs, from meson's own logs: totals, why each skip skipped, which
# tests a build did not register and why (tests/not-registered.txt).
summary() {
  python3 - "$@" <<'PY'
import json, sys
p = f = s = 0
notes = []
for d in sys.argv[1:]:
    try:
        for line in open(f"{d}/meson-logs/testlog.json"):
            r = json.loads(line)
            if r["result"] in ("OK", "EXPECTEDFAIL"):
                p += 1
            elif r["result"] == "SKIP":
                s += 1
                why = [l for l in r.get("stdout", "").splitlines() if l.startswith("SKIP")]
                notes.append(f"  skipped {d}/{r['name']}: {why[-1] if why else 'no reason printed'}")
            else:
                f += 1
                notes.append(f"  FAILED {d}/{r['name']} ({r['result']})")
    except OSError:
        f += 1
        notes.append(f"  {d}: no test log (the build or setup failed)")
    try:
        for line in open(f"{d}/tests/not-registered.txt"):
            if line.strip():
                notes.append(f"  not registered in {d}: {line.strip()}")
    except OSError:
        pass
print(f"total: {p} passed, {f} failed, {s} skipped")
if notes:
    print("\n".join(notes))
PY
}

check_shared

clang_tests="loader ops graphs engine engine-avx2 winograd conv_direct conv_s2 half fuzz-replay onnx-conformance refs-vs-ort"
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

summary "${builds[@]}"
exit $status
