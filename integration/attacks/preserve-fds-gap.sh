#!/bin/bash
# --preserve-fds N hands fds 3..3+N-1 of the caller to the container process. Where the caller
# has fewer open, those numbers are free, and a runtime that opens its own descriptors there
# (the state directory, the exec fifo, the sync socket, a signalfd) passes them on: a directory
# fd of the host is a way out, as in CVE-2024-21626 (`/proc/self/fd/N/../..` walks the host).
# The container process tries every fd in 3..3+N-1 (with only stdio open in the caller), for
# `run`, `create`+`start` and `exec`.
# Escaped = the canary (a file in $WORK, outside the container) was read or a file was
# written next to it through one of those fds, or the init holds one of the runtime's own fds.
# Refusing the command (runc: "unable to stat preserved-fd") blocks it too.
. "$(dirname "$0")/lib.sh"

N=12
CANARY=$WORK/canary
SECRET="canary-$$-$RANDOM$RANDOM"
echo "$SECRET" >"$CANARY"
UP=../../../../../../../../../../../../../../..
# For each fd: what it is, then the canary read through it and a file written next to it.
PROBE="for n in \$(seq 3 $((N + 2))); do echo fd\$n=\$(readlink /proc/self/fd/\$n); cat /proc/self/fd/\$n/$UP$CANARY 2>/dev/null; echo pwned >/proc/self/fd/\$n/$UP$WORK/written-\$n 2>/dev/null; done; true"
B=$WORK/bundle
make_bundle "$B"
set_args "$B" sh -c "$PROBE"
ID=$ID_PREFIX
escaped() {
    grep -qF "$SECRET" "$1" || ls "$WORK"/written-* >/dev/null 2>&1
}
what() { grep -o 'fd[0-9]*=/[^ ]*' "$1" | grep -v '=/dev/null' | head -n 4 | tr '\n' ' '; }

# Closed fds in the caller: everything above stdio.
refused=
rt run --preserve-fds "$N" --bundle "$B" "$ID-run" >"$WORK/run.out" 2>&1 </dev/null || refused="run"
log "run: $(oneline "$WORK/run.out" 6)"
escaped "$WORK/run.out" && finish escaped "run --preserve-fds $N: host reached through $(what "$WORK/run.out")"
rt delete --force "$ID-run" >/dev/null 2>&1

set_args "$B" sh -c "$PROBE; sleep 1000"
if ! rt create --preserve-fds "$N" --bundle "$B" "$ID" >"$WORK/create.out" 2>&1 </dev/null; then
    log "create refused: $(oneline "$WORK/create.out")"
    # Without a container there is no exec to try: exec's own check, against one made with
    # nothing preserved.
    rt create --bundle "$B" "$ID" >"$WORK/create.out" 2>&1 </dev/null ||
        finish error "create failed: $(oneline "$WORK/create.out")"
    refused="$refused create"
fi
rt start "$ID" >>"$WORK/create.out" 2>&1 || finish error "start failed: $(oneline "$WORK/create.out")"
sleep 1
pid=$(init_pid "$ID")
[ -n "$pid" ] || finish error "no init pid"
ls -l "/proc/$pid/fd" >"$WORK/init-fds.out" 2>&1
log "init fds: $(grep -o -- '-> .*' "$WORK/init-fds.out" | tr '\n' ' ' | cut -c1-300)"
grep -q -- "-> $ROOT\|-> socket:\|-> anon_inode:\[signalfd\]" "$WORK/init-fds.out" &&
    finish escaped "create --preserve-fds $N: the init holds the runtime's own fds: $(grep -o -- '-> .*' "$WORK/init-fds.out" | grep -v /dev/ | tr '\n' ' ' | cut -c1-200)"

rt exec --preserve-fds "$N" "$ID" sh -c "$PROBE" >"$WORK/exec.out" 2>&1 </dev/null || refused="$refused exec"
log "exec: $(oneline "$WORK/exec.out" 6)"
escaped "$WORK/exec.out" && finish escaped "exec --preserve-fds $N: host reached through $(what "$WORK/exec.out")"
grep -q "fd[0-9]*=$ROOT\|fd[0-9]*=socket:\|fd[0-9]*=anon_inode:\[signalfd\]" "$WORK/exec.out" &&
    finish escaped "exec --preserve-fds $N: the process holds the runtime's own fds: $(what "$WORK/exec.out")"
finish blocked "run, create and exec with --preserve-fds $N and nothing open above stdio: no fd of the runtime reached the container process${refused:+ (refused: $refused)}"
