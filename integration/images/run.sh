#!/usr/bin/env bash
# rrun-image's acceptance on real images built from Debian packages (issue 20): each image is
# unpacked with rrun-image's defaults (the `docker` profile) and started with rrun, as
# `docker run IMAGE` would start it.
#   nginx:   unpacked with --net host, serves HTTP on the host (port 8081, set in the image)
#   mariadb: its volume /var/lib/mysql starts with the data the package initialised (copy-up);
#            mariadbd starts (its Cmd makes /run/mysqld, as the official image's entrypoint
#            does) and answers a query on its system tables
#   python:  runs as the image's user `app` with its supplementary groups (audio, users)
# Images: Debian bookworm minbase + packages by mmdebstrap (cached in target/images/*.tar, about
# 40 s each the first time), one gzip layer each, written as an OCI layout.
# Usage: integration/images/run.sh [--rrun PATH] [--rrun-image PATH]   (root)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
RRUN=$ROOT_DIR/target/release/rrun
RRUN_IMAGE=$ROOT_DIR/target/release/rrun-image
while [ $# -gt 0 ]; do
    case $1 in
    --rrun) RRUN=$2; shift 2 ;;
    --rrun-image) RRUN_IMAGE=$2; shift 2 ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
    esac
done
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }
"$ROOT_DIR/scripts/install-deps.sh" mmdebstrap jq curl
CACHE=$ROOT_DIR/target/images
mkdir -p "$CACHE"
W=$(mktemp -d /tmp/rrun-images.XXXXXX)
STATE=$W/state
IDS=()
cleanup() {
    for id in "${IDS[@]}"; do "$RRUN" --root "$STATE" delete -f "$id" >/dev/null 2>&1 || true; done
    rm -rf "$W"
}
trap cleanup EXIT
FAILED=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }

# rootfs tarball NAME PACKAGES [customize-hook...]
rootfs() {
    local name=$1 packages=$2; shift 2
    local out=$CACHE/$name.tar
    [ -s "$out" ] && return 0
    local t hooks=()
    t=$(date +%s)
    for h in "$@"; do hooks+=(--customize-hook="$h"); done
    mmdebstrap --quiet --format=tar --variant=minbase --include="$packages" "${hooks[@]}" \
        bookworm "$out.tmp" >"$W/mmdebstrap-$name.log" 2>&1 || { tail "$W/mmdebstrap-$name.log"; exit 1; }
    mv "$out.tmp" "$out"
    echo "# $name rootfs built with mmdebstrap in $(($(date +%s) - t)) s"
}

# layout NAME EXEC_JSON: an OCI layout $W/NAME with the cached rootfs as its one layer.
layout() {
    local name=$1 exec=$2 out=$W/$1
    mkdir -p "$out/blobs/sha256"
    local diff layer cfg man
    diff=$(sha256sum "$CACHE/$name.tar" | cut -d' ' -f1)
    gzip -1 -n -c "$CACHE/$name.tar" >"$W/$name.layer"
    layer=$(sha256sum "$W/$name.layer" | cut -d' ' -f1)
    mv "$W/$name.layer" "$out/blobs/sha256/$layer"
    jq -n --arg d "sha256:$diff" --argjson e "$exec" \
        '{architecture: "amd64", os: "linux", config: $e, rootfs: {type: "layers", diff_ids: [$d]}}' \
        >"$W/$name.config"
    cfg=$(sha256sum "$W/$name.config" | cut -d' ' -f1)
    cp "$W/$name.config" "$out/blobs/sha256/$cfg"
    jq -n --arg c "sha256:$cfg" --argjson cs "$(stat -c %s "$W/$name.config")" \
        --arg l "sha256:$layer" --argjson ls "$(stat -c %s "$out/blobs/sha256/$layer")" '{
      schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
      layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]}' \
        >"$W/$name.manifest"
    man=$(sha256sum "$W/$name.manifest" | cut -d' ' -f1)
    cp "$W/$name.manifest" "$out/blobs/sha256/$man"
    echo '{"imageLayoutVersion":"1.0.0"}' >"$out/oci-layout"
    jq -n --arg m "sha256:$man" --argjson ms "$(stat -c %s "$W/$name.manifest")" '{
      schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
      digest: $m, size: $ms, annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' \
        >"$out/index.json"
}

retry() { local n=$1; shift; for _ in $(seq "$n"); do "$@" && return 0; sleep 0.5; done; return 1; }
PATH_ENV='["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'

rootfs nginx nginx-light 'sed -i "s/listen 80 default_server;/listen 8081 default_server;/; s/listen \[::\]:80 default_server;/listen [::]:8081 default_server;/" "$1/etc/nginx/sites-available/default"'
rootfs mariadb mariadb-server
rootfs python python3-minimal 'chroot "$1" useradd -m -u 1000 -G audio,users app'

layout nginx "{\"Cmd\": [\"nginx\", \"-g\", \"daemon off;\"], \"Env\": $PATH_ENV,
    \"ExposedPorts\": {\"8081/tcp\": {}}, \"StopSignal\": \"SIGQUIT\"}"
layout mariadb "{\"Cmd\": [\"sh\", \"-c\", \"mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld && exec mariadbd --user=mysql --skip-networking\"], \"Env\": $PATH_ENV,
    \"Volumes\": {\"/var/lib/mysql\": {}}}"
layout python "{\"Cmd\": [\"python3\", \"-c\",
    \"import os, grp; print(os.getuid(), os.getgid(), sorted(grp.getgrgid(g).gr_name for g in os.getgroups()))\"],
    \"User\": \"app\", \"Env\": $PATH_ENV}"

unpack() { "$RRUN_IMAGE" --root "$W/store" unpack -q "$@" >/dev/null 2>"$W/unpack.err" || { cat "$W/unpack.err"; return 1; }; }
start() {
    local id=rrun-img-$1-$$
    IDS+=("$id")
    "$RRUN" --root "$STATE" run -d -b "$W/$1-bundle" "$id" </dev/null >"$W/$1.out" 2>&1
}

# nginx with --net host: HTTP on the host.
if unpack --net host "oci:$W/nginx:latest" "$W/nginx-bundle" && start nginx; then
    if retry 40 curl -fsS -o "$W/page" http://127.0.0.1:8081/ && grep -q "Welcome to nginx" "$W/page"; then
        pass "nginx --net host serves HTTP on the host"
    else
        fail nginx "no page on 127.0.0.1:8081 ($(cat "$W/nginx.out"))"
    fi
else
    fail nginx "could not unpack or start"
fi

# MariaDB: the volume starts with the package's initialised data.
if unpack "oci:$W/mariadb:latest" "$W/mariadb-bundle" && start mariadb; then
    id=rrun-img-mariadb-$$
    if retry 60 "$RRUN" --root "$STATE" exec "$id" mariadb -N -e 'select count(*) > 0 from mysql.global_priv' >"$W/q" 2>"$W/q.err" &&
        [ "$(cat "$W/q")" = 1 ]; then
        pass "mariadb initialises from its volume and answers a query"
    else
        fail mariadb "no answer: $(cat "$W/q.err" 2>/dev/null) $(cat "$W/mariadb.out")"
    fi
    vol=$(ls -d "$W/mariadb-bundle/volumes/"*)
    [ "$(stat -c %U "$vol")" = "$(stat -c %U "$W/mariadb-bundle/rootfs/var/lib/mysql")" ] &&
        [ -d "$vol/mysql" ] && pass "mariadb volume copied up with its owner" ||
        fail mariadb-volume "$(ls -la "$vol")"
else
    fail mariadb "could not unpack or start"
fi

# python as the image's user, with its groups.
if unpack "oci:$W/python:latest" "$W/python-bundle"; then
    out=$("$RRUN" --root "$STATE" run -b "$W/python-bundle" "rrun-img-python-$$" </dev/null 2>&1 || true)
    IDS+=("rrun-img-python-$$")
    # As under Docker: the primary group is the gid, the supplementary ones are the others.
    if [ "$out" = "1000 1000 ['audio', 'users']" ]; then
        pass "python runs as app with its groups"
    else
        fail python "got: $out"
    fi
else
    fail python "could not unpack"
fi
exit $FAILED
