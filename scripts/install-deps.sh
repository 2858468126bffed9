#!/usr/bin/env bash
# Installs what building and testing rrun needs on Debian/Ubuntu (run as root). With package
# names as arguments, installs those instead (integration/engines/run.sh: the engines).
set -euo pipefail
pkgs=(busybox-static runc iproute2 jq docker-registry skopeo umoci apache2-utils openssl libseccomp-dev pkg-config python3 strace dbus-daemon criu uidmap)
[ $# -gt 0 ] && pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # Keep apt from starting services of the packages it installs.
  [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[ $# -gt 0 ] || command -v cargo >/dev/null || { echo "cargo (rustup) is needed" >&2; exit 1; }
