#!/usr/bin/env bash
# Run a command inside the Debian 13 root with this checkout (and ../shared, when present) mounted
# at the same paths as outside, so build folders and relative paths mean the same thing.
#
#   scripts/in-trixie.sh meson test -C build-trixie
#
# The root is created on first use (scripts/trixie-root.sh).  All mounts vanish when it exits.
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
  if [ -n "$shared" ]; then mkdir -p "$root$shared"; mount --bind "$shared" "$root$shared"; fi
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  cmd=$(printf "%q " "$@")
  exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" CI="${CI:-}" IMPASTO_IN_TRIXIE=1 \
    bash -c "cd \"$top\" && $cmd"' _ "$root" "$top" "$shared" "$@"
