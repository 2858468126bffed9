#!/bin/bash
# Device cgroup with no rules: the config grants CAP_MKNOD and has no
# linux.resources.devices at all (the key is deleted). The runtime must still start from
# "deny all" plus its default allow list; a runtime that installs nothing lets the container
# open any device it can mknod. The container creates 10:237 (/dev/loop-control, not in any
# default allow list, harmless to open read-only) and opens it read-only.
# Escaped = the open succeeded. (A denied open fails with EPERM; the mknod itself is allowed
# by the default rules, "m" for every char device in runc's list.)
. "$(dirname "$0")/lib.sh"

[ -e /dev/loop-control ] || log "note: the host has no /dev/loop-control (the open fails with ENXIO/ENODEV if the loop driver is absent)"
B=$WORK/bundle
make_bundle "$B"
add_caps "$B" CAP_MKNOD
cfg "$B" 'del(.linux.resources.devices) | if .linux.resources == {} then del(.linux.resources) else . end'
set_args "$B" sh -c 'mknod /dev/atk-loopctl c 10 237 && echo "mknod: ok"
    if (exec 3</dev/atk-loopctl) 2>/tmp/open.err; then echo "OPENED 10:237"; else echo "open failed: $(cat /tmp/open.err)"; fi
    echo done'
ID=$ID_PREFIX
rt run --bundle "$B" "$ID" >"$WORK/out" 2>&1 </dev/null
log "output:"
cat "$WORK/out"
grep -q '^OPENED' "$WORK/out" &&
    finish escaped "with no linux.resources.devices the container opened the char device 10:237 it created (/dev/loop-control)"
grep -q '^open failed' "$WORK/out" &&
    finish blocked "the open of 10:237 was refused: $(grep -m1 '^open failed' "$WORK/out" | sed 's/^open failed: //')"
grep -q '^done' "$WORK/out" &&
    finish blocked "mknod 10:237 was refused: $(oneline "$WORK/out" 2)"
finish error "the container did not run: $(oneline "$WORK/out" 3)"
