# containerd 1.6 flows through ctr and the runc-v2 shim (`--runc-binary $RT_PATH`). Image:
# docker.io/library/bb:latest (busybox), imported by run.sh.

IMG=docker.io/library/bb:latest
c_run() { ctr run --runc-binary "$RT_PATH" "$@"; }
c_gone() { # id
    ctr task kill -s KILL "$1" >/dev/null 2>&1
    ctr task delete -f "$1" >/dev/null 2>&1
    ctr container delete "$1" >/dev/null 2>&1 || true
}

flow containerd_run_rm
flow_containerd_run_rm() { c_run --rm "$IMG" "$RT-rm" sh -c 'echo hello-ctr; id'; }

flow containerd_exit_code
flow_containerd_exit_code() {
    c_run --rm "$IMG" "$RT-exit" sh -c 'exit 7'
    echo "exit=$?"
}

flow containerd_run_t
flow_containerd_run_t() {
    script -qec "ctr run --rm -t --runc-binary $RT_PATH $IMG $RT-tty tty" /dev/null |
        tr -d '\r\0' | sed 's/\^@//g' | sed 's/[0-9]*$/N/'
}

flow containerd_task_lifecycle
flow_containerd_task_lifecycle() {
    local c=$RT-life
    c_gone "$c"
    c_run -d --memory-limit 67108864 "$IMG" "$c" sleep 1000 >/dev/null
    ctr task exec --exec-id e1 "$c" sh -c 'echo exec-ok; grep :memory: /proc/self/cgroup'
    cat "/sys/fs/cgroup/memory/rrun-it/$c/memory.limit_in_bytes"
    ctr task exec --exec-id e2 "$c" sh -c 'exit 4'
    echo "exec exit=$?"
    ctr task pause "$c" && ctr task ls | awk -v c="$c" '$1 == c {print "paused:", $3}'
    ctr task resume "$c" && ctr task ls | awk -v c="$c" '$1 == c {print "resumed:", $3}'
    ctr task ps "$c" | awk 'NR > 1 {n++} END {print "processes:", n}'
    ctr task kill -s KILL "$c"
    for _ in $(seq 50); do
        ctr task ls | awk -v c="$c" '$1 == c {print $3}' | grep -q STOPPED && break
        sleep 0.1
    done
    ctr task ls | awk -v c="$c" '$1 == c {print "killed:", $3}'
    c_gone "$c"
}

flow containerd_error_missing_binary
flow_containerd_error_missing_binary() {
    local msg
    msg=$(c_run --rm "$IMG" "$RT-missing" /no/such/binary 2>&1)
    echo "exit=$?"
    echo "$msg" >"$W/out/msg.containerd_error_missing_binary.$RT"
    c_gone "$RT-missing"
    grep -q '/no/such/binary' <<<"$msg" && echo "names the binary: yes" || echo "names the binary: no"
    grep -qi 'no such file or directory' <<<"$msg" && echo "says no such file: yes" || echo "says no such file: no"
}

flow containerd_error_memory_too_small
flow_containerd_error_memory_too_small() {
    # 64 KiB: too small for any runtime's init (a limit given in KiB where bytes were meant).
    local msg
    msg=$(c_run --rm --memory-limit 65536 "$IMG" "$RT-oom" true 2>&1)
    echo "exit=$?"
    echo "$msg" >"$W/out/msg.containerd_error_memory_too_small.$RT"
    c_gone "$RT-oom"
    grep -qi 'memory limit' <<<"$msg" && echo "names the memory limit: yes" || echo "names the memory limit: no"
}
