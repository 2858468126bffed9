#!/bin/sh
# Benchmark rrun against runc and crun on two static-busybox bundles running
# /bin/true (the `runc spec` config, and the config Docker really sends), and
# write bench/RESULTS.md.  `make bench` runs this.
#
#   bench/run.sh [--rrun PATH] [--runs N] [--out FILE]
#
# RRUN (env or --rrun) defaults to target/release/rrun under the repository
# root, else /work/main/target/release/rrun. A runtime binary that is missing is
# skipped with a note. Measures, with hyperfine (apt: hyperfine):
#   run (create+start+wait+delete), create, start, delete, run and create with
#   Docker's config, exec of /bin/true into a running container, 100
#   sequential runs, 100 parallel runs; peak RSS of run/create/start/delete with /usr/bin/time -v
#   (apt: time); system calls of one run of each bundle and of one exec
#   (strace -f -c, apt: strace); binary sizes. Ratios rrun/runc and rrun/crun come from the
#   same hyperfine invocation (all runtimes measured side by side).
# On a hybrid cgroup host whose cgroup2 mount holds controllers, crun refuses
# to run at all, so the whole comparison (every runtime alike) runs in a
# private mount namespace with /sys/fs/cgroup/unified unmounted.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
rrun=${RRUN:-}
runs=${BENCH_RUNS:-50}
out=$here/RESULTS.md
while [ $# -gt 0 ]; do
    case $1 in
        --rrun) rrun=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: $0 [--rrun PATH] [--runs N] [--out FILE]" >&2; exit 2 ;;
    esac
done
if [ -z "$rrun" ]; then
    rrun=$repo/target/release/rrun
    [ -x "$rrun" ] || rrun=/work/main/target/release/rrun
fi
runc=${RUNC:-/usr/sbin/runc}
crun=${CRUN:-/usr/bin/crun}

for tool in hyperfine jq /usr/bin/time busybox; do
    command -v "$tool" >/dev/null || { echo "$0: $tool is required (apt-get install hyperfine jq time busybox-static)" >&2; exit 2; }
done

unified=/sys/fs/cgroup/unified
if [ -z "${BENCH_UNSHARED:-}" ] && [ -n "$(cat "$unified/cgroup.controllers" 2>/dev/null)" ]; then
    echo "note: hybrid cgroups with controllers on cgroup2 ($(cat $unified/cgroup.controllers)); crun refuses such a host even with --cgroup-manager=disabled," >&2
    echo "note: so every runtime is measured in a private mount namespace without $unified" >&2
    exec unshare -m --propagation private env BENCH_UNSHARED=1 RRUN="$rrun" BENCH_RUNS="$runs" \
        sh -c 'umount /sys/fs/cgroup/unified && exec "$0" --out "$1"' "$0" "$out"
fi
notes=
[ -n "${BENCH_UNSHARED:-}" ] && notes="All runtimes ran in a private mount namespace with /sys/fs/cgroup/unified unmounted (crun refuses hybrid cgroup hosts whose cgroup2 holds controllers, with every --cgroup-manager)."

work=$(mktemp -d /tmp/rrun-bench.XXXXXX)
cleanup() {
    for r in $names; do
        eval "bin=\$bin_$r"
        for id in $("$bin" --root "$work/root-$r" list -q 2>/dev/null); do
            "$bin" --root "$work/root-$r" delete --force "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work"
}
names=
trap cleanup EXIT INT TERM

for pair in "rrun=$rrun" "runc=$runc" "crun=$crun"; do
    r=${pair%%=*}
    bin=${pair#*=}
    if [ -x "$bin" ]; then
        names="$names $r"
        eval "bin_$r=\$bin"
        mkdir -p "$work/root-$r"
    else
        echo "note: $r not found at $bin; skipped" >&2
        notes="$notes $r was not found at \`$bin\` and was skipped."
    fi
done
[ -n "$names" ] || { echo "$0: no runtime to measure" >&2; exit 2; }
has() { case " $names " in *" $1 "*) return 0 ;; esac; return 1; }

# The bundle: static busybox, /bin/true, the config `runc spec` generates
# (else crun's, else rrun's: the oldest ociVersion, which every runtime
# accepts), no terminal.
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev"
cp "$(command -v busybox)" "$bundle/rootfs/bin/busybox"
for a in sh true sleep; do ln -s busybox "$bundle/rootfs/bin/$a"; done
for first in runc crun rrun; do has "$first" && break; done
eval "spec_bin=\$bin_$first"
(cd "$bundle" && "$spec_bin" spec)
jq '.process.terminal = false | .process.args = ["/bin/true"]' "$bundle/config.json" > "$bundle/config.tmp"
mv "$bundle/config.tmp" "$bundle/config.json"

# The second bundle: the config Docker 20.10 really sends (`docker run --rm bb echo hi`,
# captured in integration fixtures: 14 capabilities, Docker's seccomp profile, masked and
# read-only paths, device rules, sysctls, /docker/<id> cgroup, resolv.conf/hostname/hosts
# binds), adapted to run here: root.path is the busybox rootfs, the bind sources are files of
# the bundle, the prestart hook (libnetwork-setkey, docker's own binary) becomes /bin/true (the hook round trip stays), args are
# /bin/true, the cgroup is /rrun-bench/docker (every runtime in turn, never at once).
docker_json=${DOCKER_CONFIG_JSON:-$repo/../shared/fixtures/engines/docker-run.json}
[ -f "$docker_json" ] || docker_json=/work/shared/fixtures/engines/docker-run.json
dbundle=
if [ -f "$docker_json" ]; then
    dbundle=$work/docker
    mkdir -p "$dbundle" "$bundle/rootfs/etc"
    echo "nameserver 127.0.0.1" > "$dbundle/resolv.conf"
    echo "bench" > "$dbundle/hostname"
    printf '127.0.0.1\tlocalhost\n' > "$dbundle/hosts"
    for f in resolv.conf hostname hosts; do : > "$bundle/rootfs/etc/$f"; done
    jq --arg root "$bundle/rootfs" --arg d "$dbundle" '
        .root = {path: $root}
        | .process.args = ["/bin/true"]
        | .hooks = {prestart: [{path: "/bin/true", args: ["true"]}]}
        | .linux.cgroupsPath = "/rrun-bench/docker"
        | .mounts |= map(if .type == "bind" then .source = ($d + "/" + (.destination | split("/") | last)) else . end)
    ' "$docker_json" > "$dbundle/config.json"
else
    notes="$notes No Docker config at \`$docker_json\`: the Docker bundle was skipped."
fi

# A long-running container per runtime for `exec`.
sleeper=$work/sleeper
mkdir -p "$sleeper"
jq --arg root "$bundle/rootfs" '.root.path = $root | .process.args = ["sleep", "1000000"]' "$bundle/config.json" > "$sleeper/config.json"

# Sanity: each runtime runs the bundle once.
for r in $names; do
    eval "bin=\$bin_$r"
    if ! "$bin" --root "$work/root-$r" run --bundle "$bundle" "sanity-$r" >"$work/sanity-$r.log" 2>&1; then
        echo "$0: $r cannot run the bundle:" >&2
        cat "$work/sanity-$r.log" >&2
        exit 1
    fi
    if [ -n "$dbundle" ] && ! "$bin" --root "$work/root-$r" run --bundle "$dbundle" "sanity-d-$r" >"$work/sanity-$r.log" 2>&1; then
        echo "$0: $r cannot run the Docker bundle:" >&2
        cat "$work/sanity-$r.log" >&2
        exit 1
    fi
    "$bin" --root "$work/root-$r" run --detach --bundle "$sleeper" "s-$r" </dev/null >/dev/null 2>&1 || {
        echo "$0: $r cannot start the exec container" >&2; exit 1; }
done

R() { eval "echo \"\$bin_$1 --root $work/root-$1\""; }

# hyperfine over all runtimes at once: $1 = name, $2 = command template,
# $3 = prepare template (or ''), $4 = runs. @R@ is the runtime invocation,
# @ID@ a per-runtime container id, @B@ the bundle. Commands run without a
# shell (-N); templates needing one are wrapped in sh -c '...'. A failing
# run does not abort the benchmark (-i); failures are counted in RESULTS.md.
bench() {
    name=$1 cmd=$2 prep=$3 nruns=$4
    set -- hyperfine -N -i --style basic --export-json "$work/$name.json" --warmup 2 --runs "$nruns"
    for r in $names; do
        rr=$(R "$r")
        c=$(echo "$cmd" | sed "s|@R@|$rr|g; s|@ID@|b-$r|g; s|@B@|$bundle|g; s|@N@|$r|g")
        if [ -n "$prep" ]; then
            p=$(echo "$prep" | sed "s|@R@|$rr|g; s|@ID@|b-$r|g; s|@B@|$bundle|g")
            set -- "$@" --prepare "sh -c '$p'"
        fi
        set -- "$@" --command-name "$r" "$c"
    done
    echo "== $name" >&2
    "$@" >&2
}

start_s=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
bench run '@R@ run --bundle @B@ @ID@' '@R@ delete --force @ID@ >/dev/null 2>&1; true' "$runs"
bench create '@R@ create --bundle @B@ @ID@' '@R@ delete --force @ID@ >/dev/null 2>&1; true' "$runs"
bench start '@R@ start @ID@' \
    '@R@ delete --force @ID@ >/dev/null 2>&1; @R@ create --bundle @B@ @ID@ || true' "$runs"
bench delete '@R@ delete @ID@' \
    '@R@ delete --force @ID@ >/dev/null 2>&1; @R@ create --bundle @B@ @ID@ && @R@ start @ID@ && while ! @R@ state @ID@ | grep stopped >/dev/null; do :; done || true' "$runs"
if [ -n "$dbundle" ]; then
    bench run_docker "@R@ run --bundle $dbundle @ID@-d" '@R@ delete --force @ID@-d >/dev/null 2>&1; true' "$runs"
    bench create_docker "@R@ create --bundle $dbundle @ID@-d" '@R@ delete --force @ID@-d >/dev/null 2>&1; true' "$runs"
    for r in $names; do
        "$(R "$r" | cut -d' ' -f1)" --root "$work/root-$r" delete --force "b-$r-d" >/dev/null 2>&1 || true
    done
fi
bench exec '@R@ exec s-@N@ /bin/true' '' "$runs"
bench seq100 "sh -c 'fail=0; for i in \$(seq 100); do @R@ run --bundle @B@ @ID@-\$i || { fail=1; @R@ delete --force @ID@-\$i; }; done; exit \$fail'" '' 3
# 100 at once; a run that fails is counted (par100-fails-RUNTIME) and makes the whole
# invocation fail, which hyperfine records too.
bench par100 "sh -c 'pids=; for i in \$(seq 100); do @R@ run --bundle @B@ @ID@-p\$i & pids=\"\$pids \$!\"; done; fail=0; for p in \$pids; do wait \$p || fail=\$((fail+1)); done; if [ \$fail != 0 ]; then echo \$fail >> $work/par100-fails-@N@; for i in \$(seq 100); do @R@ delete --force @ID@-p\$i 2>/dev/null; done; exit 1; fi'" '' 3
for r in $names; do
    "$(R "$r" | cut -d' ' -f1)" --root "$work/root-$r" delete --force "b-$r" >/dev/null 2>&1 || true
done

# Peak RSS (kB), median of 5, of each phase. /usr/bin/time writes to a file
# (-o): a created container inherits the runtime's stdio, so a pipe would
# stay open until the container exits.
peak() { # $1 runtime, $2 phase, then the command
    r=$1 p=$2; shift 2
    /usr/bin/time -v -o "$work/time.out" "$@" >/dev/null 2>&1 || true
    awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.out" >> "$work/rss-$p-$r"
}
median() { sort -n "$1" | sed -n 3p; }
for r in $names; do
    eval "bin=\$bin_$r"
    root=$work/root-$r
    id=rss-$r
    for i in 1 2 3 4 5; do
        peak "$r" run "$bin" --root "$root" run --bundle "$bundle" "$id"
        "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
        peak "$r" create "$bin" --root "$root" create --bundle "$bundle" "$id"
        peak "$r" start "$bin" --root "$root" start "$id"
        while ! "$bin" --root "$root" state "$id" 2>/dev/null | grep stopped >/dev/null; do :; done
        peak "$r" delete "$bin" --root "$root" delete "$id"
        "$bin" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
    done
    for p in run create start delete; do
        eval "rss_${p}_$r=$(median "$work/rss-$p-$r")"
    done
    eval "size_$r=$(stat -L -c %s "$bin")"
    eval "version_$r=\"\$(\"\$bin\" --version 2>/dev/null | head -1)\""
done
# System calls of one `run` (strace -f -c, median of 3): unlike a time, a
# count that a noisy machine does not blur. Skipped without strace.
if command -v strace >/dev/null; then
    for r in $names; do
        eval "bin=\$bin_$r"
        for i in 1 2 3; do
            strace -f -c -o "$work/strace.out" "$bin" --root "$work/root-$r" run --bundle "$bundle" "strace-$r" >/dev/null 2>&1 || true
            awk '$NF == "total" {print $4}' "$work/strace.out"
            "$bin" --root "$work/root-$r" delete --force "strace-$r" >/dev/null 2>&1 || true
        done | sort -n | sed -n 2p > "$work/syscalls-$r"
        eval "syscalls_$r=$(cat "$work/syscalls-$r")"
        if [ -n "$dbundle" ]; then
            for i in 1 2 3; do
                strace -f -c -o "$work/strace.out" "$bin" --root "$work/root-$r" run --bundle "$dbundle" "strace-d-$r" >/dev/null 2>&1 || true
                awk '$NF == "total" {print $4}' "$work/strace.out"
                "$bin" --root "$work/root-$r" delete --force "strace-d-$r" >/dev/null 2>&1 || true
            done | sort -n | sed -n 2p > "$work/syscalls-d-$r"
            eval "syscallsd_$r=$(cat "$work/syscalls-d-$r")"
        fi
        for i in 1 2 3; do
            strace -f -c -o "$work/strace.out" "$bin" --root "$work/root-$r" exec "s-$r" /bin/true >/dev/null 2>&1 || true
            awk '$NF == "total" {print $4}' "$work/strace.out"
        done | sort -n | sed -n 2p > "$work/syscalls-e-$r"
        eval "syscallse_$r=$(cat "$work/syscalls-e-$r")"
    done
else
    notes="$notes strace is not installed: no syscall counts."
fi
elapsed=$(( $(date +%s) - start_s ))
benches="run create start delete"
[ -n "$dbundle" ] && benches="$benches run_docker create_docker"
benches="$benches exec seq100 par100"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- RESULTS.md -------------------------------------------------------------
ms() { # $1 benchmark, $2 runtime, $3 field (median|mean) -> milliseconds
    jq -r --arg r "$2" --arg f "$3" '.results[] | select(.command == $r) | .[$f] * 1000 | . * 100 | round / 100' "$work/$1.json"
}
ratio() { # a b -> a/b with 2 decimals, or "-" if missing
    if [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ]; then echo "$1 $2" | awk '{printf "%.2f", $1/$2}'; else echo "-"; fi
}
cell() { has "$2" && ms "$1" "$2" median || echo ""; }

{
    echo "# rrun benchmarks"
    echo
    echo "Generated by \`bench/run.sh\` (\`make bench\`) on $(date -u '+%Y-%m-%d %H:%M UTC') in ${elapsed}s."
    echo
    echo "- Machine: $(uname -sr), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "- Load average (1/5/15 min) at start: $load_start; at end: $load_end. Times on a loaded machine vary from run to run; ratios come from the same hyperfine invocation, and syscall counts do not depend on load."
    echo "- hyperfine: $(hyperfine --version); $runs runs per phase (warmup 2), 3 runs of 100 sequential, 3 runs of 100 parallel"
    for r in $names; do eval "echo \"- $r: \$version_$r (\\\`\$bin_$r\\\`)\""; done
    echo "- Bundle: static busybox rootfs, config from \`$first spec\`, args \`/bin/true\`, terminal off; each runtime has its own --root."
    [ -n "$dbundle" ] && echo "- Docker bundle: the same rootfs with the config Docker 20.10 sends for \`docker run --rm\` (\`$docker_json\`: 14 capabilities, Docker's seccomp profile, masked/read-only paths, device rules, sysctls, resolv.conf/hostname/hosts binds), root path and bind sources made local, its prestart hook (docker's own binary) replaced by \`/bin/true\`, args \`/bin/true\`, cgroup \`/rrun-bench/docker\`."
    echo "- \`exec\`: \`exec ID /bin/true\` into a running \`sleep\` container of the first bundle."
    [ -n "$notes" ] && echo "- Notes: $notes"
    echo
    echo "## Time (median, ms; mean in parentheses)"
    echo
    printf '| phase |'; for r in $names; do printf ' %s |' "$r"; done; echo ' rrun/runc | rrun/crun |'
    printf '|---|'; for r in $names; do printf -- '---|'; done; echo '---|---|'
    for b in $benches; do
        case $b in
            run) label='`run` /bin/true (create+start+wait+delete)' ;;
            run_docker) label='`run`, Docker config' ;;
            create_docker) label='`create`, Docker config' ;;
            seq100) label='100 sequential `run`' ;;
            par100) label='100 parallel `run` (wall time)' ;;
            *) label="\`$b\`" ;;
        esac
        printf '| %s |' "$label"
        for r in $names; do printf ' %s (%s) |' "$(ms $b $r median)" "$(ms $b $r mean)"; done
        printf ' %s | %s |\n' "$(ratio "$(cell $b rrun)" "$(cell $b runc)")" "$(ratio "$(cell $b rrun)" "$(cell $b crun)")"
    done
    echo
    echo "Runs that exited non-zero (hyperfine -i keeps going; a failing runtime's times are not comparable):"
    echo
    for b in $benches; do
        jq -r --arg b "$b" '.results[] | select(([.exit_codes[] | select(. != 0)] | length) > 0) |
            "- \($b): \(.command) failed \([.exit_codes[] | select(. != 0)] | length) of \(.exit_codes | length) runs"' "$work/$b.json"
    done | { out=$(cat); if [ -n "$out" ]; then echo "$out"; else echo "- none"; fi; }
    echo
    printf 'Failed `run`s within the 100 parallel (all invocations, warmup included):'
    for r in $names; do printf ' %s %s;' "$r" "$(cat "$work/par100-fails-$r" 2>/dev/null | awk '{s+=$1} END {print s+0}')"; done
    echo
    echo
    echo "## Peak RSS (kB, median of 5, \`/usr/bin/time -v\`), system calls and binary size"
    echo
    printf '| |'; for r in $names; do printf ' %s |' "$r"; done; echo ' rrun/runc | rrun/crun |'
    printf '|---|'; for r in $names; do printf -- '---|'; done; echo '---|---|'
    for p in run create start delete; do
        printf '| RSS of `%s` |' "$p"
        for r in $names; do eval "printf ' %s |' \"\$rss_${p}_$r\""; done
        a=; b=; c=
        has rrun && eval "a=\$rss_${p}_rrun"; has runc && eval "b=\$rss_${p}_runc"; has crun && eval "c=\$rss_${p}_crun"
        printf ' %s | %s |\n' "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
    done
    if command -v strace >/dev/null; then
        printf '| syscalls of `run` (strace -f -c, median of 3) |'
        for r in $names; do eval "printf ' %s |' \"\$syscalls_$r\""; done
        a=; b=; c=
        has rrun && a=$syscalls_rrun; has runc && b=$syscalls_runc; has crun && c=$syscalls_crun
        printf ' %s | %s |\n' "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
        for k in d e; do
            [ $k = d ] && [ -z "$dbundle" ] && continue
            if [ $k = d ]; then printf '| syscalls of `run`, Docker config |'; else printf '| syscalls of `exec` /bin/true |'; fi
            for r in $names; do eval "printf ' %s |' \"\$syscalls${k}_$r\""; done
            a=; b=; c=
            has rrun && eval "a=\$syscalls${k}_rrun"; has runc && eval "b=\$syscalls${k}_runc"; has crun && eval "c=\$syscalls${k}_crun"
            printf ' %s | %s |\n' "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
        done
    fi
    printf '| binary size (bytes) |'
    for r in $names; do eval "printf ' %s |' \"\$size_$r\""; done
    a=; b=; c=
    has rrun && a=$size_rrun; has runc && b=$size_runc; has crun && c=$size_crun
    printf ' %s | %s |\n' "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
    echo
    echo "## Goals (issue 21)"
    echo
    if has rrun && has runc && has crun; then
        verdict() { echo "$1" | awk -v g="$2" '{print ($1 <= g) ? "met" : "not met"}'; }
        for b in run run_docker; do
            [ $b = run_docker ] && [ -z "$dbundle" ] && continue
            rc=$(ratio "$(cell $b rrun)" "$(cell $b crun)"); rr=$(ratio "$(cell $b rrun)" "$(cell $b runc)")
            if [ $b = run ]; then what='`run`, runc spec bundle'; else what='`run`, Docker config'; fi
            echo "- $what median: rrun/crun = $rc (goal <= 0.7: $(verdict "$rc" 0.7)), rrun/runc = $rr (goal <= 0.3: $(verdict "$rr" 0.3))."
        done
        if command -v strace >/dev/null; then
            echo "- syscalls of one \`run\` (runc spec bundle): $syscalls_rrun (goal < 500: $(echo "$syscalls_rrun" | awk '{print ($1 < 500) ? "met" : "not met"}'))."
        fi
        for p in run create; do
            eval "a=\$rss_${p}_rrun c=\$rss_${p}_crun"
            echo "- peak RSS of \`$p\`: rrun $a kB, crun $c kB (goal: below crun's: $(echo "$a $c" | awk '{print ($1 < $2) ? "met" : "not met"}'))."
        done
        echo "- binary size: $size_rrun bytes (goal < 3 MB = 3145728: $(echo "$size_rrun" | awk '{print ($1 < 3145728) ? "met" : "not met"}'))."
        f=$(cat "$work/par100-fails-rrun" 2>/dev/null | awk '{s+=$1} END {print s+0}')
        echo "- 100 parallel \`run\`: $f failed (goal 0: $([ "$f" = 0 ] && echo met || echo "not met")); wall time rrun/crun = $(ratio "$(cell par100 rrun)" "$(cell par100 crun)")."
        echo "- \`exec\` /bin/true median: rrun $(cell exec rrun) ms, runc $(cell exec runc) ms, crun $(cell exec crun) ms."
    else
        echo "Not evaluated: needs rrun, runc and crun in the same run."
    fi
} > "$out"
echo "wrote $out (${elapsed}s)" >&2
