#!/usr/bin/env bash
# Create (or reuse) the Debian 13 "trixie" root in which Impasto's GIMP 3 plug-in is built and tested.
#
#   scripts/trixie-root.sh          # prints the root's path once it is ready
#
# Idempotent and safe to run concurrently: a lock serialises callers, a new root is built in a
# scratch folder and renamed only when complete, and an existing root is reused.  When
# scripts/trixie-packages.txt changes, the missing packages are installed into the existing root.
# Creating it prints one line per stage; debootstrap's and apt's output goes to $root.log.
# Host packages it needs (debootstrap, util-linux) are installed with apt after saying so;
# IMPASTO_NO_HOST_INSTALL=1 makes it fail with their list instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${IMPASTO_TRIXIE:-/var/tmp/impasto-trixie}
lock="$root.lock"
stamp="$root/.impasto-ready"
full_log="$root.log"
pkgs=$(grep -v '^\s*#' "$here/trixie-packages.txt" | xargs)
want=$(printf '%s\n' "$pkgs" | sha256sum | cut -c1-16)

log() { printf '[trixie-root] %s\n' "$*" >&2; }

# Run one stage with its output in the full log; on failure show the log's end.
stage() {
  local what=$1 t0=$SECONDS; shift
  log "$what"
  if ! "$@" >>"$full_log" 2>&1; then
    tail -n 20 "$full_log" | sed 's/^/  | /' >&2
    log "failed: $what (whole log: $full_log)"
    exit 1
  fi
  log "  done in $((SECONDS - t0)) s"
}

need_host_tools() { # command:package ...
  local missing=()
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}"); done
  [ ${#missing[@]} = 0 ] && return
  if [ "${IMPASTO_NO_HOST_INSTALL:-}" = 1 ]; then
    log "missing host packages: ${missing[*]} (IMPASTO_NO_HOST_INSTALL=1: install them yourself)"
    exit 1
  fi
  [ "$(id -u)" = 0 ] || { log "missing host packages: ${missing[*]} (run as root or install them)"; exit 1; }
  log "installing on the host with apt-get: ${missing[*]} (IMPASTO_NO_HOST_INSTALL=1 refuses)"
  stage "apt-get update (host)" apt-get update
  stage "apt-get install ${missing[*]} (host)" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
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
  stage "apt-get update in the root" chroot_run "$dir" apt-get update
  stage "apt-get install $(wc -w <<<"$pkgs") packages in the root (GIMP, build tools, ONNX Runtime, PyTorch; several minutes)" \
    chroot_run "$dir" apt-get install -y --no-install-recommends $pkgs
  stage "apt-get clean in the root" chroot_run "$dir" apt-get clean
  printf '%s\n' "$want" > "$dir/.impasto-ready"
}

mkdir -p "$(dirname "$root")"
exec 9>"$lock"
flock 9

if [ -f "$stamp" ]; then
  if [ "$(cat "$stamp")" != "$want" ]; then
    log "package list changed: updating $root (log: $full_log)"
    install_packages "$root"
  fi
  echo "$root"; exit 0
fi

log "creating the Debian 13 root $root (once; 10-15 minutes on 2 cores; log: $full_log)"
: >"$full_log"
need_host_tools debootstrap:debootstrap unshare:util-linux
scratch="$root.partial"
rm -rf "$scratch"
stage "debootstrap trixie into $scratch" debootstrap --variant=minbase trixie "$scratch"
install_packages "$scratch"
rm -rf "$root"
mv "$scratch" "$root"
log "ready: $root"
echo "$root"
