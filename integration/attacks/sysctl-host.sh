#!/bin/bash
# A sysctl that no namespace confines: linux.sysctl fs.lease-break-time. Whatever namespaces
# the container has, writing it changes the host, so the runtime must refuse the config.
# To change nothing even when the runtime does write it:
#  - the value asked for is the host's current value;
#  - the config bind-mounts a file of $WORK over /proc/sys/fs/lease-break-time, so that a
#    runtime that writes sysctls through the container's /proc after its mounts writes that
#    file instead (and shows it did). Only when a runtime refuses that bind mount (not the
#    sysctl) is the attack repeated without it, still with the host's own value.
# Escaped = the runtime accepted the config and started the container.
# Blocked = refused with a message about the sysctl.
. "$(dirname "$0")/lib.sh"

KEY=fs.lease-break-time
HOSTVAL=$(cat /proc/sys/fs/lease-break-time) || finish error "cannot read the host's $KEY"
echo fake >"$WORK/fake-lease"
B=$WORK/bundle
make_bundle "$B"
set_args "$B" sh -c 'echo "CONTAINER-RAN lease-break-time=$(cat /proc/sys/fs/lease-break-time)"'
cfg "$B" --arg k "$KEY" --arg v "$HOSTVAL" '.linux.sysctl = {($k): $v}'
cp "$B/config.json" "$WORK/config.nobind.json"
cfg "$B" --arg f "$WORK/fake-lease" '.mounts += [{destination: "/proc/sys/fs/lease-break-time",
    type: "bind", source: $f, options: ["bind", "rw"]}]'

verdict() {
    local out=$1 how=$2
    if grep -q CONTAINER-RAN "$out"; then
        finish escaped "the runtime accepted the non-namespaced sysctl $KEY and ran the container ($how; the fake file now holds '$(head -c 20 "$WORK/fake-lease" | tr -d '\n')', the value asked for was the host's own $HOSTVAL)"
    fi
    if grep -qiE 'sysctl|namespace' "$out"; then
        finish blocked "refused: $(oneline "$out" 1)"
    fi
}
rt run --bundle "$B" "$ID_PREFIX" >"$WORK/out" 2>&1 </dev/null
rt delete --force "$ID_PREFIX" >/dev/null 2>&1
log "with the fake bind: $(oneline "$WORK/out" 2)"
verdict "$WORK/out" "written into the fake file bind-mounted over it"
if [ "$(cat "$WORK/fake-lease")" != fake ]; then
    finish escaped "the runtime wrote the non-namespaced sysctl $KEY (into the fake file bound over it) and then failed: $(oneline "$WORK/out" 1)"
fi
# The runtime refused for another reason (the bind mount inside /proc?): without it.
cp "$WORK/config.nobind.json" "$B/config.json"
rt run --bundle "$B" "$ID_PREFIX-2" >"$WORK/out2" 2>&1 </dev/null
rt delete --force "$ID_PREFIX-2" >/dev/null 2>&1
log "without the fake bind: $(oneline "$WORK/out2" 2)"
[ "$(cat /proc/sys/fs/lease-break-time)" = "$HOSTVAL" ] || log "WARNING: the host's $KEY changed"
verdict "$WORK/out2" "with the host's own value"
finish error "the runtime failed for a reason that is not the sysctl: $(oneline "$WORK/out" 1) / $(oneline "$WORK/out2" 1)"
