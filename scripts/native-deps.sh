#!/usr/bin/env bash
# Install the host packages the native build needs (Debian 12 or 13), only those missing, after
# saying which.  IMPASTO_NO_HOST_INSTALL=1: install nothing, fail with the list instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkgs=$(grep -v '^\s*#' "$here/native-packages.txt" | xargs)
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null | awk '$4!="installed"{print $1}' || true)
for p in $pkgs; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
missing=$(echo $missing | tr ' ' '\n' | sort -u | xargs)
[ -z "$missing" ] && exit 0
if [ "${IMPASTO_NO_HOST_INSTALL:-}" = 1 ]; then
  echo "native-deps: missing host packages: $missing (IMPASTO_NO_HOST_INSTALL=1: install them yourself)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "native-deps: missing host packages: $missing (run as root or install them)" >&2
  exit 1
fi
log=${TMPDIR:-/tmp}/impasto-native-deps.log
echo "native-deps: installing on the host with apt-get: $missing (IMPASTO_NO_HOST_INSTALL=1 refuses; log: $log)" >&2
t0=$SECONDS
{ apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; } \
  >"$log" 2>&1 || { tail -n 20 "$log" >&2; echo "native-deps: apt-get failed (log: $log)" >&2; exit 1; }
echo "native-deps: done in $((SECONDS - t0)) s" >&2
