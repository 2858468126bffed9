# podman 4.3 flows (conmon calls the runtime; `--runtime $RT_PATH`). Images: bb, apps.

p_run() { podman run "$@"; }
p_gone() { podman rm -f "$@" >/dev/null 2>&1 || true; }

flow podman_run_rm
flow_podman_run_rm() { p_run --rm --network none bb sh -c 'echo hello-podman; id'; }

flow podman_exit_code
flow_podman_exit_code() {
    p_run --rm --network none bb sh -c 'exit 3'
    echo "exit=$?"
}

flow podman_detach_logs_exec
flow_podman_detach_logs_exec() {
    local c=$RT-dle
    p_gone "$c"
    p_run -d --name "$c" --network none bb sh -c 'echo started; exec sleep 1000' >/dev/null
    sleep 0.5
    podman logs "$c"
    podman exec "$c" sh -c 'echo in-exec $(id -u)'
    script -qec "podman exec -it $c sh -c 'tty; echo \$((6*7))'" /dev/null |
        tr -d '\r\0' | sed 's/\^@//g' | sed '/pts/s/[0-9]*$/N/' | grep -E 'pts|^4'
    podman exec "$c" sh -c 'exit 5'
    echo "exec exit=$?"
    podman stop -t 1 "$c" >/dev/null
    podman inspect -f 'stopped running={{.State.Running}}' "$c"
    podman start "$c" >/dev/null
    podman inspect -f 'started running={{.State.Running}}' "$c"
    podman pause "$c" >/dev/null && podman inspect -f 'status={{.State.Status}}' "$c"
    podman unpause "$c" >/dev/null && podman inspect -f 'status={{.State.Status}}' "$c"
    podman top "$c" args | awk 'NR > 1'
    podman kill -s KILL "$c" >/dev/null
    podman wait "$c"
    p_gone "$c"
}

flow podman_run_t
flow_podman_run_t() { p_run --rm -t --network none bb tty | tr -d '\r' | sed 's/[0-9]*$/N/'; }

flow podman_limits
flow_podman_limits() {
    p_run --rm --network none --memory 64m --pids-limit 10 --cap-drop ALL \
        --cap-add NET_BIND_SERVICE --security-opt no-new-privileges bb sh -c '
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
        grep -E "CapEff|NoNewPrivs" /proc/self/status'
}

flow podman_publish_httpd
flow_podman_publish_httpd() {
    local c=$RT-http port
    port=$(free_port)
    p_gone "$c"
    p_run -d --name "$c" -p "127.0.0.1:$port:80" bb sh -c \
        'mkdir /www && echo served-by-podman > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
    retry 20 curl -fsS "http://127.0.0.1:$port/" || return 1
    p_gone "$c"
}

flow podman_nginx
flow_podman_nginx() {
    local c=$RT-nginx port
    port=$(free_port)
    p_gone "$c"
    p_run -d --name "$c" -p "127.0.0.1:$port:80" apps nginx -g 'daemon off;' >/dev/null
    retry 20 curl -fsS "http://127.0.0.1:$port/" | grep -o '<title>.*</title>' || return 1
    p_gone "$c"
}

# Rootless: podman run by an unprivileged user (made by run.sh, with /etc/subuid ranges), its
# own storage, slirp4netns networking, the runtime given by path. Output must match runc's.
flow podman_rootless
flow_podman_rootless() {
    local c=rl-$RT
    rl_podman rm -f "$c" >/dev/null 2>&1
    rl_podman run --rm bb sh -c 'echo hello-rootless; id; cat /proc/self/uid_map' || return 1
    rl_podman run -d --name "$c" bb sh -c 'echo started; exec sleep 1000' >/dev/null || return 1
    sleep 0.5
    rl_podman logs "$c"
    rl_podman exec "$c" sh -c 'echo in-exec $(id -u); wc -l < /proc/self/uid_map'
    rl_podman top "$c" args | awk 'NR > 1'
    rl_podman stop -t 1 "$c" >/dev/null
    rl_podman inspect -f 'stopped running={{.State.Running}}' "$c"
    rl_podman rm "$c" >/dev/null
    echo "left=$(rl_podman ps -a --format '{{.Names}}' | grep -cx "$c")"
}
