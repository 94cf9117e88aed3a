#!/usr/bin/env bash
# Run a command inside the Debian 13 root with this checkout mounted at the same path as outside,
# so build folders and relative paths mean the same thing, and ../shared (a folder or a symlink to
# one, resolved here once) mounted where the checkout expects it: <checkout>/../shared.
#
#   scripts/in-trixie.sh meson test -C build-trixie
#
# The root is created on first use (scripts/trixie-root.sh).  All mounts vanish when it exits.
# IMPASTO_ALLOW_MISSING_DATA and IMPASTO_KEEP_TEST_DIR pass through to the command.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/.." && pwd -P)
root=$("$here/trixie-root.sh")
shared=$(cd "$top/../shared" 2>/dev/null && pwd -P || true)
[ $# -gt 0 ] || set -- bash
exec unshare --mount --propagation private -- bash -c '
  set -e; root=$1; top=$2; shared=$3; shift 3
  mount -t proc proc "$root/proc"; mount --rbind /sys "$root/sys"; mount --rbind /dev "$root/dev"
  mount -t tmpfs tmpfs "$root/dev/shm"; mount -t tmpfs tmpfs "$root/tmp"
  mkdir -p "$root$top"; mount --bind "$top" "$root$top"
  if [ -n "$shared" ]; then
    # At <checkout>/../shared, whatever its target is called outside: tests/meson.build and the
    # scripts look there.
    expect=$(dirname "$top")/shared
    mkdir -p "$root$expect"; mount --bind "$shared" "$root$expect"
  fi
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  cmd=$(printf "%q " "$@")
  exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" IMPASTO_IN_TRIXIE=1 \
    IMPASTO_ALLOW_MISSING_DATA="${IMPASTO_ALLOW_MISSING_DATA:-}" \
    IMPASTO_KEEP_TEST_DIR="${IMPASTO_KEEP_TEST_DIR:-}" \
    bash -c "cd \"$top\" && $cmd"' _ "$root" "$top" "$shared" "$@"
