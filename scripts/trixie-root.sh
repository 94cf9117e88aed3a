#!/usr/bin/env bash
# Create (or reuse) the Debian 13 "trixie" root in which Impasto's GIMP 3 plug-in is built and tested.
#
#   scripts/trixie-root.sh          # prints the root's path once it is ready
#
# Idempotent and safe to run concurrently: a lock serialises callers, a new root is built in a
# scratch folder and renamed only when complete, and an existing root is reused.  When
# scripts/trixie-packages.txt changes, the missing packages are installed into the existing root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${IMPASTO_TRIXIE:-/var/tmp/impasto-trixie}
lock="$root.lock"
stamp="$root/.impasto-ready"
pkgs=$(grep -v '^\s*#' "$here/trixie-packages.txt" | xargs)
want=$(printf '%s\n' "$pkgs" | sha256sum | cut -c1-16)

log() { printf '[trixie-root] %s\n' "$*" >&2; }

need_host_tool() {
  command -v "$1" >/dev/null 2>&1 && return
  [ "$(id -u)" = 0 ] || { log "missing $1 and not root: install package $2"; exit 1; }
  log "installing $2 on the host"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >&2
}

# Run a command inside a root with proc/sys/dev mounted; the mounts vanish when it exits.
chroot_run() {
  local dir=$1; shift
  unshare --mount --propagation private -- bash -c '
    set -e; d=$1; shift
    mount -t proc proc "$d/proc"; mount --rbind /sys "$d/sys"; mount --rbind /dev "$d/dev"
    mount -t tmpfs tmpfs "$d/dev/shm"; mount -t tmpfs tmpfs "$d/tmp"
    cp /etc/resolv.conf "$d/etc/resolv.conf" 2>/dev/null || true
    exec chroot "$d" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
      DEBIAN_FRONTEND=noninteractive "$@"' _ "$dir" "$@"
}

install_packages() {
  local dir=$1
  log "installing packages into $dir (this takes a few minutes)"
  chroot_run "$dir" apt-get update -qq >&2
  chroot_run "$dir" apt-get install -y -qq --no-install-recommends $pkgs >&2
  chroot_run "$dir" apt-get clean >&2
  printf '%s\n' "$want" > "$dir/.impasto-ready"
}

mkdir -p "$(dirname "$root")"
exec 9>"$lock"
flock 9

if [ -f "$stamp" ]; then
  if [ "$(cat "$stamp")" != "$want" ]; then
    log "package list changed: updating $root"
    install_packages "$root"
  fi
  echo "$root"; exit 0
fi

need_host_tool debootstrap debootstrap
need_host_tool unshare util-linux
scratch="$root.partial"
rm -rf "$scratch"
log "debootstrap trixie into $scratch"
debootstrap --variant=minbase trixie "$scratch" >&2
install_packages "$scratch"
rm -rf "$root"
mv "$scratch" "$root"
log "ready: $root"
echo "$root"
