# Docker 20.10 flows (dockerd on containerd, both private). Images: bb (busybox), apps (Debian
# bookworm minbase + nginx-light + mariadb-server, built with mmdebstrap by run.sh).
# Each flow: `--runtime $RT`, container names prefixed with $RT, removed at the end.

d_run() { docker run --runtime "$RT" "$@"; }
cleanup_names() { docker rm -f "$@" >/dev/null 2>&1 || true; }

flow docker_run_rm
flow_docker_run_rm() { d_run --rm --network none bb sh -c 'echo hello; id'; }

flow docker_exit_code
flow_docker_exit_code() {
    d_run --rm --network none bb sh -c 'exit 3'
    echo "exit=$?"
}

flow docker_detach_logs_exec
flow_docker_detach_logs_exec() {
    local c=$RT-dle
    cleanup_names "$c"
    d_run -d --name "$c" --network none bb sh -c 'echo started; exec sleep 1000' >/dev/null
    sleep 0.5
    docker logs "$c"
    docker exec "$c" sh -c 'echo in-exec $(id -u)'
    docker exec -t "$c" tty | tr -d '\r' | sed 's/[0-9]*$/N/'
    # exec -it through a real pty on the client side.
    script -qec "docker exec -it $c sh -c 'tty; echo \$((6*7))'" /dev/null |
        tr -d '\r\0' | sed 's/\^@//g' | sed '/pts/s/[0-9]*$/N/' | grep -E 'pts|^4'
    docker exec "$c" sh -c 'exit 5'
    echo "exec exit=$?"
    cleanup_names "$c"
}

flow docker_run_t
flow_docker_run_t() { d_run --rm -t --network none bb tty | tr -d '\r'; }

flow docker_stop_start_restart
flow_docker_stop_start_restart() {
    local c=$RT-ssr
    cleanup_names "$c"
    d_run -d --name "$c" --network none bb sleep 1000 >/dev/null
    docker stop -t 1 "$c" >/dev/null
    docker inspect -f 'stopped running={{.State.Running}} exit={{.State.ExitCode}}' "$c"
    docker start "$c" >/dev/null
    docker inspect -f 'started running={{.State.Running}}' "$c"
    docker restart -t 1 "$c" >/dev/null
    docker inspect -f 'restarted running={{.State.Running}}' "$c"
    cleanup_names "$c"
}

flow docker_pause_top_kill
flow_docker_pause_top_kill() {
    local c=$RT-ptk
    cleanup_names "$c"
    d_run -d --name "$c" --network none bb sleep 1000 >/dev/null
    docker pause "$c" >/dev/null
    docker inspect -f 'paused={{.State.Paused}} {{.State.Status}}' "$c"
    docker unpause "$c" >/dev/null
    docker inspect -f 'paused={{.State.Paused}} {{.State.Status}}' "$c"
    docker top "$c" | awk 'NR > 1 {print $NF, $(NF-1)}'
    docker kill -s KILL "$c" >/dev/null
    docker wait "$c"
    cleanup_names "$c"
}

flow docker_update_stats
flow_docker_update_stats() {
    local c=$RT-us
    cleanup_names "$c"
    d_run -d --name "$c" --network none --memory 64m bb sleep 1000 >/dev/null
    docker exec "$c" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    docker update --memory 128m --memory-swap 256m "$c" >/dev/null
    docker exec "$c" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' "$c" | sed 's/ [0-9.]*[KMG]*i*B / X /'
    cleanup_names "$c"
}

flow docker_publish_httpd
flow_docker_publish_httpd() {
    local c=$RT-http port
    port=$(free_port)
    cleanup_names "$c"
    d_run -d --name "$c" -p "127.0.0.1:$port:80" bb sh -c \
        'mkdir /www && echo served-by-busybox-httpd > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
    retry 20 curl -fsS "http://127.0.0.1:$port/" || return 1
    cleanup_names "$c"
}

flow docker_limits
flow_docker_limits() {
    d_run --rm --network none --memory 64m --pids-limit 10 --cpus 0.5 \
        --ulimit nofile=1024:2048 bb sh -c '
        cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
        cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us
        ulimit -n; ulimit -Hn'
}

flow docker_security_opts
flow_docker_security_opts() {
    d_run --rm --network none --read-only --tmpfs /t bb sh -c '
        touch /x 2>&1 | sed "s/^touch: //"; echo a > /t/f && cat /t/f'
    d_run --rm --network none --cap-drop ALL --cap-add NET_BIND_SERVICE bb grep CapEff /proc/self/status
    d_run --rm --network none --security-opt no-new-privileges bb grep NoNewPrivs /proc/self/status
    d_run --rm --network none bb grep -E 'NoNewPrivs|Seccomp:' /proc/self/status
}

flow docker_networks
flow_docker_networks() {
    d_run --rm --network none bb sh -c 'ls /sys/class/net'
    # Host network: the same interfaces as the host.
    local host container
    host=$(ls /sys/class/net | sort | tr '\n' ' ')
    container=$(d_run --rm --network host bb sh -c 'ls /sys/class/net' | sort | tr '\n' ' ')
    [ "$host" = "$container" ] && echo "host network: same interfaces as the host"
    # Two containers on a user network, by name.
    local n=$RT-net
    cleanup_names "$RT-web"
    docker network rm "$n" >/dev/null 2>&1
    docker network create "$n" >/dev/null
    d_run -d --name "$RT-web" --network "$n" bb sh -c \
        'mkdir /www && echo hello-over-user-net > /www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
    retry 20 d_run --rm --network "$n" bb wget -qO- "http://$RT-web/"
    cleanup_names "$RT-web"
    docker network rm "$n" >/dev/null
}

flow docker_restart_init
flow_docker_restart_init() {
    local c=$RT-ri
    cleanup_names "$c"
    d_run -d --name "$c" --network none --restart on-failure:2 bb sh -c 'exit 1' >/dev/null
    local i
    for i in $(seq 60); do
        [ "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' "$c")" = "2 false" ] && break
        sleep 0.5
    done
    docker inspect -f 'restarts={{.RestartCount}} running={{.State.Running}} exit={{.State.ExitCode}}' "$c"
    cleanup_names "$c"
    # --init: docker-init (tini) is pid 1 and runs the command.
    d_run --rm --network none --init bb ps -o pid,comm | awk '$1 == 1 {print "pid 1:", $2} $2 == "ps" {print "ps runs"}'
}

flow docker_cp_export
flow_docker_cp_export() {
    local c=$RT-cp
    cleanup_names "$c"
    d_run -d --name "$c" --network none bb sleep 1000 >/dev/null
    echo copied-in >"$W/cp-$RT.txt"
    docker cp "$W/cp-$RT.txt" "$c:/tmp/in.txt"
    docker exec "$c" cat /tmp/in.txt
    docker exec "$c" sh -c 'echo made-inside > /tmp/out.txt'
    docker cp "$c:/tmp/out.txt" "$W/cp-$RT.out"
    cat "$W/cp-$RT.out"
    docker export "$c" | tar -t | grep -xE 'bin/busybox|tmp/out.txt' | sort
    cleanup_names "$c"
}

flow docker_nginx
flow_docker_nginx() {
    local c=$RT-nginx port
    port=$(free_port)
    cleanup_names "$c"
    d_run -d --name "$c" -p "127.0.0.1:$port:80" apps nginx -g 'daemon off;' >/dev/null
    retry 20 curl -fsS "http://127.0.0.1:$port/" | grep -o '<title>.*</title>' || return 1
    docker exec "$c" sh -c 'nginx -t 2>&1 | tail -1'
    cleanup_names "$c"
}

flow docker_mariadb_volume
flow_docker_mariadb_volume() {
    local c=$RT-db v=$RT-dbdata
    cleanup_names "$c"
    docker volume rm "$v" >/dev/null 2>&1
    local start='[ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql >/dev/null 2>&1
        mkdir -p /run/mysqld && chown mysql /run/mysqld && exec mariadbd --user=mysql'
    d_run -d --name "$c" --network none -v "$v:/var/lib/mysql" apps sh -c "$start" >/dev/null
    retry 60 docker exec "$c" mariadb -e 'select 1' >/dev/null
    docker exec "$c" mariadb -e "create database shop; create table shop.t (v text);
        insert into shop.t values ('survives replacement');"
    cleanup_names "$c"
    # A new container on the same volume sees the data.
    d_run -d --name "$c" --network none -v "$v:/var/lib/mysql" apps sh -c "$start" >/dev/null
    retry 60 docker exec "$c" mariadb -e 'select 1' >/dev/null
    docker exec "$c" mariadb -N -e 'select v from shop.t' || return 1
    cleanup_names "$c"
    docker volume rm "$v" >/dev/null
}

# Errors a user sees: exit code, and whether the message names what is wrong (the texts
# themselves go to integration/README.md).
flow docker_error_missing_binary
flow_docker_error_missing_binary() {
    local msg
    msg=$(d_run --rm --network none bb /no/such/binary 2>&1)
    echo "exit=$?"
    echo "$msg" >"$W/out/msg.docker_error_missing_binary.$RT"
    grep -q '/no/such/binary' <<<"$msg" && echo "names the binary: yes" || echo "names the binary: no"
    grep -qi 'no such file or directory' <<<"$msg" && echo "says no such file: yes" || echo "says no such file: no"
}

flow docker_error_dir_onto_file
flow_docker_error_dir_onto_file() {
    local msg
    mkdir -p "$W/a-dir"
    msg=$(d_run --rm --network none -v "$W/a-dir:/etc/passwd" bb true 2>&1)
    echo "exit=$?"
    echo "$msg" >"$W/out/msg.docker_error_dir_onto_file.$RT"
    grep -q "$W/a-dir" <<<"$msg" && echo "names the host source: yes" || echo "names the host source: no"
    grep -qi 'mount' <<<"$msg" && echo "says mount: yes" || echo "says mount: no"
    grep -qi 'not a directory' <<<"$msg" && echo "says not a directory: yes" || echo "says not a directory: no"
}

flow docker_error_memory_too_small
flow_docker_error_memory_too_small() {
    # 6 MiB is docker's minimum; the program allocates past it.
    d_run --rm --network none --memory 6m --memory-swap 6m bb sh -c \
        'x=$(head -c 20000000 /dev/zero | tr "\0" a); echo ${#x}' >/dev/null 2>&1
    echo "exit=$?"
}

# 50 `docker run --rm` in a row and 10 at once: all succeed.
flow docker_many
flow_docker_many() {
    local i ok=0
    for i in $(seq 50); do
        d_run --rm --network none bb true && ok=$((ok + 1))
    done
    echo "sequential: $ok of 50"
    ok=0
    for i in $(seq 10); do
        (d_run --rm --network none bb true && echo ok) >"$W/par-$RT-$i" 2>&1 &
    done
    wait
    ok=$(cat "$W"/par-"$RT"-* | grep -cx ok)
    rm -f "$W"/par-"$RT"-*
    echo "parallel: $ok of 10"
    docker ps -aq --filter "label=never" | wc -l
}
