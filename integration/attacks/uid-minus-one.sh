#!/bin/bash
# process.user.uid 4294967295 (and, second variant, gid 4294967295 with uid 1000): that
# number is (uid_t)-1, which setresuid/setresgid read as "leave unchanged", so a runtime that
# passes it through leaves the process with the ids it had: root.
# Escaped = the container process runs with uid 0 (variant 1) or gid 0 (variant 2).
# Blocked = refused with a message about the user/uid/gid, or the process runs with other ids.
. "$(dirname "$0")/lib.sh"

B=$WORK/bundle
make_bundle "$B"
set_args "$B" sh -c 'echo "IDS uid=$(id -u) gid=$(id -g) groups=$(id -G)"'
ESC=() OK=()
for v in "uid 4294967295 0" "gid 1000 4294967295"; do
    set -- $v
    name=$1 uid=$2 gid=$3
    cfg "$B" --argjson u "$uid" --argjson g "$gid" '.process.user = {uid: $u, gid: $g}'
    rt run --bundle "$B" "$ID_PREFIX-$name" >"$WORK/out-$name" 2>&1 </dev/null
    rt delete --force "$ID_PREFIX-$name" >/dev/null 2>&1
    log "user {uid: $uid, gid: $gid}: $(oneline "$WORK/out-$name" 2)"
    line=$(grep -m1 '^IDS' "$WORK/out-$name")
    if [ -n "$line" ]; then
        case $name in
        uid) [[ $line == *" uid=0 "* ]] && ESC+=("uid 4294967295 ran as uid 0 (${line#IDS })") || OK+=("uid: ${line#IDS }") ;;
        gid) [[ $line == *" gid=0 "* ]] && ESC+=("gid 4294967295 ran with gid 0 (${line#IDS })") || OK+=("gid: ${line#IDS }") ;;
        esac
    elif grep -qiE 'uid|gid|user|4294967295|range|invalid' "$WORK/out-$name"; then
        OK+=("$name: refused: $(oneline "$WORK/out-$name" 1)")
    else
        finish error "$name variant failed for another reason: $(oneline "$WORK/out-$name" 2)"
    fi
done
[ ${#ESC[@]} -gt 0 ] && finish escaped "$(printf '%s; ' "${ESC[@]}")"
finish blocked "$(printf '%s; ' "${OK[@]}")"
