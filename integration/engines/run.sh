#!/usr/bin/env bash
# rrun under the real engines, each flow compared with runc in the same run:
#
#   integration/engines/run.sh [--rrun PATH] [--runc PATH] [--engines docker,containerd,podman]
#                              [--only FLOW,...] [--bench N] [--markdown FILE]
#
# containerd, dockerd and podman run on private roots, sockets and state dirs under a temp dir,
# are stopped by pid at the end, and what they changed on the host is undone (lib.sh undo_host).
# Each flow (docker.sh, containerd.sh, podman.sh) runs once with runc and once with rrun; its
# output (normalised: the runtime's name and path) and exit status must be the same, and it
# must succeed with runc. Then the medians of `docker run --rm`, `ctr run --rm` and
# `podman run --rm` of busybox `true` (--bench N interleaved runs each, default 10), and a check
# that nothing is left behind once the daemons are stopped. Exit status: non-zero if any flow
# differs or fails, or anything is left.
#
# Images: busybox (scripts/make-busybox-image.sh) and "apps", Debian bookworm minbase with
# nginx-light and mariadb-server (mmdebstrap, about 50 s; cached in target/engines/apps.tar,
# or $APPS_TAR). Needs root; installs docker.io containerd podman iptables mmdebstrap curl.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT_DIR=$(cd "$HERE/../.." && pwd)
RRUN=$ROOT_DIR/target/release/rrun
RUNC=$(command -v runc || echo /usr/sbin/runc)
ENGINES=docker,containerd,podman
ONLY=
BENCH=10
MARKDOWN=
while [ $# -gt 0 ]; do
    case $1 in
    --rrun) RRUN=$2; shift 2 ;;
    --runc) RUNC=$2; shift 2 ;;
    --engines) ENGINES=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --bench) BENCH=$2; shift 2 ;;
    --markdown) MARKDOWN=$2; shift 2 ;;
    *) sed -n '2,20p' "$0" >&2; exit 2 ;;
    esac
done
RRUN=$(realpath "$RRUN") RUNC=$(realpath "$RUNC")
[ -x "$RRUN" ] || { echo "no rrun at $RRUN (make release)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root" >&2; exit 2; }

"$ROOT_DIR/scripts/install-deps.sh" containerd docker.io podman iptables mmdebstrap curl jq bsdutils uidmap slirp4netns

W=$(mktemp -d /tmp/rrun-engines.XXXXXX)
export W RRUN RUNC HERE
mkdir -p "$W/out"
RESULTS=$W/results.tsv
: >"$RESULTS"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
save_host
T0=$(date +%s)

finish() {
    stop_daemons
    unmount_under "$W"
    # What must not outlive the daemons: processes of our containers, our mounts, the shim's
    # runtime root for our containerd namespace.
    local left=""
    pgrep -f "^$RRUN |^$RUNC .*$W" >"$W/left.pids" && left+=" processes($(tr '\n' ' ' <"$W/left.pids"))"
    findmnt -rn -o TARGET | grep -q "^$W" && left+=" mounts"
    for d in /run/containerd/runc/rrun-it /run/containerd/runc/moby; do
        [ -n "$(ls -A "$d" 2>/dev/null)" ] && left+=" $d"
    done
    find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d \( -name 'docker' -o -name 'libpod_parent' -o -name 'rrun-it' \) \
        -exec sh -c 'for c; do [ -s "$c/cgroup.procs" ] && echo "$c"; done' _ {} + 2>/dev/null | grep -q . && left+=" cgroups-with-processes"
    if [ -n "${RL_USER:-}" ]; then
        # Rootless podman's containers are gone once its flows are done (its pause process,
        # catatonit, is podman's own and goes with the user).
        pgrep -U "$RL_UID" -x sleep >/dev/null && left+=" rootless-processes"
        rootless_user_remove
    fi
    undo_host
    [ -n "$MARKDOWN" ] && write_markdown >"$MARKDOWN"
    rm -rf --one-file-system "$W"
    if [ -n "$left" ]; then
        echo "LEFT BEHIND after the daemons stopped:$left"
        exit 1
    fi
    echo "nothing left behind after the daemons stopped"
}
trap 'finish; exit 1' INT TERM

# Wrappers so flows (and `script -c`) call the engines on their private sockets.
mkdir -p "$W/bin"
cat >"$W/bin/docker" <<EOF
#!/bin/sh
DOCKER_HOST=unix://$W/docker/sock exec /usr/bin/docker "\$@"
EOF
cat >"$W/bin/ctr" <<EOF
#!/bin/sh
exec $(command -v ctr) -a $W/ctrd/sock -n rrun-it "\$@"
EOF
cat >"$W/bin/podman" <<EOF
#!/bin/sh
CONTAINERS_CONF=$W/podman/containers.conf exec $(command -v podman) --root $W/podman/root \\
    --runroot $W/podman/runroot --tmpdir $W/podman/tmp --runtime "\${RT_PATH:?}" \\
    --cgroup-manager cgroupfs --events-backend file "\$@"
EOF
chmod +x "$W/bin/"*
export PATH=$W/bin:$PATH

has() { case ",$ENGINES," in *",$1,"*) return 0 ;; esac; return 1; }

echo "# rrun: $RRUN ($("$RRUN" --version | head -1)); reference: $RUNC ($("$RUNC" --version | head -1))"
# Images.
"$ROOT_DIR/scripts/make-busybox-image.sh" "$W/img" docker.io/library/bb:latest >/dev/null
manifest=$(jq -r '.manifests[0].digest' "$W/img/index.json" | cut -d: -f2)
BB_LAYER=$W/img/blobs/sha256/$(jq -r '.layers[0].digest' "$W/img/blobs/sha256/$manifest" | cut -d: -f2)
APPS_TAR=${APPS_TAR:-$ROOT_DIR/target/engines/apps.tar}
if has docker || has podman; then
    if [ ! -s "$APPS_TAR" ]; then
        mkdir -p "$(dirname "$APPS_TAR")"
        t=$(date +%s)
        # --format: the output name does not end in .tar, which would make it a directory.
        mmdebstrap --quiet --format=tar --variant=minbase --include=nginx-light,mariadb-server \
            bookworm "$APPS_TAR.tmp" >"$W/mmdebstrap.log" 2>&1 || { tail "$W/mmdebstrap.log"; finish; exit 1; }
        mv "$APPS_TAR.tmp" "$APPS_TAR"
        echo "# apps image built with mmdebstrap in $(($(date +%s) - t)) s"
    fi
fi

start_containerd || { finish; exit 1; }
tar -C "$W/img" -cf "$W/img.tar" .
ctr images import "$W/img.tar" >/dev/null
[ -f "$APPS_TAR" ] || { echo "$APPS_TAR is not a tar file (remove it to rebuild)"; finish; exit 1; }
imported() { echo "could not import $1 into $2"; finish; exit 1; }
APPS_ENV='ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
if has docker; then
    start_dockerd || { finish; exit 1; }
    docker import "$BB_LAYER" bb >/dev/null || imported bb docker
    docker import -c "$APPS_ENV" "$APPS_TAR" apps >/dev/null || imported apps docker
fi
if has podman; then
    podman_conf
    RT_PATH=$RUNC podman import "$BB_LAYER" bb >/dev/null 2>&1 || imported bb podman
    RT_PATH=$RUNC podman import -c "$APPS_ENV" "$APPS_TAR" apps >/dev/null 2>&1 || imported apps podman
    rootless_user_add || { echo "could not make the rootless podman user"; finish; exit 1; }
    RT_PATH=$RUNC rl_podman import - bb <"$BB_LAYER" >/dev/null 2>&1 || imported bb "rootless podman"
fi
echo "# engines and images ready in $(($(date +%s) - T0)) s"

# Flows.
for e in docker containerd podman; do
    has "$e" && source "$HERE/$e.sh"
done
failed=0
for f in "${FLOWS[@]}"; do
    if [ -n "$ONLY" ]; then case ",$ONLY," in *",$f,"*) ;; *) continue ;; esac; fi
    has "${f%%_*}" || continue
    run_flow "$f" || failed=$((failed + 1))
done

# Medians of `run --rm` of busybox true, interleaved.
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ms() { local t=$(date +%s%N); "$@" >/dev/null 2>&1; echo $((($(date +%s%N) - t) / 1000000)); }
: >"$W/bench.tsv"
if [ "$BENCH" -gt 0 ]; then
    for i in $(seq "$BENCH"); do
        for rt in ref rrun; do
            p=$RUNC; [ $rt = rrun ] && p=$RRUN
            has docker && echo "docker $rt $(ms docker run --rm --runtime $rt bb true)" >>"$W/bench.tsv"
            has containerd && echo "containerd $rt $(ms ctr run --rm --runc-binary "$p" docker.io/library/bb:latest b-$rt-$i true)" >>"$W/bench.tsv"
            has podman && echo "podman $rt $(RT_PATH=$p ms podman run --rm bb true)" >>"$W/bench.tsv"
        done
    done
    for e in docker containerd podman; do
        has $e || continue
        r=$(awk -v e=$e '$1 == e && $2 == "ref" {print $3}' "$W/bench.tsv" | median)
        n=$(awk -v e=$e '$1 == e && $2 == "rrun" {print $3}' "$W/bench.tsv" | median)
        echo "bench $e run --rm busybox true: runc ${r} ms, rrun ${n} ms (median of $BENCH, interleaved)"
    done
fi

write_markdown() {
    echo "| flow | engine | runc | rrun | same output |"
    echo "|---|---|---|---|---|"
    awk -F'\t' '{split($1, p, "_"); name = substr($1, length(p[1]) + 2);
        printf "| %s | %s | %s | %s | %s |\n", name, p[1], $2, $3, ($4 == "same") ? "yes" : "**no**"}' "$RESULTS"
    echo
    echo "| engine | runc (ms) | rrun (ms) |"
    echo "|---|---|---|"
    for e in docker containerd podman; do
        grep -q "^$e " "$W/bench.tsv" || continue
        echo "| \`$e run --rm\` busybox true, median of $BENCH | $(awk -v e=$e '$1 == e && $2 == "ref" {print $3}' "$W/bench.tsv" | median) | $(awk -v e=$e '$1 == e && $2 == "rrun" {print $3}' "$W/bench.tsv" | median) |"
    done
    echo
    for m in "$W"/out/msg.*.ref; do
        [ -e "$m" ] || continue
        f=${m#"$W/out/msg."}; f=${f%.ref}
        echo "**$f**, runc: \`$(tr '\n' ' ' <"$m" | cut -c1-400)\`"
        echo
        echo "**$f**, rrun: \`$(tr '\n' ' ' <"${m%.ref}.rrun" | cut -c1-400)\`"
        echo
    done
}

total=$(wc -l <"$RESULTS")
echo "$((total - failed)) same, $failed different or failing (of $total flows); $(($(date +%s) - T0)) s"
finish
[ "$failed" = 0 ]
