#!/bin/bash
# Runtime-agnostic checks of an OCI runtime's systemd cgroup driver (`--systemd-cgroup`), on a
# host whose pid 1 is systemd (scripts/systemd-vm.sh runs them in a QEMU guest). Needs root,
# systemctl, jq, and ps (procps: `runc ps` runs it).
#
# Usage: checks.sh [--mode v2|v1] [--rootfs DIR] [--runs N] [--runc-failures-ignored]
#                  [NAME=]RUNTIME...
#   RUNTIME: the runtime binary; NAME (default: its basename) labels its results.
#   --rootfs: a busybox rootfs for the containers (read-only is fine).
#   --runs: how many `run /bin/true` per cgroup driver for the timing (default 20).
#   --runc-failures-ignored: the failures of a runtime named runc do not count in the exit status.
# Each check prints `PASS <runtime> <name>` or `FAIL <runtime> <name>: <why>`; INFO lines record
# what the runtime left in the cgroup files and in the unit's properties. A summary table ends.
# Exit status: 1 if any (counted) check failed, 0 otherwise.
set -u
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

mode=v2
rootfs=
runs=20
ignore_runc=${RRUN_VM_RUNC_FAILURES_IGNORED:-0}
rts=()
while [ $# -gt 0 ]; do
  case $1 in
    --mode) mode=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --runc-failures-ignored) ignore_runc=1; shift ;;
    -*) echo "checks.sh: unknown option $1" >&2; exit 2 ;;
    *) rts+=("$1"); shift ;;
  esac
done
[ ${#rts[@]} -gt 0 ] || { echo "usage: checks.sh [--mode v2|v1] [--rootfs DIR] [NAME=]RUNTIME..." >&2; exit 2; }
[ -n "$rootfs" ] && [ -x "$rootfs/bin/sh" ] || { echo "checks.sh: --rootfs DIR with a busybox in bin/" >&2; exit 2; }
rootfs=$(cd "$rootfs" && pwd)
CG=/sys/fs/cgroup

work=$(mktemp -d /run/rrun-systemd-checks.XXXXXX)
results=$work/results # lines: runtime<TAB>check<TAB>PASS|FAIL
: > "$results"
declare -a order=() # check names, in order of first appearance

# --- reporting ---------------------------------------------------------------------------------
note_check() {
  local c
  for c in "${order[@]}"; do [ "$c" = "$1" ] && return; done
  order+=("$1")
}
pass() { note_check "$1"; printf '%s\t%s\tPASS\n' "$RTN" "$1" >> "$results"; echo "PASS $RTN $1"; }
fail() { note_check "$1"; printf '%s\t%s\tFAIL\n' "$RTN" "$1" >> "$results"; echo "FAIL $RTN $1: $2"; }
info() { echo "INFO $RTN $*"; }
# check NAME PROBLEMS: PASS if PROBLEMS is empty, else FAIL with them.
check() { if [ -z "$2" ]; then pass "$1"; else fail "$1" "$2"; fi; }

# --- the runtime -------------------------------------------------------------------------------
# rt [--sd] ARGS...: run the runtime with --root (and --systemd-cgroup); stdout to $work/out,
# stderr to $work/err, stdin from /dev/null, killed after $RT_TIMEOUT s. Returns its exit status.
RT_TIMEOUT=${RRUN_CHECKS_RT_TIMEOUT:-60}
rt() {
  local sd=()
  if [ "$1" = --sd ]; then sd=(--systemd-cgroup); shift; fi
  timeout -k 5 "$RT_TIMEOUT" "$RT" "${sd[@]}" --root "$ROOT" "$@" </dev/null >"$work/out" 2>"$work/err"
  local rc=$?
  [ "$rc" = 124 ] && echo "(checks.sh: killed after $RT_TIMEOUT s)" >> "$work/err"
  return "$rc"
}
errline() { tr '\n' ' ' < "$work/err" | cut -c1-300; }
state_status() { "$RT" --root "$ROOT" state "$1" 2>/dev/null | jq -r .status 2>/dev/null; }
state_pid() { "$RT" --root "$ROOT" state "$1" 2>/dev/null | jq -r .pid 2>/dev/null; }

# --- config.json -------------------------------------------------------------------------------
# mkbundle DIR CGROUPS_PATH ARGS_JSON RESOURCES(yes|no)
mkbundle() {
  mkdir -p "$1"
  rm -f "$1/config.json"
  jq -n --arg root "$rootfs" --arg cg "$2" --argjson args "$3" --arg res "$4" '
    ["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW",
     "CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE",
     "CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"] as $caps |
    ([{allow: false, access: "rwm"}] +
    ([[1,3],[1,5],[1,7],[1,8],[1,9],[5,0],[5,2]] | map({allow: true, type: "c", major: .[0], minor: .[1], access: "rwm"})) +
    [{allow: true, type: "c", major: 136, access: "rwm"}]) as $devices |
    {ociVersion: "1.0.2",
     process: {terminal: false, user: {uid: 0, gid: 0}, args: $args,
               env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"], cwd: "/",
               capabilities: {bounding: $caps, effective: $caps, permitted: $caps},
               rlimits: [{type: "RLIMIT_NOFILE", hard: 1024, soft: 1024}],
               noNewPrivileges: true},
     root: {path: $root, readonly: true},
     hostname: "sdcheck",
     mounts: [
       {destination: "/proc", type: "proc", source: "proc"},
       {destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid","strictatime","mode=755","size=65536k"]},
       {destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid","noexec","newinstance","ptmxmode=0666","mode=0620"]},
       {destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid","noexec","nodev","mode=1777","size=65536k"]},
       {destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid","noexec","nodev"]},
       {destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid","noexec","nodev","ro"]},
       {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid","nodev","mode=1777"]}],
     linux: ({cgroupsPath: $cg,
             resources: ({devices: $devices} +
               (if $res == "yes" then
                 {memory: {limit: 67108864, reservation: 33554432},
                  pids: {limit: 100},
                  cpu: {shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0"}}
                else {} end)),
             # No cgroup namespace, deliberately: /proc/self/cgroup of an exec then shows the
             # host path of the container cgroup (checked in exec-cgroup).
             namespaces: [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"}, {type: "network"}],
             maskedPaths: ["/proc/kcore","/proc/keys","/proc/timer_list","/sys/firmware"],
             readonlyPaths: ["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]})
    }' > "$1/config.json.tmp" && mv "$1/config.json.tmp" "$1/config.json"
}

# --- systemd names and cgroup files ------------------------------------------------------------
# expand_slice a-b-c.slice -> /a.slice/a-b.slice/a-b-c.slice (systemd's and runc's ExpandSlice).
expand_slice() {
  local s=${1%.slice} path="" acc="" part
  [ "$s" = "-" ] && { echo ""; return; }
  local IFS=-
  for part in $s; do
    acc=${acc:+$acc-}$part
    path="$path/$acc.slice"
  done
  echo "$path"
}
unit_prop() { systemctl show "$1" -p "$2" --value 2>/dev/null; }
unit_load_state() { systemctl show "$1" -p LoadState --value 2>/dev/null; }
# The cgroup file that holds a v2 setting ($1: the container's cgroup relative to the root).
# In v1 mode, the equivalent file of the v1 controller (values converted by cgv below).
cgfile() {
  local rel=$1 f=$2
  if [ "$mode" = v2 ]; then echo "$CG$rel/$f"; return; fi
  case $f in
    memory.max) echo "$CG/memory$rel/memory.limit_in_bytes" ;;
    memory.low) echo "$CG/memory$rel/memory.soft_limit_in_bytes" ;;
    pids.max) echo "$CG/pids$rel/pids.max" ;;
    cpu.weight) echo "$CG/cpu,cpuacct$rel/cpu.shares" ;;
    cpu.max) echo "$CG/cpu,cpuacct$rel/cpu.cfs_quota_us" ;;
    cpuset.cpus) echo "$CG/cpuset$rel/cpuset.cpus" ;;
    cpuset.mems) echo "$CG/cpuset$rel/cpuset.mems" ;;
    cgroup.procs) echo "$CG/systemd$rel/cgroup.procs" ;;
    *) echo "$CG/unified$rel/$f" ;;
  esac
}
cgdir() { if [ "$mode" = v2 ]; then echo "$CG$1"; else echo "$CG/systemd$1"; fi; }
# The expected value of a v2 file in v1 terms.
v1val() {
  case $1=$2 in
    cpu.weight=20) echo 512 ;;
    "cpu.max=50000 100000") echo 50000 ;;
    *) echo "$2" ;;
  esac
}
# expect_files REL "file=value" ...: the problems, if any.
expect_files() {
  local rel=$1 kv f want got probs=""; shift
  for kv in "$@"; do
    f=${kv%%=*}; want=${kv#*=}
    [ "$mode" = v1 ] && want=$(v1val "$f" "$want")
    got=$(cat "$(cgfile "$rel" "$f")" 2>&1)
    [ "$got" = "$want" ] || probs="$probs $f=$got (want $want);"
  done
  echo "$probs"
}
# expect_props UNIT "Prop=value" ...
expect_props() {
  local unit=$1 kv p want got probs=""; shift
  for kv in "$@"; do
    p=${kv%%=*}; want=${kv#*=}
    got=$(unit_prop "$unit" "$p")
    [ "$got" = "$want" ] || probs="$probs $p=$got (want $want);"
  done
  echo "$probs"
}
show_files() {
  local rel=$1 f out=""; shift
  for f in "$@"; do out="$out $f=$(cat "$(cgfile "$rel" "$f")" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"; done
  echo "$out"
}
# Wait until a command succeeds (up to $1 tenths of a second).
wait_for() {
  local n=$1; shift
  while [ "$n" -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
  "$@"
}
unit_gone() {
  local ls
  ls=$(unit_load_state "$1")
  [ "$ls" = not-found ] || [ -z "$ls" ] || [ "$(unit_prop "$1" ActiveState)" = inactive ]
}
dir_gone() { [ ! -e "$1" ]; }

PROPS_V2=(MemoryMax MemoryLow TasksMax CPUWeight CPUQuotaPerSecUSec AllowedCPUs AllowedMemoryNodes Delegate)
PROPS_V1=(MemoryLimit TasksMax CPUShares CPUQuotaPerSecUSec AllowedCPUs AllowedMemoryNodes Delegate)
PROPS_INFO=(Slice Description CPUQuotaPeriodUSec MemorySwapMax MemoryHigh MemoryMin StartupCPUWeight
            IOWeight DevicePolicy DeviceAllow DefaultDependencies CollectMode TimeoutStopUSec
            FreezerState ControlGroup)

# --- one cgroupsPath style ---------------------------------------------------------------------
# style_checks STYLE SLICE PREFIX
style_checks() {
  local style=$1 slice=$2 prefix=$3
  local id=sd-$style-$RTN-$$ probs pid rel unit dir b=$work/bundle-$style-$RTN
  unit=$prefix-$id.scope
  rel=$(expand_slice "$slice")/$unit
  dir=$(cgdir "$rel")
  mkbundle "$b" "$slice:$prefix:$id" '["sleep","3600"]' yes

  # 1. create with resources
  rt --sd create --bundle "$b" "$id"
  local rc=$?
  if [ "$rc" != 0 ]; then
    fail "$style/create" "exit $rc: $(errline)"
    local c
    for c in scope-active cgroup-path init-in-cgroup cgroup-files unit-properties start update-files \
             update-properties update-keeps-others pause resume exec-cgroup events-stats ps delete-cleans; do
      fail "$style/$c" "no container (create failed)"
    done
    rt --sd delete --force "$id"; systemctl stop "$unit" 2>/dev/null; systemctl reset-failed "$unit" 2>/dev/null
    return
  fi
  pass "$style/create"
  pid=$(state_pid "$id")
  info "$style: container $id, init pid $pid, unit $unit, cgroup $rel"
  probs=""
  [ "$(systemctl is-active "$unit" 2>&1)" = active ] || probs="systemctl is-active $unit: $(systemctl is-active "$unit" 2>&1)"
  check "$style/scope-active" "$probs"
  probs=""
  [ -d "$dir" ] || probs="no directory $dir;"
  local cgunit
  cgunit=$(unit_prop "$unit" ControlGroup)
  [ "$cgunit" = "$rel" ] || probs="$probs systemctl show -p ControlGroup: '$cgunit' (want $rel);"
  check "$style/cgroup-path" "$probs"
  probs=""
  if [ "$mode" = v2 ]; then
    grep -qx "0::$rel" "/proc/$pid/cgroup" 2>/dev/null || probs="/proc/$pid/cgroup: $(tr '\n' ' ' < "/proc/$pid/cgroup" 2>&1);"
  else
    # Every hierarchy the init is not at the root of (misc, unused) must place it in the scope.
    local line
    while IFS= read -r line; do
      case $line in *:/) continue ;; esac
      [ "${line#*:*:}" = "$rel" ] || probs="$probs /proc/$pid/cgroup has $line;"
    done < "/proc/$pid/cgroup"
    grep -q ":name=systemd:$rel\$" "/proc/$pid/cgroup" || probs="$probs not in name=systemd:$rel;"
  fi
  grep -qx "$pid" "$(cgfile "$rel" cgroup.procs)" 2>/dev/null || probs="$probs pid $pid not in $(cgfile "$rel" cgroup.procs): $(tr '\n' ' ' < "$(cgfile "$rel" cgroup.procs)" 2>&1);"
  check "$style/init-in-cgroup" "$probs"
  info "$style: cgroup files after create:$(show_files "$rel" memory.max memory.low memory.swap.max pids.max cpu.weight cpu.max cpuset.cpus cpuset.mems)"
  info "$style: systemctl show after create: $(systemctl show "$unit" "${PROPS_V2[@]/#/-p}" "${PROPS_V1[@]/#/-p}" "${PROPS_INFO[@]/#/-p}" | sort -u | tr '\n' ' ')"
  check "$style/cgroup-files" "$(expect_files "$rel" memory.max=67108864 memory.low=33554432 pids.max=100 \
    cpu.weight=20 'cpu.max=50000 100000' cpuset.cpus=0 cpuset.mems=0)"
  if [ "$mode" = v2 ]; then
    probs=$(expect_props "$unit" MemoryMax=67108864 MemoryLow=33554432 TasksMax=100 CPUWeight=20 \
      CPUQuotaPerSecUSec=500ms AllowedCPUs=0 AllowedMemoryNodes=0 Delegate=yes)
  else
    probs=$(expect_props "$unit" MemoryLimit=67108864 TasksMax=100 CPUShares=512 \
      CPUQuotaPerSecUSec=500ms Delegate=yes)
  fi
  check "$style/unit-properties" "$probs"

  # 2. start
  probs=""
  rt start "$id" || probs="start: exit $?: $(errline);"
  [ "$(state_status "$id")" = running ] || probs="$probs state: $(state_status "$id");"
  check "$style/start" "$probs"

  # 3. update
  probs=""
  rt --sd update --memory 128m --pids-limit 50 "$id" || probs="update: exit $?: $(errline);"
  probs="$probs$(expect_files "$rel" memory.max=134217728 pids.max=50)"
  check "$style/update-files" "$probs"
  info "$style: cgroup files after update:$(show_files "$rel" memory.max memory.low memory.swap.max pids.max cpu.weight cpu.max cpuset.cpus cpuset.mems)"
  info "$style: systemctl show after update: $(systemctl show "$unit" "${PROPS_V2[@]/#/-p}" "${PROPS_V1[@]/#/-p}" | sort -u | tr '\n' ' ')"
  if [ "$mode" = v2 ]; then
    check "$style/update-properties" "$(expect_props "$unit" MemoryMax=134217728 TasksMax=50)"
  else
    check "$style/update-properties" "$(expect_props "$unit" MemoryLimit=134217728 TasksMax=50)"
  fi
  check "$style/update-keeps-others" "$(expect_files "$rel" memory.low=33554432 cpu.weight=20 \
    'cpu.max=50000 100000' cpuset.cpus=0 cpuset.mems=0)"

  # 4. pause / resume
  probs=""
  rt --sd pause "$id" || probs="pause: exit $?: $(errline);"
  if [ "$mode" = v2 ]; then
    [ "$(cat "$dir/cgroup.freeze" 2>&1)" = 1 ] || probs="$probs cgroup.freeze=$(cat "$dir/cgroup.freeze" 2>&1);"
    grep -qx 'frozen 1' "$dir/cgroup.events" 2>/dev/null || probs="$probs cgroup.events: $(tr '\n' ' ' < "$dir/cgroup.events" 2>&1);"
  else
    local fs
    fs=$(cat "$CG/freezer$rel/freezer.state" 2>&1)
    [ "$fs" = FROZEN ] || probs="$probs freezer.state=$fs;"
  fi
  [ "$(state_status "$id")" = paused ] || probs="$probs state: $(state_status "$id");"
  info "$style: while paused: systemctl show -p FreezerState: $(unit_prop "$unit" FreezerState)"
  check "$style/pause" "$probs"
  probs=""
  rt --sd resume "$id" || probs="resume: exit $?: $(errline);"
  if [ "$mode" = v2 ]; then
    grep -qx 'frozen 0' "$dir/cgroup.events" 2>/dev/null || probs="$probs cgroup.events: $(tr '\n' ' ' < "$dir/cgroup.events" 2>&1);"
  else
    fs=$(cat "$CG/freezer$rel/freezer.state" 2>&1)
    [ "$fs" = THAWED ] || probs="$probs freezer.state=$fs;"
  fi
  [ "$(state_status "$id")" = running ] || probs="$probs state: $(state_status "$id");"
  check "$style/resume" "$probs"

  # 5. exec: the process joins the container's cgroup (no cgroup namespace: the host path shows)
  probs=""
  if rt --sd exec "$id" cat /proc/self/cgroup; then
    if [ "$mode" = v2 ]; then
      grep -qx "0::$rel" "$work/out" || probs="exec's /proc/self/cgroup: $(tr '\n' ' ' < "$work/out")"
    else
      grep -qx "[0-9]*:memory:$rel" "$work/out" || probs="exec's /proc/self/cgroup (memory): $(grep :memory: "$work/out")"
    fi
  else
    probs="exec: exit $?: $(errline)"
  fi
  check "$style/exec-cgroup" "$probs"

  # 6. events --stats
  probs=""
  if rt --sd events --stats "$id"; then
    if jq -e '(.data.memory.usage.usage | type == "number" and . > 0) and (.data.pids.current | type == "number" and . >= 1)' "$work/out" >/dev/null 2>&1; then
      info "$style: events --stats: $(jq -c '{memory_usage: .data.memory.usage.usage, memory_limit: .data.memory.usage.limit, pids: .data.pids}' "$work/out")"
    else
      probs="no memory usage / pids current in: $(head -c 300 "$work/out")"
    fi
  else
    probs="events --stats: exit $?: $(errline)"
  fi
  check "$style/events-stats" "$probs"

  # 7. ps
  probs=""
  if rt --sd ps "$id"; then
    if ! awk -v p="$pid" 'NR > 1 && $2 == p { f = 1 } END { exit !f }' "$work/out"; then
      probs="init pid $pid not listed: $(tr '\n' '|' < "$work/out")"
      [ "$mode" = v1 ] && info "$style: ps listed nothing; the init's devices cgroup: $(grep :devices: "/proc/$pid/cgroup"); $CG/devices$rel/cgroup.procs: $(tr '\n' ' ' < "$CG/devices$rel/cgroup.procs" 2>&1)"
    fi
  else
    probs="ps: exit $?: $(errline)"
  fi
  check "$style/ps" "$probs"

  # 8. kill + delete: the scope and its cgroup are gone, nothing of this container under the slice
  probs=""
  rt --sd kill "$id" KILL || probs="kill: exit $?: $(errline);"
  wait_for 50 test "$(state_status "$id")" = stopped || probs="$probs state after kill: $(state_status "$id");"
  rt --sd delete "$id" || probs="$probs delete: exit $?: $(errline);"
  wait_for 50 unit_gone "$unit" || probs="$probs unit $unit: LoadState=$(unit_load_state "$unit") ActiveState=$(unit_prop "$unit" ActiveState);"
  wait_for 50 dir_gone "$dir" || probs="$probs $dir still there;"
  local left
  left=$(find "$CG" -name "*$id*" 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] || probs="$probs left in $CG: $left;"
  left=$(systemctl list-units --all --no-legend --plain 2>/dev/null | grep -F "$id" | tr '\n' ' ')
  [ -z "$left" ] || probs="$probs units left: $left;"
  "$RT" --root "$ROOT" state "$id" >/dev/null 2>&1 && probs="$probs state still answers;"
  check "$style/delete-cleans" "$probs"
  info "$style: after delete: slice $slice ActiveState=$(unit_prop "$slice" ActiveState), children of $(cgdir "$(expand_slice "$slice")"): $(cd "$(cgdir "$(expand_slice "$slice")")" 2>/dev/null && find . -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
  rt --sd delete --force "$id"
}

# 9. run /bin/true in the foreground (run_true STYLE SLICE PREFIX)
run_true() {
  local style=$1 slice=$2 prefix=$3 probs
  local b=$work/bundle-$style-$RTN
  local rid=sd-$style-run-$RTN-$$ runit rdir
  runit=$prefix-$rid.scope
  rdir=$(cgdir "$(expand_slice "$slice")/$runit")
  mkbundle "$b-run" "$slice:$prefix:$rid" '["/bin/true"]' no
  probs=""
  rt --sd run --bundle "$b-run" "$rid" || probs="run: exit $?: $(errline);"
  wait_for 50 unit_gone "$runit" || probs="$probs unit $runit: LoadState=$(unit_load_state "$runit") ActiveState=$(unit_prop "$runit" ActiveState);"
  wait_for 50 dir_gone "$rdir" || probs="$probs $rdir still there;"
  "$RT" --root "$ROOT" state "$rid" >/dev/null 2>&1 && probs="$probs state still answers;"
  check "$style/run-true" "$probs"
  rt --sd delete --force "$rid"
}

# 10. a malformed systemd cgroupsPath
error_check() {
  local id=sd-bad-$RTN-$$ b=$work/bundle-bad-$RTN probs="" before after ROOT=$work/root-bad-$RTN
  mkdir -p "$ROOT"
  mkbundle "$b" foo '["sleep","3600"]' yes
  before=$(systemctl list-units --all --no-legend --plain 2>/dev/null | awk '{print $1}' | sort)
  local cgbefore cgafter
  cgbefore=$(find "$CG" -type d 2>/dev/null | sort)
  rt --sd create --bundle "$b" "$id"
  local rc=$?
  if [ "$rc" = 0 ]; then
    probs="create succeeded;"
  elif ! grep -qiE 'foo|cgroupsPath|cgroups path|slice' "$work/err"; then
    probs="the error does not name the problem: $(errline);"
  fi
  info "bad-cgroups-path: exit status $rc, message: $(errline)"
  sleep 0.5
  after=$(systemctl list-units --all --no-legend --plain 2>/dev/null | awk '{print $1}' | sort)
  cgafter=$(find "$CG" -type d 2>/dev/null | sort)
  local newu newc
  newu=$(comm -13 <(echo "$before") <(echo "$after") | tr '\n' ' ')
  newc=$(comm -13 <(echo "$cgbefore") <(echo "$cgafter") | tr '\n' ' ')
  [ -z "$newu" ] || probs="$probs new units: $newu;"
  [ -z "$newc" ] || probs="$probs new cgroups: $newc;"
  "$RT" --root "$ROOT" state "$id" >/dev/null 2>&1 && probs="$probs state answers for $id;"
  [ -z "$(ls -A "$ROOT" 2>/dev/null)" ] || probs="$probs left in --root: $(ls -A "$ROOT" | tr '\n' ' ');"
  check "bad-cgroups-path" "$probs"
  rt --sd delete --force "$id"
}

# Median of the numbers on stdin.
median() { sort -n | awk '{a[NR] = $1} END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# The timing: `run /bin/true`, $runs times per driver.
bench() {
  local drv sd cgp i id t0 t1 ok times med b
  for drv in cgroupfs systemd; do
    b=$work/bundle-bench-$drv-$RTN
    ok=0; times=$work/times-$drv-$RTN; : > "$times"
    for i in $(seq 1 "$runs"); do
      id=bench-$drv-$RTN-$$-$i
      if [ $drv = systemd ]; then sd=--sd; cgp=system.slice:rrunbench:$id; else sd=""; cgp=/rrunbench/$id; fi
      mkbundle "$b" "$cgp" '["/bin/true"]' no
      t0=$(date +%s%N)
      if rt $sd run --bundle "$b" "$id"; then
        t1=$(date +%s%N); ok=$((ok + 1)); echo $(( (t1 - t0) / 1000000 )) >> "$times"
      else
        info "run-x$runs-$drv: run $i failed, the timing of $drv stops here: $(errline)"
        rt $sd delete --force "$id"
        break
      fi
    done
    med=$(median < "$times")
    echo "$RTN $drv $med $ok" >> "$work/bench"
    info "run /bin/true with $drv: median ${med} ms over $ok successful runs of $runs (all: $(tr '\n' ' ' < "$times"))"
    if [ "$ok" = "$runs" ]; then pass "run-x$runs-$drv"; else fail "run-x$runs-$drv" "run $((ok + 1)) of $runs failed (the timing stopped there)"; fi
  done
  rmdir "$CG/rrunbench" 2>/dev/null || true
}

: > "$work/bench"
echo "checks: mode $mode ($(stat -fc %T $CG) at $CG), systemd $(systemctl --version | awk 'NR == 1 {print $2}'), rootfs $rootfs, runtimes: ${rts[*]}"
for spec in "${rts[@]}"; do
  case $spec in
    *=*) RTN=${spec%%=*}; RT=${spec#*=} ;;
    *) RT=$spec; RTN=$(basename "$spec") ;;
  esac
  ROOT=$work/root-$RTN
  mkdir -p "$ROOT"
  echo "=== $RTN: $RT ($("$RT" --version 2>&1 | head -1))"
  style_checks docker system.slice docker
  run_true docker system.slice docker
  style_checks kubepods kubepods-besteffort-pod0f1c2d3e_4b5a_6789_abcd_ef0123456789.slice cri-containerd
  run_true kubepods kubepods-besteffort-pod0f1c2d3e_4b5a_6789_abcd_ef0123456789.slice cri-containerd
  error_check
  bench
done

# --- summary -----------------------------------------------------------------------------------
echo
echo "=== summary"
{
  printf 'check'; for spec in "${rts[@]}"; do n=${spec%%=*}; [ "$n" = "$spec" ] && n=$(basename "$spec"); printf '\t%s' "$n"; done; echo
  for c in "${order[@]}"; do
    printf '%s' "$c"
    for spec in "${rts[@]}"; do
      n=${spec%%=*}; [ "$n" = "$spec" ] && n=$(basename "$spec")
      r=$(awk -F'\t' -v n="$n" -v c="$c" '$1 == n && $2 == c { r = $3 } END { print r ? r : "-" }' "$results")
      printf '\t%s' "$r"
    done
    echo
  done
} | awk -F'\t' '{ printf "%-34s", $1; for (i = 2; i <= NF; i++) printf " %-6s", $i; printf "\n" }'
echo
echo "run /bin/true, median ms (successful runs of $runs):"
awk '{ printf "  %-6s %-9s %6s ms (%s ok)\n", $1, $2, $3, $4 }' "$work/bench"
status=0
for spec in "${rts[@]}"; do
  n=${spec%%=*}; [ "$n" = "$spec" ] && n=$(basename "$spec")
  p=$(awk -F'\t' -v n="$n" '$1 == n && $3 == "PASS"' "$results" | wc -l)
  f=$(awk -F'\t' -v n="$n" '$1 == n && $3 == "FAIL"' "$results" | wc -l)
  counted=yes
  [ "$n" = runc ] && [ "$ignore_runc" = 1 ] && counted="no (--runc-failures-ignored)"
  echo "$n: $p passed, $f failed; counted: $counted"
  [ "$f" -gt 0 ] && [ "$counted" = yes ] && status=1
done
rm -rf "$work"
exit $status
