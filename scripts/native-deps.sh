#!/usr/bin/env bash
# Install the host packages the native build needs (Debian 12 or 13), only those missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pkgs=$(grep -v '^\s*#' "$here/native-packages.txt" | xargs)
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $pkgs 2>/dev/null | awk '$4!="installed"{print $1}' || true)
for p in $pkgs; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
missing=$(echo $missing | tr ' ' '\n' | sort -u | xargs)
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "native-deps: missing packages: $missing (run as root or install them)" >&2
  exit 1
fi
echo "native-deps: installing $missing" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
