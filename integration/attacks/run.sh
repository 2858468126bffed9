#!/bin/bash
# Run the container-escape attacks of integration/attacks/ against one runtime.
#
#   integration/attacks/run.sh --runtime PATH [--only NAME[,NAME...]] [--timeout SECONDS]
#                              [--logs DIR] [--expect-all-blocked] [--no-unshare]
#
# One line per attack: `blocked NAME: ...`, `ESCAPED NAME: ...`, `error NAME: ...` (the setup
# failed, which says nothing either way) or `skipped NAME: ...`; then `N passed, M failed`
# (passed = blocked; failed = ESCAPED or error; skipped count as neither). The exit status is
# non-zero when anything escaped or errored (--expect-all-blocked is the default and only mode).
#
# Each attack runs as `bash ATTACK.sh` with RUNTIME, WORK (a fresh temp dir), ROOT (a --root
# inside WORK), ATTACK and RESULT_FILE in its environment, bounded by `timeout`. Its output is
# kept in the logs directory (default: a temp dir, printed at the end).
#
# crun refuses this host's hybrid cgroup layout (v1 + a non-empty cgroup2 at
# /sys/fs/cgroup/unified), so for a runtime named crun the whole run is re-executed in a private
# mount namespace without the unified mount (the host keeps it). --no-unshare disables this.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
RUNTIME= ONLY= TIMEOUT=60 LOGS= UNSHARE=1
ARGS=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    --runtime) RUNTIME=$2; shift 2 ;;
    --runtime=*) RUNTIME=${1#*=}; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --only=*) ONLY=${1#*=}; shift ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --logs) LOGS=$2; shift 2 ;;
    --expect-all-blocked) shift ;;
    --no-unshare) UNSHARE=0; shift ;;
    -h | --help) sed -n '2,20p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[ -n "$RUNTIME" ] || { echo "run.sh: --runtime PATH is required" >&2; exit 2; }
RUNTIME=$(command -v "$RUNTIME") && RUNTIME=$(readlink -f "$RUNTIME") ||
    { echo "run.sh: runtime not found" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root" >&2; exit 2; }
for t in jq timeout unshare findmnt base64 sha256sum; do
    command -v "$t" >/dev/null || { echo "run.sh: $t is required" >&2; exit 2; }
done

if [ "$UNSHARE" = 1 ] && [ -z "${ATK_IN_UNSHARE:-}" ] && [ "$(basename "$RUNTIME")" = crun ] &&
    [ "$(findmnt -n -o FSTYPE /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2 ] &&
    [ "$(findmnt -n -o FSTYPE /sys/fs/cgroup)" != cgroup2 ]; then
    echo "# crun: running in a private mount namespace without /sys/fs/cgroup/unified" >&2
    exec env ATK_IN_UNSHARE=1 unshare -m --propagation private \
        sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$SELF" "${ARGS[@]}"
fi

[ -n "$LOGS" ] || LOGS=$(mktemp -d /tmp/atk-logs.XXXXXX)
mkdir -p "$LOGS"

ATTACKS=()
for f in "$HERE"/*.sh; do
    n=$(basename "$f" .sh)
    case $n in lib | run) continue ;; esac
    if [ -n "$ONLY" ]; then
        case ",$ONLY," in *",$n,"*) ;; *) continue ;; esac
    fi
    ATTACKS+=("$n")
done
[ ${#ATTACKS[@]} -gt 0 ] || { echo "run.sh: no attack matches ${ONLY:-anything}" >&2; exit 2; }

echo "# runtime: $RUNTIME ($("$RUNTIME" --version 2>/dev/null | head -n1))"
passed=0 failed=0 skipped=0
for n in "${ATTACKS[@]}"; do
    work=$(mktemp -d "/tmp/atk-$n.XXXXXX")
    result="$LOGS/$n.result"
    : >"$result"
    start=$(date +%s.%N)
    timeout -k 10 "$TIMEOUT" env RUNTIME="$RUNTIME" WORK="$work" ROOT="$work/root" ATTACK="$n" \
        RESULT_FILE="$result" bash "$HERE/$n.sh" >"$LOGS/$n.log" 2>&1 </dev/null
    rc=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
    # The attack's own EXIT trap cleans up; this is the fallback when it was killed.
    if [ -d "$work" ]; then
        for d in "$work"/root/*/; do
            [ -d "$d" ] && timeout -k 2 15 "$RUNTIME" --root "$work/root" delete --force \
                "$(basename "$d")" >/dev/null 2>&1
        done
        for _ in 1 2 3; do
            mps=$(awk -v d="$work" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r)
            [ -z "$mps" ] && break
            for m in $mps; do umount -l "$m" 2>/dev/null; done
        done
        rm -rf --one-file-system "$work"
    fi
    kind= msg=
    if [ -s "$result" ]; then
        IFS=$'\t' read -r kind msg <"$result"
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        kind=error msg="timed out after ${TIMEOUT}s"
    else
        kind=error msg="no verdict (exit status $rc); see $LOGS/$n.log"
    fi
    case $kind in
    blocked) passed=$((passed + 1)); echo "blocked $n: $msg" ;;
    escaped) failed=$((failed + 1)); echo "ESCAPED $n: $msg" ;;
    skipped) skipped=$((skipped + 1)); echo "skipped $n: $msg" ;;
    *) failed=$((failed + 1)); echo "error $n: $msg" ;;
    esac
    # In CI the logs directory is gone with the machine: show what a failing attack printed.
    if [ "${CI:-}" = true ] && [ "$kind" != blocked ] && [ "$kind" != skipped ]; then
        tail -n 40 "$LOGS/$n.log" | sed "s/^/    $n| /"
    fi
    echo "$n ${secs:-?}s" >>"$LOGS/times"
done
echo "# logs: $LOGS"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
