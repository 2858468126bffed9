#!/bin/bash
# The cgroup paths saved in the state file are trusted by `ps`, `kill --all` and
# `delete --force`. The adversary here can edit the state file (state.json in --root) and
# points the container's saved cgroup paths at another cgroup: a sibling victim cgroup
# (<hierarchy>/atk-...-victim) and, second variant, <container's cgroup>/../atk-...-victim.
# The victim is a `sleep` started by this test in a cgroup it creates for the purpose in every
# hierarchy (never the hierarchy root: SIGKILL to every process of a root would hit the whole
# machine). The runtime must refuse such paths, or at least only ever act on the container's
# own processes.
# Escaped = `ps` listed the victim, or `kill --all ID KILL` / `delete --force` killed it.
# Only for runtimes that keep runc's state.json with "cgroup_paths" (runc, rrun): others skip.
. "$(dirname "$0")/lib.sh"

[ "$RT_NAME" = crun ] && finish skipped "crun keeps no cgroup paths in a state.json that this test could edit"

VICTIM_CG="$CG_PREFIX-victim"
# Every mounted cgroup hierarchy: v1 controllers and named ones, cgroup2.
HIER=$(awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo | sort -u)
[ -n "$HIER" ] || finish error "no cgroup hierarchy mounted"
VPID=
# start_victim: (re)create the victim cgroups where missing and start a victim in them.
start_victim() {
    local h
    for h in $HIER; do
        [ -d "$h$VICTIM_CG" ] && continue
        mkdir "$h$VICTIM_CG" || finish error "cannot create $h$VICTIM_CG"
        if [ -e "$h$VICTIM_CG/cpuset.cpus" ]; then
            cat "$h/cpuset.cpus" >"$h$VICTIM_CG/cpuset.cpus"
            cat "$h/cpuset.mems" >"$h$VICTIM_CG/cpuset.mems"
        fi
    done
    sleep 1000 &
    VPID=$!
    track_pid "$VPID"
    for h in $HIER; do
        echo "$VPID" >"$h$VICTIM_CG/cgroup.procs" || finish error "cannot move the victim into $h$VICTIM_CG"
    done
}
victim_alive() {
    local s
    s=$(ps -o stat= -p "$VPID" 2>/dev/null)
    [ -n "$s" ] && [ "${s#Z}" = "$s" ]
}
start_victim

B=$WORK/bundle
make_bundle "$B"
run_variant() { # NAME JQ-FILTER-ON-A-PATH
    local name=$1 filter=$2 id=$ID_PREFIX-$1 st step pids
    rt create --bundle "$B" "$id" >"$WORK/out-$name" 2>&1 </dev/null ||
        finish error "create failed: $(oneline "$WORK/out-$name")"
    rt start "$id" >>"$WORK/out-$name" 2>&1 || finish error "start failed: $(oneline "$WORK/out-$name")"
    st=$ROOT/$id/state.json
    [ -f "$st" ] && jq -e '.cgroup_paths | type == "object" and length > 0' "$st" >/dev/null ||
        finish skipped "$RT_NAME keeps no cgroup_paths in $st"
    cp "$st" "$WORK/state-$name.orig"
    jq --arg own "$CG_PREFIX-c" --arg victim "$VICTIM_CG" ".cgroup_paths |= map_values($filter)" \
        "$WORK/state-$name.orig" >"$st" || finish error "cannot edit $st"
    log "$name: cgroup_paths now $(jq -c .cgroup_paths "$st")"

    pids=$(rt ps --format json "$id" 2>"$WORK/ps-$name.err")
    log "$name: ps: ${pids:-$(oneline "$WORK/ps-$name.err" 1)}"
    if jq -e --argjson v "$VPID" 'index($v) != null' <<<"${pids:-[]}" >/dev/null 2>&1; then
        ESC+=("$name: \`ps\` listed the victim")
    fi
    for step in "kill --all" "delete --force"; do
        if [ "$step" = "kill --all" ]; then
            rt kill --all "$id" KILL >"$WORK/step.out" 2>&1
        else
            rt delete --force "$id" >"$WORK/step.out" 2>&1
        fi
        log "$name: $step: exit $? $(oneline "$WORK/step.out" 1)"
        sleep 0.3
        if ! victim_alive; then
            ESC+=("$name: \`$step\` killed the victim")
        fi
        for h in $HIER; do
            [ -d "$h$VICTIM_CG" ] && continue
            ESC+=("$name: \`$step\` removed the victim's cgroup (${h##*/})")
            break
        done
        victim_alive || start_victim
    done
    # Whatever the runtime did, the container must go: its state back, then delete.
    if [ -d "$ROOT/$id" ]; then
        cp "$WORK/state-$name.orig" "$ROOT/$id/state.json"
        rt delete --force "$id" >/dev/null 2>&1
    fi
}
ESC=()
run_variant sibling 'sub("/\($own | ltrimstr("/"))$"; $victim)'
run_variant dotdot 'sub("/\($own | ltrimstr("/"))$"; "\($own)/..\($victim)")'
[ ${#ESC[@]} -gt 0 ] && finish escaped "$(printf '%s; ' "${ESC[@]}" | cut -c1-600)"
finish blocked "the victim survived ps, kill --all and delete --force with cgroup paths pointing at it (sibling and <own>/..)"
