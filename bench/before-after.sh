#!/bin/sh
# Two builds of rrun side by side (and crun, as the yardstick), in one hyperfine invocation per
# measure, so that what a change costs is seen without the machine's load between runs:
#
#   bench/before-after.sh --old PATH --new PATH [--runs N] [--out FILE]
#
# Measures `run` of /bin/true (create+start+wait+delete), `exec` of /bin/true into a running
# container, and the syscalls of one run and one exec (strace -f -c). Writes a Markdown table
# (default bench/BEFORE-AFTER.md). Used for issue 15's cost of re-executing from the sealed
# binary. On the hybrid-cgroup host crun needs /sys/fs/cgroup/unified unmounted: everything runs
# in a private mount namespace, as bench/run.sh does.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
old= new= runs=100 out=$here/BEFORE-AFTER.md
while [ $# -gt 0 ]; do
    case $1 in
        --old) old=$2; shift 2 ;;
        --new) new=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 --old PATH --new PATH [--runs N] [--out FILE]" >&2; exit 2 ;;
    esac
done
old=$(realpath "$old") new=$(realpath "$new")
[ -x "$old" ] && [ -x "$new" ] || { echo "$0: --old and --new must be rrun binaries" >&2; exit 2; }
crun=${CRUN:-/usr/bin/crun}
for tool in hyperfine jq busybox; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required" >&2; exit 2; }
done
if [ -z "${BENCH_UNSHARED:-}" ] && [ -n "$(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null)" ]; then
    exec unshare -m --propagation private env BENCH_UNSHARED=1 \
        sh -c 'umount /sys/fs/cgroup/unified && exec "$0" --old "$1" --new "$2" --runs "$3" --out "$4"' \
        "$0" "$old" "$new" "$runs" "$out"
fi
work=$(mktemp -d /tmp/rrun-ba.XXXXXX)
# "bound": the new binary on a read-only bind mount (private to this mount namespace), where it
# is protected already and so does not re-execute itself: new minus bound is what the
# re-execution from the sealed binary costs.
touch "$work/rrun-bound"
mount --bind "$new" "$work/rrun-bound"
mount -o remount,bind,ro "$work/rrun-bound"
names="old new bound"
[ -x "$crun" ] && names="$names crun"
bin() { case $1 in old) echo "$old" ;; new) echo "$new" ;; bound) echo "$work/rrun-bound" ;; crun) echo "$crun" ;; esac; }
cleanup() {
    for n in $names; do
        for id in $("$(bin "$n")" --root "$work/root-$n" list -q 2>/dev/null); do
            "$(bin "$n")" --root "$work/root-$n" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    umount "$work/rrun-bound" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
b=$work/bundle
mkdir -p "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/sys" "$b/rootfs/dev"
cp "$(command -v busybox)" "$b/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$b/rootfs/bin/$a"; done
spec_bin=$new; for s in /usr/sbin/runc "$crun"; do [ -x "$s" ] && { spec_bin=$s; break; }; done
(cd "$b" && "$spec_bin" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$b/config.json" > "$b/c" && mv "$b/c" "$b/config.json"
cp -r "$b" "$work/sleeper"
jq '.process.args = ["sleep", "100000"]' "$b/config.json" > "$work/sleeper/config.json"
for n in $names; do
    mkdir -p "$work/root-$n"
    "$(bin "$n")" --root "$work/root-$n" run --detach --bundle "$work/sleeper" "s-$n" </dev/null >/dev/null
done
hf() {
    name=$1 cmd=$2 prep=$3
    set -- hyperfine -N -i --style basic --export-json "$work/$name.json" --warmup 3 --runs "$runs"
    for n in $names; do
        r="$(bin "$n") --root $work/root-$n"
        set -- "$@" --command-name "$n" "$(echo "$cmd" | sed "s|@R@|$r|g; s|@ID@|$n|g")"
        [ -n "$prep" ] && set -- "$@" --prepare "sh -c '$(echo "$prep" | sed "s|@R@|$r|g; s|@ID@|$n|g")'"
    done
    "$@" >&2
}
hf run "@R@ run --bundle $b r-@ID@" "@R@ delete --force r-@ID@ >/dev/null 2>&1; true"
hf exec "@R@ exec s-@ID@ /bin/true" ""
med() { jq -r ".results[] | select(.command==\"$2\") | .median * 1000" "$work/$1.json"; }
calls() {
    command -v strace >/dev/null || { echo "-"; return; }
    strace -f -c -o "$work/st" "$@" >/dev/null 2>&1 || true
    tail -1 "$work/st" | awk '{print $(NF-2)}'
}
{
    echo "# Before and after, one run ($(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "old: \`$old\`, new: \`$new\`, $runs runs each, hyperfine medians (ms), all in one invocation per row."
    echo
    echo "bound: the new binary from a read-only bind mount, so it does not re-execute itself (new - bound = the cost of the re-execution)."
    echo
    echo "| | old | new | new/old | bound | new/bound | crun |"
    echo "|---|---|---|---|---|---|---|"
    for m in run exec; do
        o=$(med $m old) n=$(med $m new) bd=$(med $m bound) c=$(med $m crun 2>/dev/null || echo -)
        printf '| %s | %.2f | %.2f | %.3f | %.2f | %.3f | %s |\n' "$m" "$o" "$n" "$(echo "$n / $o" | bc -l)" \
            "$bd" "$(echo "$n / $bd" | bc -l)" "$(printf '%.2f' "${c:-0}")"
    done
    so=$(calls "$old" --root "$work/root-old" run --bundle "$b" st-old)
    sn=$(calls "$new" --root "$work/root-new" run --bundle "$b" st-new)
    eo=$(calls "$old" --root "$work/root-old" exec s-old /bin/true)
    en=$(calls "$new" --root "$work/root-new" exec s-new /bin/true)
    echo "| syscalls of one run (strace -f -c) | $so | $sn | | | | |"
    echo "| syscalls of one exec | $eo | $en | | | | |"
} > "$out"
cat "$out"
