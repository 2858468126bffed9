#!/bin/bash
# root.path is a symlink in the bundle that the attacker swaps, in a tight loop, between two
# busybox root file systems A and B (B is a mount point: a bind of itself, as a volume would
# be) while `run` sets the container up, 20 times. A runtime that resolves root.path more
# than once (bind it, open it, chdir + pivot_root into it) can populate one tree and enter
# the other, which then has none of the container's mounts, devices or masks.
# Escaped = the container's process found itself in a root without /proc mounted, without a
# /dev/null device, or with /sys/firmware readable (unmasked).
# A runtime that refuses a symlinked root.path outright: blocked.
. "$(dirname "$0")/lib.sh"

BUN=$WORK/bundle
make_bundle "$BUN"
mv "$BUN/rootfs" "$WORK/A"
make_rootfs "$WORK/B"
for r in A B; do
    echo "$r" >"$WORK/$r/which"
    cat >"$WORK/$r/check.sh" <<'EOF'
proc=no; [ -e /proc/self/status ] && proc=yes
null=no; [ -c /dev/null ] && null=yes
fw=$(ls /sys/firmware 2>/dev/null | wc -l)
echo "CHECK root=$(cat /which) proc=$proc null=$null firmware_entries=$fw"
EOF
done
mount --bind "$WORK/B" "$WORK/B"
ln -s "$WORK/A" "$BUN/rootfs"
set_args "$BUN" sh /check.sh

# The swapper: atomic renames of a fresh symlink over bundle/rootfs, as fast as it can.
if command -v python3 >/dev/null; then
    python3 -c '
import os, sys
link, a, b = sys.argv[1:4]
tmp = link + ".tmp"
while True:
    for t in (b, a):
        try:
            os.symlink(t, tmp)
        except FileExistsError:
            os.unlink(tmp); os.symlink(t, tmp)
        os.rename(tmp, link)
' "$BUN/rootfs" "$WORK/A" "$WORK/B" &
else
    while :; do
        ln -sfn "$WORK/B" "$BUN/rootfs.tmp" && mv -T "$BUN/rootfs.tmp" "$BUN/rootfs"
        ln -sfn "$WORK/A" "$BUN/rootfs.tmp" && mv -T "$BUN/rootfs.tmp" "$BUN/rootfs"
    done &
fi
SWAPPER=$!
track_pid $SWAPPER

ran=0 failed=0 unprepared= refusal=
for i in $(seq 1 20); do
    ID=$ID_PREFIX-$i
    RT_TIMEOUT=10 rt run --bundle "$BUN" "$ID" >"$WORK/out-$i" 2>&1 </dev/null
    rt delete --force "$ID" >/dev/null 2>&1
    if grep -q '^CHECK' "$WORK/out-$i"; then
        ran=$((ran + 1))
        line=$(grep -m1 '^CHECK' "$WORK/out-$i")
        log "try $i: $line"
        case $line in
        *proc=no* | *null=no* | *firmware_entries=[1-9]*) unprepared="try $i: ${line#CHECK }"; break ;;
        esac
    else
        failed=$((failed + 1))
        log "try $i failed: $(oneline "$WORK/out-$i" 2)"
        [ -n "$refusal" ] || refusal=$(oneline "$WORK/out-$i" 1)
    fi
done
kill "$SWAPPER" 2>/dev/null
wait "$SWAPPER" 2>/dev/null
[ -n "$unprepared" ] && finish escaped "the container entered a root the runtime had not prepared ($unprepared)"
if [ "$ran" = 0 ]; then
    # Every try failed: is that a refusal of the symlinked root.path?
    rm "$BUN/rootfs"
    ln -s "$WORK/A" "$BUN/rootfs"
    RT_TIMEOUT=10 rt run --bundle "$BUN" "$ID_PREFIX-still" >"$WORK/out-still" 2>&1 </dev/null
    rt delete --force "$ID_PREFIX-still" >/dev/null 2>&1
    if grep -q '^CHECK' "$WORK/out-still"; then
        finish error "all 20 tries failed during the swaps, but a still symlink works: $refusal"
    fi
    if grep -qiE 'symlink|root|rootfs' "$WORK/out-still"; then
        finish blocked "a symlinked root.path is refused: $(oneline "$WORK/out-still" 1)"
    fi
    finish error "no try ran: $refusal"
fi
finish blocked "$ran of 20 tries ran, each in a fully prepared root; $failed failed${refusal:+ (e.g. $refusal)}"
