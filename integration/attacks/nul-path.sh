#!/bin/bash
# A NUL byte in a path of the config: mount destination "/tmp\u0000x" for a second `cgroup`
# mount with `ro`. A runtime that does not refuse it either truncates the path (C) or, like
# rrun before the fix, replaced the whole path by U+FFFD: every step of that cgroup mount then
# went to the rootfs entry named U+FFFD (which the image provides), stacked there, and the
# final read-only remount of the "tmpfs" (a plain MS_REMOUNT, not a bind remount) hit the
# superblock of the cgroup hierarchy mounted last - the host's cgroup2 on this machine.
#
# A superblock remount is not confined by a mount namespace, so this attack never lets the
# runtime see the host's hierarchies: it runs in a private mount namespace in which
# /sys/fs/cgroup is replaced by a tmpfs holding the devices hierarchy and, mounted last, a
# *new* named v1 hierarchy (name=atk<pid>, no controllers) that exists for this test only;
# no cgroup2 (the hybrid's, whose superblock rrun hit). A control run (same
# config without the NUL mount) must work there first; otherwise the result is `error`.
# Escaped = the runtime accepted the config (the container ran), or any mount's superblock in
# that namespace became read-only (findmnt before/after), or the runtime went on to mount the
# NUL destination and failed only there (rrun before the fix does: its superblock remount of
# the test's v1 hierarchy fails with EBUSY, where the host's cgroup2 was remounted).
# Blocked = refused with a message that names the NUL (nul/null/\u0000/\x00/\0).
if [ -z "${ATK_NUL_INNER:-}" ]; then
    exec env ATK_NUL_INNER=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

NAME="atk$$"
# The private cgroup layout (this mount namespace only).
umount -R -l /sys/fs/cgroup 2>/dev/null || umount -l /sys/fs/cgroup 2>/dev/null
mount -t tmpfs -o mode=755 atk-cgroup /sys/fs/cgroup || finish error "cannot mount a private tmpfs at /sys/fs/cgroup"
# The devices hierarchy (every runtime wants it, for the device rules) comes first; the
# test's own hierarchy is mounted last, so a runtime that stacks every hierarchy on one path
# has the disposable one on top.
if [ -n "$(awk '$1 == "devices" && $4 == 1' /proc/cgroups)" ]; then
    mkdir -p /sys/fs/cgroup/devices
    mount -t cgroup -o devices cgroup /sys/fs/cgroup/devices || finish error "cannot mount the devices hierarchy"
fi
mkdir -p /sys/fs/cgroup/$NAME
mount -t cgroup -o none,name=$NAME cgroup /sys/fs/cgroup/$NAME ||
    finish error "cannot mount a new named cgroup v1 hierarchy"
CG=/sys/fs/cgroup/$NAME
# Undo what the runtime may have done to the test's own hierarchy, then remove it.
nul_cleanup() {
    local d
    if findmnt -n -o FS-OPTIONS "$CG" | grep -qw ro; then
        mount -o remount,rw "$CG" 2>/dev/null
    fi
    for d in "$CG"/*/; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
    for d in "$CG"/*/; do [ -d "$d" ] && log "cleanup: cannot remove $d"; done
    umount "$CG" 2>/dev/null
    umount /sys/fs/cgroup 2>/dev/null
}
on_cleanup nul_cleanup
log "private cgroup layout: $(findmnt -n -R -o TARGET,FSTYPE,FS-OPTIONS /sys/fs/cgroup | tr '\n' ';')"

B=$WORK/bundle
make_bundle "$B"
cfg "$B" '.linux.namespaces |= map(select(.type != "network"))'
mkdir "$B/rootfs/$(printf '\357\277\275')"
set_args "$B" sh -c 'echo CONTAINER-RAN'

# Control: the runtime must work in this layout at all.
rt run --bundle "$B" "$ID_PREFIX-control" >"$WORK/control.out" 2>&1 </dev/null
rt delete --force "$ID_PREFIX-control" >/dev/null 2>&1
grep -q CONTAINER-RAN "$WORK/control.out" ||
    finish error "the control container (no NUL) does not run in the private cgroup layout: $(oneline "$WORK/control.out" 2)"

findmnt -n -r -o TARGET,FS-OPTIONS >"$WORK/mounts.before"
cfg "$B" '.mounts += [{destination: "/tmp\u0000x", type: "cgroup", source: "cgroup",
    options: ["nosuid", "noexec", "nodev", "relatime", "ro"]}]'
grep -q 'tmp\\u0000x' "$B/config.json" || finish error "jq did not keep the NUL in the destination"
rt run --bundle "$B" "$ID_PREFIX" >"$WORK/out" 2>&1 </dev/null
rc=$?
rt delete --force "$ID_PREFIX" >/dev/null 2>&1
findmnt -n -r -o TARGET,FS-OPTIONS >"$WORK/mounts.after"
log "run exit $rc: $(oneline "$WORK/out" 3)"
newly_ro=$(diff "$WORK/mounts.before" "$WORK/mounts.after" | awk '$1 == ">" && $3 ~ /(^|,)ro(,|$)/ {print $2}' | tr '\n' ' ')
if [ -n "$newly_ro" ]; then
    finish escaped "a superblock became read-only: $newly_ro(the test's own cgroup hierarchy stands in for the host's)$(grep -q CONTAINER-RAN "$WORK/out" && echo '; and the container ran')"
fi
if grep -q CONTAINER-RAN "$WORK/out"; then
    finish escaped "the runtime accepted a mount destination with a NUL byte and ran the container"
fi
[ -s "$WORK/out" ] || finish error "the runtime failed (exit $rc) without saying why"
# Refused: the protection is a refusal that names the NUL.
if tr -d '\000' <"$WORK/out" | grep -qaiE 'nul|null|\\u0000|\\x00|\\0'; then
    finish blocked "refused (exit $rc): $(oneline "$WORK/out" 1)"
fi
# Not refused for the NUL: failing later, while mounting it, is luck, not a protection.
if tr -d '\000' <"$WORK/out" | grep -qaiE 'mount|remount|mkdir'; then
    finish escaped "the NUL was not refused: the runtime went on to mount the destination and failed only there ($(oneline "$WORK/out" 1))"
fi
finish error "failed (exit $rc) for a reason that does not name the NUL: $(oneline "$WORK/out" 1)"
