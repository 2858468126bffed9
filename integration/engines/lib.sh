# Shared by integration/engines/run.sh and the flow files (docker.sh, containerd.sh, podman.sh).
#
# Every daemon runs on private roots, sockets and state dirs under $W; what they change on the
# host (iptables/nft rules, ip_forward, bridges, cgroups, /run dirs) is recorded before they
# start and put back by undo_host at the end, whatever happened.

# --- what the host looked like before -------------------------------------------------------
save_host() {
    mkdir -p "$W/host"
    iptables-save >"$W/host/iptables" 2>/dev/null || true
    ip6tables-save >"$W/host/ip6tables" 2>/dev/null || true
    nft list ruleset >"$W/host/nft" 2>/dev/null || true
    cat /proc/sys/net/ipv4/ip_forward >"$W/host/ip_forward"
    ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$W/host/links"
    for d in /run/containers /run/netns /run/docker /etc/containers/networks /var/lib/cni \
        /run/cni /var/run/docker.sock /run/containerd /run/runc /run/rrun; do
        [ -e "$d" ] && echo "$d"
    done >"$W/host/run-dirs"
}

undo_host() {
    # Links the engines made (bridges, veths).
    ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | sort >"$W/host/links.after"
    comm -13 "$W/host/links" "$W/host/links.after" | while read -r l; do
        ip link delete "$l" 2>/dev/null || true
    done
    if [ -s "$W/host/nft" ] || nft list ruleset 2>/dev/null | grep -q .; then
        { echo "flush ruleset"; cat "$W/host/nft"; } | nft -f - 2>/dev/null || true
    fi
    [ -s "$W/host/iptables" ] && iptables-restore <"$W/host/iptables" 2>/dev/null
    [ -s "$W/host/ip6tables" ] && ip6tables-restore <"$W/host/ip6tables" 2>/dev/null
    [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$(cat "$W/host/ip_forward")" ] ||
        cat "$W/host/ip_forward" >/proc/sys/net/ipv4/ip_forward
    # /run dirs that did not exist before (netns files may be mounts).
    for d in /run/containers /run/netns /run/docker /etc/containers/networks /var/lib/cni \
        /run/cni /run/containerd /run/runc /run/rrun; do
        if [ -e "$d" ] && ! grep -qx "$d" "$W/host/run-dirs"; then
            findmnt -rn -o TARGET | grep "^$d" | sort -r | xargs -r -n1 umount -l 2>/dev/null
            rm -rf "$d"
        fi
    done
    # Cgroups named after the engines, deepest first, in every hierarchy.
    for name in docker libpod_parent machine.slice rrun-it; do
        find /sys/fs/cgroup -depth -type d -path "*/$name*" 2>/dev/null | while read -r c; do
            rmdir "$c" 2>/dev/null || true
        done
    done
}

# --- daemons -------------------------------------------------------------------------------
PIDS=()
wait_socket() { # path seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do [ -S "$1" ] && return 0; sleep 0.1; done
    return 1
}

start_containerd() {
    mkdir -p "$W/ctrd"
    cat >"$W/ctrd/config.toml" <<EOT
version = 2
root = "$W/ctrd/root"
state = "$W/ctrd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/ctrd/sock"
[ttrpc]
  address = "$W/ctrd/sock.ttrpc"
EOT
    containerd --config "$W/ctrd/config.toml" >"$W/ctrd/log" 2>&1 &
    PIDS+=($!)
    wait_socket "$W/ctrd/sock" 10 || { tail "$W/ctrd/log"; return 1; }
}

start_dockerd() {
    mkdir -p "$W/docker"
    /usr/sbin/dockerd --data-root "$W/docker/root" --exec-root "$W/docker/exec" \
        --pidfile "$W/docker/pid" -H "unix://$W/docker/sock" --containerd "$W/ctrd/sock" \
        --exec-opt native.cgroupdriver=cgroupfs --add-runtime rrun="$RRUN" \
        --add-runtime ref="$RUNC" --default-runtime ref \
        >"$W/docker/log" 2>&1 &
    PIDS+=($!)
    wait_socket "$W/docker/sock" 30 || { tail "$W/docker/log"; return 1; }
    local i
    for i in $(seq 50); do docker info >/dev/null 2>&1 && return 0; sleep 0.2; done
    tail "$W/docker/log"
    return 1
}

podman_conf() {
    mkdir -p "$W/podman"
    # This machine's hard RLIMIT_NOFILE is below podman's default ulimits (shared/HOST.md).
    cat >"$W/podman/containers.conf" <<EOT
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
EOT
}

# The rootless podman flows' user: its own group, subordinate ids, a world-traversable work
# dir ($W is private to root) with its storage and XDG_RUNTIME_DIR, and the rl_podman wrapper
# that runs podman as the user on them, with the runtime in RT_PATH.
rootless_user_add() {
    RL_USER=rrunit$$
    useradd --no-create-home --shell /bin/sh --user-group "$RL_USER" || return 1
    usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$RL_USER" || return 1
    RL_UID=$(id -u "$RL_USER") RL_GID=$(id -g "$RL_USER")
    RLW=$(mktemp -d /tmp/rrun-engines-rl.XXXXXX)
    chmod 755 "$RLW"
    mkdir -p "$RLW/xdg" "$RLW/home" "$RLW/root"
    cp "$W/podman/containers.conf" "$RLW/containers.conf"
    chown -R "$RL_UID:$RL_GID" "$RLW"
    chmod 700 "$RLW/xdg"
    cat >"$W/bin/rl_podman" <<EOT
#!/bin/sh
cd $RLW && exec setpriv --reuid=$RL_UID --regid=$RL_GID --clear-groups --reset-env env HOME=$RLW/home \\
    USER=$RL_USER PATH=/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR=$RLW/xdg \\
    CONTAINERS_CONF=$RLW/containers.conf podman --root $RLW/root --runroot $RLW/xdg/run \\
    --storage-driver vfs --cgroup-manager cgroupfs --events-backend file \\
    --runtime "\${RT_PATH:?}" "\$@"
EOT
    chmod +x "$W/bin/rl_podman"
    export RL_USER RL_UID RL_GID RLW
}

rootless_user_remove() {
    pkill -KILL -U "$RL_UID" 2>/dev/null
    sleep 0.2
    unmount_under "$RLW"
    usermod --del-subuids 300000-365535 --del-subgids 300000-365535 "$RL_USER" 2>/dev/null
    userdel "$RL_USER" 2>/dev/null
    rm -rf --one-file-system "$RLW"
    RL_USER=
}

stop_daemons() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    PIDS=()
    # Shims and conmons of our daemons (their address or paths are under $W).
    pkill -9 -f "containerd-shim-runc-v2 .*-address $W" 2>/dev/null || true
    pkill -9 -f "conmon .*$W" 2>/dev/null || true
}

unmount_under() {
    findmnt -rn -o TARGET | grep "^$1" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}

# The engines are called through wrappers in $W/bin (run.sh), first in PATH: docker, ctr and
# podman on their private sockets and roots; podman with --runtime "$RT_PATH".

# --- flows ---------------------------------------------------------------------------------
# A flow is a function `flow_ENGINE_NAME` that prints what it observed (deterministic text);
# its exit status counts too. run_flow runs it with the reference runtime (runc) and with rrun:
# RT is the runtime's name for docker (ref or rrun), RT_PATH its binary. The two outputs,
# normalised, must be equal, and the flow must succeed with runc.
FLOWS=()
flow() { FLOWS+=("$1"); }

normalise() {
    sed -e 's/time="[^"]*" //' -e "s#$RRUN#RUNTIME#g" -e "s#$RUNC#RUNTIME#g" -e 's/\brrun\b/RUNTIME/g' \
        -e 's/\brunc\b/RUNTIME/g' -e 's/\bref\b/RUNTIME/g'
}

run_flow() { # name
    local f=$1 rt out rc
    for rt in ref rrun; do
        if [ "$rt" = ref ]; then RT=ref RT_PATH=$RUNC; else RT=rrun RT_PATH=$RRUN; fi
        export RT RT_PATH
        out=$(cd "$W" && timeout -k 5 "${FLOW_TIMEOUT:-180}" bash -c \
            "set -o pipefail; source '$HERE/lib.sh'; source '$HERE/${f%%_*}.sh'; flow_$f" 2>&1)
        rc=$?
        printf '%s\n' "$out" >"$W/out/$f.$rt"
        echo "$rc" >"$W/out/$f.$rt.rc"
    done
    local a b
    a=$(normalise <"$W/out/$f.ref") b=$(normalise <"$W/out/$f.rrun")
    local ra rb
    ra=$(cat "$W/out/$f.ref.rc") rb=$(cat "$W/out/$f.rrun.rc")
    local res_ref res_rrun
    res_ref=$([ "$ra" = 0 ] && echo ok || echo "FAIL($ra)")
    res_rrun=$([ "$rb" = 0 ] && echo ok || echo "FAIL($rb)")
    if [ "$ra" = 0 ] && [ "$rb" = 0 ] && [ "$a" = "$b" ]; then
        echo "same  $f"
        [ -n "${VERBOSE:-}" ] && sed 's/^/      /' <<<"$a"
        printf '%s\t%s\t%s\tsame\n' "$f" "$res_ref" "$res_rrun" >>"$RESULTS"
        return 0
    fi
    echo "DIFF  $f (runc: $res_ref, rrun: $res_rrun)"
    diff <(echo "$a") <(echo "$b") | head -20 | sed 's/^/      /'
    # The same output but a failure: show how it ended.
    [ "$a" = "$b" ] && tail -n 8 <<<"$a" | sed 's/^/      | /'
    printf '%s\t%s\t%s\tdiff\n' "$f" "$res_ref" "$res_rrun" >>"$RESULTS"
    return 1
}

# A port nobody listens on.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Retry a command until it succeeds (for servers that take a moment to listen).
retry() { # tries command...
    local n=$1 i
    shift
    for ((i = 0; i < n; i++)); do "$@" 2>/dev/null && return 0; sleep 0.5; done
    "$@"
}
