//! The runc-compatible command line (not runtime-spec): what engines such as
//! containerd, Docker and Podman rely on.

use crate::context::{parse_json, wait_for_file, Ctx};
use crate::harness::{Failure, Outcome, Verdict};
use crate::{cases, check};
use std::io::Read;
use std::os::unix::net::UnixListener;

pub fn tests() -> Vec<crate::harness::TestCase> {
    cases![
        "cli/version" => version,
        "cli/spec" => spec,
        "cli/run/exit-code" => run_exit_code,
        "cli/run/detach" => run_detach,
        "cli/create/pid-file" => pid_file,
        "cli/create/console-socket" => console_socket,
        "config-linux/devices/dev-console-with-terminal" => dev_console,
        "config/process/consoleSize" => console_size,
        "cli/list/json" => list_json,
        "cli/kill/default-sigterm" => kill_default,
        "cli/delete/force-running" => delete_force,
        "cli/delete/force-unknown-id-succeeds" => delete_force_unknown,
        "cli/exec/joins-container" => exec_joins,
        "cli/exec/exit-code" => exec_exit_code,
        "cli/exec/process-json" => exec_process_json,
        "cli/exec/stopped-error" => exec_stopped,
        "cli/exec/env-overrides-config" => exec_env_override,
        "cli/errors/stderr-says-error" => errors_say_error,
        "cli/pause-resume" => pause_resume,
        "cli/ps/json" => ps_json,
    ]
}

fn version(ctx: &Ctx) -> Outcome {
    let out = std::process::Command::new(&ctx.rt.path)
        .arg("--version")
        .output()
        .map_err(|source| Failure::Io {
            what: "running --version".into(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    check!(out.status.success(), "--version failed");
    check!(
        text.lines().next().is_some_and(|l| l.contains("version")),
        "--version first line {:?} lacks \"version\"",
        text.lines().next()
    );
    check!(
        text.lines().any(|l| l.starts_with("spec: ")),
        "--version prints no `spec: X` line: {text:?}"
    );
    Ok(Verdict::Pass)
}

fn spec(ctx: &Ctx) -> Outcome {
    let b = ctx.bundle()?;
    let dir = b.path().join("spec-out");
    std::fs::create_dir_all(&dir).map_err(|source| Failure::Io {
        what: "mkdir spec-out".into(),
        source,
    })?;
    let d = dir.display().to_string();
    let inv = ctx.rt.invoke(&["spec", "--bundle", &d])?;
    check!(inv.success(), "spec failed: {}", inv.describe());
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap_or_default();
    let v = parse_json("generated config.json", &text)?;
    check!(
        v["ociVersion"].is_string()
            && v["process"]["args"].is_array()
            && v["root"]["path"].is_string(),
        "generated config.json lacks ociVersion/process.args/root.path"
    );
    Ok(Verdict::Pass)
}

fn run_exit_code(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "42"]);
    let inv = ctx.run(&b)?;
    check!(
        inv.code() == Some(42),
        "run exited {:?}, the process exited 42",
        inv.code()
    );
    Ok(Verdict::Pass)
}

fn run_detach(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    b.write_config()?;
    let c = ctx.guard(ctx.new_id());
    let bundle = b.path().display().to_string();
    let inv = ctx.rt.invoke(&["run", "-d", "--bundle", &bundle, &c.id])?;
    check!(inv.success(), "run -d failed: {}", inv.describe());
    check!(
        c.status()? == "running",
        "after run -d the container is not running"
    );
    Ok(Verdict::Pass)
}

fn pid_file(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let pf = b.path().join("pidfile");
    let pfs = pf.display().to_string();
    let (c, inv) = ctx.create_as(&b, ctx.new_id(), &["--pid-file", &pfs])?;
    check!(inv.success(), "create failed: {}", inv.describe());
    let got = std::fs::read_to_string(&pf).unwrap_or_default();
    let pid = c.pid()?;
    check!(
        got.trim() == pid.to_string(),
        "pid file holds {got:?}, state pid is {pid}"
    );
    Ok(Verdict::Pass)
}

/// Receive one file descriptor sent with SCM_RIGHTS on `sock`.
fn recv_fd(sock: &std::os::unix::net::UnixStream) -> Result<std::fs::File, Failure> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut data = [0u8; 4096];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // Room for one control message carrying one int.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain data; all pointers set below stay valid for the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: recvmsg on a connected socket with a valid msghdr.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return Err(Failure::Io {
            what: "recvmsg on the console socket".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: CMSG_FIRSTHDR/CMSG_DATA walk the control buffer the kernel filled.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            crate::fail!("the console socket message carried no file descriptor");
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
        Ok(std::fs::File::from_raw_fd(fd))
    }
}

/// Create and start `b` with a terminal: receive the pty master over
/// --console-socket and return everything the process wrote to it.
fn run_on_terminal(ctx: &Ctx, b: &mut crate::bundle::Bundle) -> Result<String, Failure> {
    b.config["process"]["terminal"] = serde_json::json!(true);
    let sock_path = b.path().join("console.sock");
    let listener = UnixListener::bind(&sock_path).map_err(|source| Failure::Io {
        what: format!("bind {}", sock_path.display()),
        source,
    })?;
    let receiver = std::thread::spawn(move || -> Result<std::fs::File, Failure> {
        let (conn, _) = listener.accept().map_err(|source| Failure::Io {
            what: "accept on the console socket".into(),
            source,
        })?;
        recv_fd(&conn)
    });
    let sp = sock_path.display().to_string();
    let (c, inv) = ctx.create_as(b, ctx.new_id(), &["--console-socket", &sp])?;
    if !inv.success() {
        // Unblock the accepting thread before failing.
        let _ = std::os::unix::net::UnixStream::connect(&sock_path);
        let _ = receiver.join();
        crate::fail!("create with a terminal failed: {}", inv.describe());
    }
    let mut master = match receiver.join() {
        Ok(r) => r?,
        Err(_) => crate::fail!("the console receiver thread panicked"),
    };
    let inv = c.start()?;
    check!(inv.success(), "start failed: {}", inv.describe());
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // EIO: the slave side was closed (the process exited).
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&out).replace("\r\n", "\n"))
}

fn console_socket(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["report"]);
    let text = run_on_terminal(ctx, &mut b)?;
    let report = parse_json("checker output on the terminal", &text)?;
    check!(
        report["isatty"] == serde_json::json!([true, true, true]),
        "stdio of a terminal process are not all ttys: {}",
        report["isatty"]
    );
    Ok(Verdict::Pass)
}

/// config.md process.consoleSize: the terminal's size when `terminal` is set.
fn console_size(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.config["process"]["consoleSize"] = serde_json::json!({"height": 33, "width": 101});
    b.checker(&["report"]);
    let text = run_on_terminal(ctx, &mut b)?;
    let report = parse_json("checker output on the terminal", &text)?;
    check!(
        report["winsize"] == serde_json::json!([33, 101]),
        "terminal size {} (want [33, 101] rows/columns)",
        report["winsize"]
    );
    Ok(Verdict::Pass)
}

/// config-linux.md default devices: /dev/console is the pty when `terminal` is set.
fn dev_console(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["stat", "/dev/console"]);
    let text = run_on_terminal(ctx, &mut b)?;
    let v = parse_json("checker output on the terminal", &text)?;
    let s = &v["/dev/console"];
    check!(
        s["type"] == "char" && s["major"] == 136,
        "/dev/console is {s} (want the pty, a char device with major 136)"
    );
    Ok(Verdict::Pass)
}

fn list_json(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let c = ctx.create_ok(&b)?;
    let inv = ctx.rt.invoke(&["list", "--format", "json"])?;
    check!(inv.success(), "list failed: {}", inv.describe());
    let v = parse_json("list output", &inv.stdout)?;
    let found = v
        .as_array()
        .and_then(|a| a.iter().find(|e| e["id"] == c.id.as_str()))
        .cloned();
    let Some(e) = found else {
        crate::fail!("list --format json does not show {}", c.id);
    };
    check!(
        e["status"] == "created",
        "list shows status {}",
        e["status"]
    );
    check!(
        e["pid"].as_i64() == Some(c.pid()?),
        "list shows pid {}",
        e["pid"]
    );
    Ok(Verdict::Pass)
}

fn kill_default(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    let shared = b.share();
    b.checker(&["sigwait", "/shared/ready", "/shared/result"]);
    let c = ctx.start_ok(&b)?;
    wait_for_file(&shared.join("ready"))?;
    let inv = c.invoke(&["kill", &c.id])?;
    check!(
        inv.success(),
        "kill without a signal failed: {}",
        inv.describe()
    );
    c.wait_stopped()?;
    let got = std::fs::read_to_string(shared.join("result")).unwrap_or_default();
    check!(
        got.trim() == libc::SIGTERM.to_string(),
        "kill without a signal sent {}",
        got.trim()
    );
    Ok(Verdict::Pass)
}

fn delete_force(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    let c = ctx.start_ok(&b)?;
    let pid = c.pid()?;
    let inv = c.invoke(&["delete", "--force", &c.id])?;
    check!(
        inv.success(),
        "delete --force of a running container failed: {}",
        inv.describe()
    );
    check!(
        !c.state_raw()?.success(),
        "the container still exists after delete --force"
    );
    let alive = std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
        .map(|s| s.contains("sleep"))
        .unwrap_or(false);
    check!(
        !alive,
        "the container process {pid} survived delete --force"
    );
    Ok(Verdict::Pass)
}

/// runc treats `delete --force` of a missing container as done; callers
/// (containerd's shim, conmon) rely on it being idempotent.
fn delete_force_unknown(ctx: &Ctx) -> Outcome {
    let inv = ctx.rt.invoke(&["delete", "--force", &ctx.new_id()])?;
    check!(
        inv.success(),
        "delete --force of an unknown id failed: {}",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn sleeper(ctx: &Ctx) -> Result<crate::bundle::Bundle, Failure> {
    let mut b = ctx.bundle()?;
    b.set_args(&["/bin/sleep", "100000"]);
    Ok(b)
}

fn exec_joins(ctx: &Ctx) -> Outcome {
    let mut b = sleeper(ctx)?;
    b.config["hostname"] = serde_json::json!("exec-host");
    let c = ctx.start_ok(&b)?;
    let pid = c.pid()?;
    let inv = c.invoke(&["exec", &c.id, "/bin/oci-checker", "report"])?;
    check!(inv.success(), "exec failed: {}", inv.describe());
    let report = parse_json("exec output", &inv.stdout)?;
    let ns = crate::host::namespaces_of(&pid.to_string());
    for k in ["mnt", "uts", "ipc", "net", "pid"] {
        check!(
            report["ns"][k] == ns.get(k).map(String::as_str).unwrap_or(""),
            "exec'd process {k} namespace {} is not the container's {:?}",
            report["ns"][k],
            ns.get(k)
        );
    }
    check!(
        report["hostname"] == "exec-host",
        "exec'd process sees hostname {}",
        report["hostname"]
    );
    check!(report["pid"] != 1, "exec'd process is pid 1");
    Ok(Verdict::Pass)
}

fn exec_exit_code(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let inv = c.invoke(&["exec", &c.id, "/bin/oci-checker", "exit", "5"])?;
    check!(
        inv.code() == Some(5),
        "exec: {} (the process exited 5)",
        inv.describe()
    );
    Ok(Verdict::Pass)
}

fn exec_process_json(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let process = serde_json::json!({
        "terminal": false,
        "user": {"uid": 1000, "gid": 1000},
        "args": ["/bin/oci-checker", "report"],
        "env": ["PATH=/bin", "EXEC_VAR=yes"],
        "cwd": "/etc"
    });
    let pf = b.path().join("process.json");
    std::fs::write(&pf, process.to_string()).map_err(|source| Failure::Io {
        what: format!("write {}", pf.display()),
        source,
    })?;
    let pfs = pf.display().to_string();
    let inv = c.invoke(&["exec", "--process", &pfs, &c.id])?;
    check!(inv.success(), "exec --process failed: {}", inv.describe());
    let r = parse_json("exec output", &inv.stdout)?;
    check!(r["cwd"] == "/etc", "cwd {}", r["cwd"]);
    check!(
        r["uid"] == 1000 && r["gid"] == 1000,
        "uid/gid {}/{}",
        r["uid"],
        r["gid"]
    );
    let has_env = r["env"]
        .as_array()
        .is_some_and(|e| e.iter().any(|v| v == "EXEC_VAR=yes"));
    check!(has_env, "EXEC_VAR missing from {}", r["env"]);
    Ok(Verdict::Pass)
}

fn exec_stopped(ctx: &Ctx) -> Outcome {
    let mut b = ctx.bundle()?;
    b.checker(&["exit", "0"]);
    let c = ctx.start_ok(&b)?;
    c.wait_stopped()?;
    let inv = c.invoke(&["exec", &c.id, "/bin/true"])?;
    check!(!inv.success(), "exec in a stopped container succeeded");
    Ok(Verdict::Pass)
}

/// `exec -e NAME=value` replaces the config's NAME: one NAME, the new value.
fn exec_env_override(ctx: &Ctx) -> Outcome {
    let mut b = sleeper(ctx)?;
    b.config["process"]["env"] = serde_json::json!(["PATH=/bin", "OCI_VAR=config"]);
    let c = ctx.start_ok(&b)?;
    let inv = c.invoke(&[
        "exec",
        "-e",
        "OCI_VAR=exec",
        &c.id,
        "/bin/oci-checker",
        "report",
    ])?;
    check!(inv.success(), "exec failed: {}", inv.describe());
    let r = parse_json("exec output", &inv.stdout)?;
    let vars: Vec<&str> = r["env"]
        .as_array()
        .map(|e| e.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let ours: Vec<&&str> = vars.iter().filter(|v| v.starts_with("OCI_VAR=")).collect();
    check!(
        ours == [&"OCI_VAR=exec"],
        "exec -e OCI_VAR=exec gave the process {ours:?}"
    );
    Ok(Verdict::Pass)
}

/// A failing command says `error` on stderr (what scripts and suites look for; runc prints a
/// `level=error` log line), besides its non-zero status.
fn errors_say_error(ctx: &Ctx) -> Outcome {
    let id = ctx.new_id();
    for args in [
        ["state", id.as_str()],
        ["kill", id.as_str()],
        ["delete", id.as_str()],
    ] {
        let inv = ctx.rt.invoke(&args)?;
        check!(!inv.success(), "{} of an unknown id succeeded", args[0]);
        check!(
            inv.stderr.contains("error"),
            "{} of an unknown id: stderr {:?} does not say error",
            args[0],
            inv.stderr
        );
    }
    Ok(Verdict::Pass)
}

fn pause_resume(ctx: &Ctx) -> Outcome {
    if !ctx.host.has_controller("freezer") && ctx.host.cgroup_v2.is_none() {
        crate::skip!("no freezer cgroup controller on this host");
    }
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let inv = c.invoke(&["pause", &c.id])?;
    check!(inv.success(), "pause failed: {}", inv.describe());
    check!(c.status()? == "paused", "status after pause is not paused");
    let inv = c.invoke(&["resume", &c.id])?;
    check!(inv.success(), "resume failed: {}", inv.describe());
    check!(
        c.status()? == "running",
        "status after resume is not running"
    );
    Ok(Verdict::Pass)
}

fn ps_json(ctx: &Ctx) -> Outcome {
    let b = sleeper(ctx)?;
    let c = ctx.start_ok(&b)?;
    let pid = c.pid()?;
    let inv = c.invoke(&["ps", "--format", "json", &c.id])?;
    check!(inv.success(), "ps failed: {}", inv.describe());
    let v = parse_json("ps output", &inv.stdout)?;
    let has = v
        .as_array()
        .is_some_and(|a| a.iter().any(|p| p.as_i64() == Some(pid)));
    check!(
        has,
        "ps --format json {v} does not list the container process {pid}"
    );
    Ok(Verdict::Pass)
}
