#!/bin/bash
# CVE-2025-52881 class: a runtime that, after pivot_root, mounts or writes through paths of
# the container's /proc (/proc/self/fd/N as a mount target, /proc/sys/... for sysctls) trusts
# a file system the container controls. Here the config has no proc mount and the image's
# /proc is a plain directory: /proc/self/fd/N (N = 0..99) are symlinks to /decoy/N and
# /proc/sys/kernel/domainname is a regular file. The config asks for the default masks
# (/sys/firmware among them; no readonly paths, all of them being in /proc) and the sysctl
# kernel.domainname (with a UTS namespace).
# The harness then reads the container's mounts from the host (/proc/PID/mountinfo).
# Escaped = the mask meant for /sys/firmware landed on /decoy/N while /sys/firmware stays
# unmasked, or the sysctl was written into the image's fake /proc file.
. "$(dirname "$0")/lib.sh"

B=$WORK/bundle
make_bundle "$B"
R=$B/rootfs
mkdir -p "$R/proc/self/fd" "$R/proc/sys/kernel" "$R/decoy"
for n in $(seq 0 99); do
    mkdir "$R/decoy/$n"
    ln -s "/decoy/$n" "$R/proc/self/fd/$n"
done
echo decoy-initial >"$R/proc/sys/kernel/domainname"
VALUE="atk-sysctl-$$"
# No readonlyPaths: they are all in /proc, which is not procfs here.
cfg "$B" --arg v "$VALUE" '.mounts = [.mounts[] | select(.destination != "/proc")]
    | .linux.readonlyPaths = []
    | .linux.sysctl = {"kernel.domainname": $v}'
set_args "$B" sh -c 'ls /sys/firmware >/tmp/firmware.ls 2>&1; echo ready >/tmp/ready; exec sleep 1000'

ID=$ID_PREFIX
if ! rt create --bundle "$B" "$ID" >"$WORK/out" 2>&1 </dev/null; then
    log "create failed: $(oneline "$WORK/out")"
    if [ "$(cat "$R/proc/sys/kernel/domainname")" = "$VALUE" ]; then
        finish escaped "the sysctl kernel.domainname was written into the image's fake /proc/sys/kernel/domainname (then create failed: $(oneline "$WORK/out" 1))"
    fi
    if grep -qiE 'proc' "$WORK/out"; then
        finish blocked "the runtime refused a container whose /proc is not procfs: $(oneline "$WORK/out" 2)"
    fi
    finish error "create failed: $(oneline "$WORK/out" 3)"
fi
pid=$(init_pid "$ID")
[ -n "$pid" ] || finish error "no init pid"
rt start "$ID" >>"$WORK/out" 2>&1 || log "start failed: $(oneline "$WORK/out")"
wait_exists "$R/tmp/ready" 10 || log "the container did not report"
pid=$(init_pid "$ID")
MI=$WORK/mountinfo
cat "/proc/$pid/mountinfo" >"$MI" 2>/dev/null || finish error "cannot read the container's mountinfo"
log "container mounts:"
awk '{print $4, $5, $9}' "$MI"
log "/sys/firmware in the container: $(oneline "$R/tmp/firmware.ls" 2)"
log "fake domainname file: $(cat "$R/proc/sys/kernel/domainname")"
decoys=$(awk '$5 ~ /^\/decoy\// {print $5 " (" $9 ")"}' "$MI" | tr '\n' ' ')
fw_masked=$(awk '$5 == "/sys/firmware" {print "yes"}' "$MI" | head -n1)
ESC=()
if [ "$(cat "$R/proc/sys/kernel/domainname")" = "$VALUE" ]; then
    ESC+=("the sysctl kernel.domainname was written into the image's fake /proc/sys/kernel/domainname")
fi
if [ -n "$decoys" ]; then
    ESC+=("mounts meant for masked/readonly paths landed on $decoys$([ -z "$fw_masked" ] && echo "and /sys/firmware is not masked (the container lists: $(oneline "$R/tmp/firmware.ls" 1))")")
fi
[ ${#ESC[@]} -gt 0 ] && finish escaped "$(printf '%s; ' "${ESC[@]}")"
[ -n "$fw_masked" ] || finish error "/sys/firmware is not masked, yet no mount landed on a decoy: $(oneline "$R/tmp/firmware.ls" 1)"
finish blocked "/sys/firmware masked in place, no mount on /decoy/*, the fake /proc/sys file untouched ($(cat "$R/proc/sys/kernel/domainname"))"
