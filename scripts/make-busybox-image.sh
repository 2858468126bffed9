#!/usr/bin/env bash
# Make a small OCI image layout (one gzip layer: a static busybox and its applets) at $1,
# tagged $2 (default latest), whose default command prints a greeting.
set -euo pipefail
out=${1:?usage: make-busybox-image.sh OUT_DIR [TAG]}
tag=${2:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/tmp" "$out/blobs/sha256"
cp "$(command -v busybox)" "$work/rootfs/bin/busybox"
for a in $("$work/rootfs/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -sf busybox "$work/rootfs/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' > "$work/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/rootfs/etc/group"
tar -C "$work/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -c "$work/layer.tar" > "$work/layer.tar.gz"
layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
cp "$work/layer.tar.gz" "$out/blobs/sha256/$layer"
arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case $arch in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; esac
jq -n --arg d "sha256:$diff_id" --arg a "$arch" '{
  architecture: $a, os: "linux",
  config: {Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
           Cmd: ["/bin/sh", "-c", "echo \"hello from $(hostname): $(id)\"; ls /"],
           WorkingDir: "/"},
  rootfs: {type: "layers", diff_ids: [$d]}}' > "$work/config.json"
cfg=$(sha256sum "$work/config.json" | cut -d' ' -f1)
cp "$work/config.json" "$out/blobs/sha256/$cfg"
jq -n --arg c "sha256:$cfg" --argjson cs "$(stat -c %s "$work/config.json")" \
      --arg l "sha256:$layer" --argjson ls "$(stat -c %s "$work/layer.tar.gz")" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
  layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' \
  > "$work/manifest.json"
man=$(sha256sum "$work/manifest.json" | cut -d' ' -f1)
cp "$work/manifest.json" "$out/blobs/sha256/$man"
echo '{"imageLayoutVersion":"1.0.0"}' > "$out/oci-layout"
jq -n --arg m "sha256:$man" --argjson ms "$(stat -c %s "$work/manifest.json")" --arg t "$tag" '{
  schemaVersion: 2,
  manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
               annotations: {"org.opencontainers.image.ref.name": $t}}]}' > "$out/index.json"
echo "$out:$tag"
