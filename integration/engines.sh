#!/usr/bin/env bash
# rrun as the runtime of real engines: containerd (ctr) and Docker, each started privately
# (own root, state and sockets under a temp dir, no bridge, no iptables) and stopped at the end.
# Usage: integration/engines.sh [path/to/rrun]     (root; installs containerd and docker.io)
set -euo pipefail
cd "$(dirname "$0")/.."
RRUN=$(realpath "${1:-target/release/rrun}")
[ -x "$RRUN" ] || { echo "build rrun first (make release)" >&2; exit 2; }
if ! command -v containerd >/dev/null || [ ! -x /usr/sbin/dockerd ]; then
  [ -e /usr/sbin/policy-rc.d ] || printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd docker.io >/dev/null
fi
W=$(mktemp -d /tmp/rrun-engines.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 2
  pkill -f "containerd-shim-runc-v2 -namespace (rrun-it|moby) -address $W" 2>/dev/null || true
  grep " $W" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  for d in /sys/fs/cgroup/*/docker /sys/fs/cgroup/*/rrun-it /sys/fs/cgroup/docker /sys/fs/cgroup/rrun-it; do
    [ -d "$d" ] && rmdir "$d" 2>/dev/null || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
pass=0 fail=0
check() { # name, expected substring, command...
  local name=$1 want=$2; shift 2
  local out
  if out=$("$@" 2>&1) && grep -qF -- "$want" <<<"$out"; then
    pass=$((pass + 1)); echo "ok - $name"
  else
    fail=$((fail + 1)); echo "not ok - $name"; sed 's/^/  # /' <<<"$out" | head -20
  fi
}

cat > "$W/containerd.toml" <<EOT
version = 2
root = "$W/ctrd-root"
state = "$W/ctrd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/containerd.sock"
[ttrpc]
  address = "$W/containerd.sock.ttrpc"
EOT
containerd --config "$W/containerd.toml" >"$W/containerd.log" 2>&1 & pids+=($!)
for _ in $(seq 50); do [ -S "$W/containerd.sock" ] && break; sleep 0.1; done

# An image: the busybox OCI layout, and its rootfs as a tar for `docker import`.
scripts/make-busybox-image.sh "$W/img" docker.io/library/bb:latest >/dev/null
tar -C "$W/img" -cf "$W/img.tar" .
CTR=(ctr -a "$W/containerd.sock" -n rrun-it)
"${CTR[@]}" images import "$W/img.tar" >/dev/null
check "ctr run" "hello-ctr" "${CTR[@]}" run --rm --runc-binary "$RRUN" docker.io/library/bb:latest c1 sh -c 'echo hello-ctr'
"${CTR[@]}" run -d --runc-binary "$RRUN" docker.io/library/bb:latest c2 sleep 1000 >/dev/null
check "ctr task exec" "exec-ok" "${CTR[@]}" task exec --exec-id e1 c2 sh -c 'echo exec-ok'
check "ctr task pause" "PAUSED" sh -c "${CTR[*]} task pause c2 && ${CTR[*]} task ls"
check "ctr task resume" "RUNNING" sh -c "${CTR[*]} task resume c2 && ${CTR[*]} task ls"
check "ctr task kill" "STOPPED" sh -c "${CTR[*]} task kill -s KILL c2; sleep 1; ${CTR[*]} task ls"
"${CTR[@]}" task delete c2 >/dev/null; "${CTR[@]}" container delete c2 >/dev/null

/usr/sbin/dockerd --data-root "$W/docker" --exec-root "$W/dexec" --pidfile "$W/dockerd.pid" \
  -H "unix://$W/docker.sock" --containerd "$W/containerd.sock" \
  --exec-opt native.cgroupdriver=cgroupfs --bridge none --iptables=false --ip6tables=false \
  --add-runtime rrun="$RRUN" >"$W/dockerd.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do [ -S "$W/docker.sock" ] && break; sleep 0.1; done
D=(env DOCKER_HOST="unix://$W/docker.sock" /usr/bin/docker)
for _ in $(seq 50); do "${D[@]}" info >/dev/null 2>&1 && break; sleep 0.2; done
# docker import takes the image's single (gzip) layer as the rootfs tarball.
manifest=$(jq -r '.manifests[0].digest' "$W/img/index.json" | cut -d: -f2)
layer=$(jq -r '.layers[0].digest' "$W/img/blobs/sha256/$manifest" | cut -d: -f2)
"${D[@]}" import "$W/img/blobs/sha256/$layer" bb >/dev/null
check "docker run" "hello-docker" "${D[@]}" run --rm --runtime rrun --network none bb sh -c 'echo hello-docker'
check "docker run -t" "/dev/pts/0" "${D[@]}" run --rm -t --runtime rrun --network none bb tty
"${D[@]}" run -d --name t1 --runtime rrun --network none --memory 64m bb sleep 1000 >/dev/null
check "docker --memory" "67108864" "${D[@]}" exec t1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes
check "docker update" "134217728" sh -c "${D[*]} update --memory 128m --memory-swap 256m t1 >/dev/null && ${D[*]} exec t1 cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
check "docker pause/unpause" "t1" sh -c "${D[*]} pause t1 && ${D[*]} unpause t1"
check "docker top" "sleep 1000" "${D[@]}" top t1
check "docker stop/rm" "t1" sh -c "${D[*]} stop -t 1 t1 && ${D[*]} rm t1"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
