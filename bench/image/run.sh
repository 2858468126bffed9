#!/bin/bash
# rrun-image benchmark (not a test): unpack time and peak RSS against `umoci unpack`, and pull
# time from a loopback docker-registry against `skopeo copy`, on one multi-layer image of a few
# hundred MB built from this host's /usr (bin, include, share/doc, python3) plus a layer of
# whiteouts. Usage: bench/image/run.sh [path/to/rrun-image]   (default: target/release)
# Needs: hyperfine umoci skopeo docker-registry jq gzip, root. WORK=dir to keep the image.
# Bundles are written to a tmpfs (FS=disk: to $WORK on disk). On this host's ext4, creating an
# inode after many recent deletions costs ~0.4 ms of kernel CPU (ext4 `recently_deleted` scans),
# which dominates both tools and buries the difference between them.
# Last, the user's whole task, end to end: pull from the loopback registry + unpack to a bundle,
# `rrun-image pull` + `rrun-image unpack` against `skopeo copy docker:// oci:` + `umoci unpack`,
# in one hyperfine run, once on disk ($WORK, on the root fs) and once on a tmpfs. Before every
# run (--prepare) both start from the same state: empty store/layout and bundle (on disk the
# previous run's are renamed away, not deleted, until the end: see e2e()), `sync`, page cache
# dropped, then the registry's blobs and the three binaries read back into the page cache.
# E2E=0 skips it; E2E_ONLY=1 runs only it. The disk part keeps ~1.2 GB per run (both tools) on
# $WORK until its end: RUNS=5 needs ~15 GB free there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../../target/release/rrun-image}")
work=${WORK:-/tmp/rrun-image-bench}
runs=${RUNS:-5}
mkdir -p "$work"
layout=$work/layout

add_blob() { # file media-type -> prints a descriptor
    local d; d=$(sha256sum "$1" | cut -d' ' -f1)
    mv "$1" "$layout/blobs/sha256/$d"
    jq -nc --arg d "sha256:$d" --arg m "$2" --argjson s "$(stat -c %s "$layout/blobs/sha256/$d")" \
        '{mediaType:$m, digest:$d, size:$s}'
}

if [ ! -f "$layout/index.json" ]; then
    echo "building the image in $layout ..." >&2
    rm -rf "$layout"; mkdir -p "$layout/blobs/sha256"
    echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
    layers=(); diffs=()
    i=0
    for paths in "usr/bin" "usr/include" "usr/share/doc" "usr/lib/python3 usr/lib/python3.11"; do
        tar --numeric-owner -C / -cf "$work/l$i.tar" $paths
        diffs+=("\"sha256:$(sha256sum "$work/l$i.tar" | cut -d' ' -f1)\"")
        gzip -6 -c "$work/l$i.tar" > "$work/l$i.tar.gz"; rm "$work/l$i.tar"
        layers+=("$(add_blob "$work/l$i.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)")
        i=$((i + 1))
    done
    # A last layer that deletes and replaces: a whiteout, an opaque dir, a changed file.
    mkdir -p "$work/l5/usr/share/doc/bash" "$work/l5/usr/include/linux"
    touch "$work/l5/usr/share/doc/.wh.apt" "$work/l5/usr/include/linux/.wh..wh..opq"
    echo changed > "$work/l5/usr/share/doc/bash/README"
    tar --numeric-owner -C "$work/l5" -cf "$work/l5.tar" usr; rm -rf "$work/l5"
    diffs+=("\"sha256:$(sha256sum "$work/l5.tar" | cut -d' ' -f1)\"")
    layers+=("$(add_blob "$work/l5.tar" application/vnd.oci.image.layer.v1.tar)")
    arch=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
    jq -nc --arg a "$arch" --argjson d "[$(IFS=,; echo "${diffs[*]}")]" \
        '{architecture:$a, os:"linux", config:{Cmd:["/usr/bin/true"]}, rootfs:{type:"layers", diff_ids:$d}}' > "$work/config.json"
    config=$(add_blob "$work/config.json" application/vnd.oci.image.config.v1+json)
    jq -nc --argjson c "$config" --argjson l "[$(IFS=,; echo "${layers[*]}")]" \
        '{schemaVersion:2, mediaType:"application/vnd.oci.image.manifest.v1+json", config:$c, layers:$l}' > "$work/manifest.json"
    manifest=$(add_blob "$work/manifest.json" application/vnd.oci.image.manifest.v1+json)
    jq -nc --argjson m "$manifest" \
        '{schemaVersion:2, manifests:[$m + {annotations:{"org.opencontainers.image.ref.name":"bench"}}]}' > "$layout/index.json"
fi

out=$work/out
mkdir -p "$out"
cleanup() { :; }
if [ "${FS:-tmpfs}" = tmpfs ]; then
    mount -t tmpfs -o size=8g rrun-image-bench "$out"
    cleanup() { cd /; umount "$out"/snap*/rootfs 2>/dev/null || true; umount "$out"; }
fi
trap cleanup EXIT

echo "== image: $(du -sh "$layout/blobs" | cut -f1) compressed, $(jq '.layers|length' "$layout/blobs/sha256/$(jq -r '.manifests[0].digest[7:]' "$layout/index.json")") layers"
echo "== $(date -u '+%F %T UTC'), load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
cd "$out"
if [ "${E2E_ONLY:-0}" != 1 ]; then
rm -rf b-rrun b-umoci store
echo "== unpack (page cache warm, $runs runs each)"
hyperfine -r "$runs" -w 1 --export-markdown unpack.md \
    -p 'rm -rf b-rrun b-umoci store' \
    -n rrun-image "$bin --root store unpack $layout:bench b-rrun" \
    -n umoci "umoci unpack --image $layout:bench b-umoci"
rm -rf b-rrun b-umoci store
peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "== peak RSS (KiB): rrun-image $(peak "$bin" --root store unpack "$layout:bench" b-rrun)," \
     "umoci $(peak umoci unpack --image "$layout:bench" b-umoci)"
rm -rf b-rrun b-umoci store

echo "== overlay snapshots: the first fills the layer cache, the next ones only mount"
/usr/bin/time -f "first snapshot: %e s" "$bin" --root store unpack --snapshot overlay "$layout:bench" snap0 2>&1 | grep "first snapshot"
hyperfine -r "$runs" --export-markdown snapshot.md \
    -p "$bin umount --rm snap1 2>/dev/null || true" -c "$bin umount --rm snap1" \
    -n "rrun-image unpack --snapshot overlay (cache warm)" "$bin --root store unpack --snapshot overlay $layout:bench snap1"
echo "== space: layer cache $(du -sh store/layers | cut -f1), one more snapshot bundle $(du -sh -x snap0 | cut -f1)"
"$bin" umount --rm snap0
rm -rf store

fi

# The registry's storage is on disk in $WORK, kept across runs of this script, and warm in the
# page cache when measured.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=$work/reg
mkdir -p "$reg"
cat > "$reg/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $reg/data
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$reg/config.yml" >/dev/null 2>&1 &
reg_pid=$!
trap 'kill $reg_pid; wait $reg_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
src=127.0.0.1:$port/bench:latest
skopeo copy -q --dest-tls-verify=false "oci:$layout:bench" "docker://$src"

if [ "${E2E_ONLY:-0}" != 1 ]; then
echo "== pull from a loopback docker-registry"
hyperfine -r "$runs" -w 1 --export-markdown pull.md \
    -p 'rm -rf store skopeo-out' \
    -n rrun-image "$bin --root store pull -q $src" \
    -n skopeo "skopeo copy -q --src-tls-verify=false docker://$src oci:skopeo-out:bench"
rm -rf store skopeo-out
cat unpack.md snapshot.md pull.md
mkdir -p "$work/results"; cp unpack.md snapshot.md pull.md "$work/results/"
fi
[ "${E2E:-1}" = 1 ] || exit 0

# End to end: pull + unpack, both tools from the same state (see the top of this file).
warm="cat $(find "$reg/data" -type f -printf '%p ') $bin $(command -v skopeo) $(command -v umoci) >/dev/null"
e2e() { # dir label
    local d=$1 label=$2
    local clean="rm -rf $d/store $d/b-rrun $d/oci $d/b-umoci"
    if [ "$label" = disk ]; then
        # Nothing is deleted on disk while measuring: the outputs of each run are renamed
        # away and deleted at the end. ext4 without a journal (this VM's root) skips inodes
        # deleted less than 60 s ago, and the scan past 2x21,000 of them doubled the kernel
        # time of both tools' unpack; a user unpacking an image does not pay for that.
        clean="t=$d/.trash/\$(date +%s%N); mkdir -p \$t; for x in store b-rrun oci b-umoci; do [ ! -e $d/\$x ] || mv $d/\$x \$t/; done"
    fi
    local prep="$clean; sync; echo 3 > /proc/sys/vm/drop_caches; $warm"
    local rrun="$bin --root $d/store pull -q $src && $bin --root $d/store unpack -q $src $d/b-rrun"
    local other="skopeo copy -q --src-tls-verify=false docker://$src oci:$d/oci:bench && umoci unpack --image $d/oci:bench $d/b-umoci"
    echo "== end to end on $label ($d; $runs runs each; load average $(cut -d' ' -f1-3 /proc/loadavg))"
    hyperfine -r "$runs" -p "$prep" --export-json "$res/e2e-$label.json" \
        -n "rrun-image pull + unpack" "$rrun" \
        -n "skopeo copy + umoci unpack" "$other"
    # Peak RSS (KiB) of each step, from the same start state.
    peak() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
    sh -c "$prep"
    local rp ru sp up
    rp=$(peak "$bin" --root "$d/store" pull -q "$src")
    ru=$(peak "$bin" --root "$d/store" unpack -q "$src" "$d/b-rrun")
    sp=$(peak skopeo copy -q --src-tls-verify=false "docker://$src" "oci:$d/oci:bench")
    up=$(peak umoci unpack --image "$d/oci:bench" "$d/b-umoci")
    sh -c "$clean"
    jq -r --arg fs "$label" --arg rp "$rp" --arg ru "$ru" --arg sp "$sp" --arg up "$up" '
        def r2: . * 100 | round / 100;
        .results as $r |
        def row(i): "| \($fs) | \($r[i].command) | \($r[i].mean|r2) s ± \(($r[i].stddev // 0)|r2) | \($r[i].median|r2) s (\($r[i].min|r2) … \($r[i].max|r2)) | \($r[i].user|r2) s | \($r[i].system|r2) s |";
        row(0) + " pull \($rp|tonumber/1024|round) MiB, unpack \($ru|tonumber/1024|round) MiB | \($r[1].mean / $r[0].mean|r2)x / \($r[1].median / $r[0].median|r2)x |",
        row(1) + " skopeo \($sp|tonumber/1024|round) MiB, umoci \($up|tonumber/1024|round) MiB | |"
    ' "$res/e2e-$label.json" >> "$res/e2e.md"
    echo "== end of $label: load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
res=$work/results
mkdir -p "$res"
printf '| fs | pull + unpack | wall, mean ± sd | median (min … max) | user | sys | peak RSS | faster: mean / median |\n|---|---|---|---|---|---|---|---|\n' > "$res/e2e.md"
mkdir -p "$work/e2e" "$work/e2e-tmpfs"
mount -t tmpfs -o size=8g rrun-image-e2e "$work/e2e-tmpfs"
trap 'kill $reg_pid; wait $reg_pid 2>/dev/null || true; umount "$work/e2e-tmpfs"; cleanup' EXIT
e2e "$work/e2e" disk
e2e "$work/e2e-tmpfs" tmpfs
rm -rf "$work/e2e/.trash"
cat "$res/e2e.md"
