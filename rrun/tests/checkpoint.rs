//! `checkpoint` and `restore`. With the host's real CRIU (which cannot run on a kernel it does
//! not know: the test says why and checks that the container is untouched) and with a fake
//! CRIU (a shell script given with --criu) that records its command line and does what CRIU
//! would do to the processes: the exact arguments for each flag, the state transitions, the
//! pid file, state.json, hooks and cleanup. The acceptance test (a counter checkpointed,
//! deleted, restored, still counting) runs where `criu check` passes, and says SKIPPED with
//! CRIU's reason elsewhere.

mod common;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const REAL_CRIU: &str = "/usr/sbin/criu";

/// The fake CRIU: records `$@` in `$FAKE_CRIU_DIR/<action>.argv` (one per line). With
/// `FAKE_CRIU_FAIL` it writes an Error line with that text to its log and fails. `dump` kills
/// the tree unless --leave-running; `restore` starts `$FAKE_CRIU_RESTORE` (default: a long
/// sleep) in the background, runs the action script at setup-namespaces as CRIU does, and
/// writes its pid to --pidfile.
const FAKE: &str = r#"#!/bin/sh
action="$1"
printf '%s\n' "$@" > "$FAKE_CRIU_DIR/$action.argv"
images= ; work= ; logf= ; tree= ; pidfile= ; leave=0 ; script=
while [ $# -gt 0 ]; do
  case "$1" in
    --images-dir) images="$2"; shift;;
    --work-dir) work="$2"; shift;;
    --log-file) logf="$2"; shift;;
    --tree) tree="$2"; shift;;
    --pidfile) pidfile="$2"; shift;;
    --leave-running) leave=1;;
    --action-script) script="$2"; shift;;
  esac
  shift
done
logdir="${work:-$images}"
if [ -n "$FAKE_CRIU_HANG" ]; then
  echo $$ > "$FAKE_CRIU_DIR/hang.pid"
  exec /bin/busybox sleep 1000
fi
if [ -n "$FAKE_CRIU_FAIL" ]; then
  echo "(00.000001) Error (fake/criu.c:1): $FAKE_CRIU_FAIL" > "$logdir/$logf"
  exit 1
fi
case "$action" in
  dump)
    echo fake > "$images/pages-1.img"
    [ $leave = 1 ] || kill -9 "$tree";;
  restore)
    eval "${FAKE_CRIU_RESTORE:-exec /bin/busybox sleep 1000}" </dev/null >/dev/null 2>&1 &
    pid=$!
    if [ -n "$script" ]; then
      CRTOOLS_SCRIPT_ACTION=setup-namespaces CRTOOLS_INIT_PID=$pid sh -c "$script" || exit 1
    fi
    echo $pid > "$pidfile";;
esac
exit 0
"#;

struct Fake {
    dir: TempDir,
}

impl Fake {
    fn new() -> Fake {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new("fake-criu");
        let p = dir.path().join("criu");
        std::fs::write(&p, FAKE).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake { dir }
    }
    fn bin(&self) -> String {
        self.dir.path().join("criu").to_str().unwrap().to_string()
    }
    fn env(&self) -> (&'static str, String) {
        (
            "FAKE_CRIU_DIR",
            self.dir.path().to_str().unwrap().to_string(),
        )
    }
    fn argv(&self, action: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{action}.argv")))
            .unwrap_or_else(|e| panic!("fake criu was not run for {action}: {e}"))
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// rrun --criu <fake> <args>, with the fake's environment and `extra`.
fn with_fake(r: &Rrun, f: &Fake, extra: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let (k, v) = f.env();
    let mut env = vec![(k, v.as_str())];
    env.extend_from_slice(extra);
    let bin = f.bin();
    let mut all = vec!["--criu", bin.as_str()];
    all.extend_from_slice(args);
    r.run_env(&env, &all)
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "should fail: {out:?}");
    messages(&String::from_utf8_lossy(&out.stderr))
}

fn running(r: &Rrun, args: &[&str]) -> (Bundle, String, i64) {
    let b = Bundle::busybox(args);
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let pid = r.state(&id)["pid"].as_i64().unwrap();
    (b, id, pid)
}

fn saved_state(r: &Rrun, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(r.root.path().join(id).join("state.json")).unwrap())
        .unwrap()
}

fn wait_dead(pid: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// CRIU's own `criu check`: None when it can work here, else its reason.
fn criu_broken() -> Option<String> {
    if !Path::new(REAL_CRIU).exists() {
        return Some(format!("no {REAL_CRIU}"));
    }
    let out = std::process::Command::new(REAL_CRIU)
        .arg("check")
        .output()
        .unwrap();
    if out.status.success() {
        return None;
    }
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    Some(
        text.lines()
            .filter(|l| l.contains("Error ("))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[test]
fn real_criu_failure_is_reported_and_the_container_is_untouched() {
    let Some(reason) = criu_broken() else {
        eprintln!("SKIPPED: criu check passes here; the acceptance test covers the real CRIU");
        return;
    };
    if !Path::new(REAL_CRIU).exists() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let r = Rrun::new();
    let (_b, id, pid) = running(&r, &["sleep", "1000"]);
    let before = std::fs::read(r.root.path().join(&id).join("state.json")).unwrap();
    let work = TempDir::new("ckpt-img");
    let img = work.path().join("img");
    let logf = work.path().join("log.json");
    let out = r.run(&[
        "--criu",
        REAL_CRIU,
        "--log-format",
        "json",
        "--log",
        logf.to_str().unwrap(),
        "checkpoint",
        "--image-path",
        img.to_str().unwrap(),
        &id,
    ]);
    let err = failed(&out);
    assert!(err.contains("criu dump failed"), "{err}");
    // CRIU's own first Error line is in the message.
    let first = reason.split("; ").next().unwrap().to_string();
    let first = &first[first.find("Error (").unwrap()..];
    assert!(err.contains(first), "{err} should contain {first}");
    if reason.contains("Unexpected rt vDSO area bounds") {
        assert!(
            err.contains("vdso: Unexpected rt vDSO area bounds"),
            "{err}"
        );
    }
    let line: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&logf)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains(first), "{line}");
    // Untouched: same init, running, state.json unchanged; only CRIU's log in the image dir.
    assert!(alive(pid));
    assert_eq!(r.state(&id)["status"], "running");
    assert_eq!(r.state(&id)["pid"], pid);
    assert_eq!(
        std::fs::read(r.root.path().join(&id).join("state.json")).unwrap(),
        before
    );
    assert_eq!(files(&img), ["dump.log"]);
    assert!(mounts_containing(&id).is_empty());
    // And it goes normally.
    r.ok(&["kill", &id, "KILL"]);
    assert!(wait_dead(pid));
    r.ok(&["delete", &id]);
    r.fails(&["state", &id]);
}

#[test]
fn real_criu_restore_failure_leaves_nothing() {
    let Some(reason) = criu_broken() else {
        eprintln!("SKIPPED: criu check passes here");
        return;
    };
    if !Path::new(REAL_CRIU).exists() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let r = Rrun::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let img = TempDir::new("ckpt-img");
    std::fs::write(
        img.path().join("descriptors.json"),
        r#"["/dev/null","/dev/null","/dev/null"]"#,
    )
    .unwrap();
    let id = r.id();
    let err = r.fails(&[
        "--criu",
        REAL_CRIU,
        "restore",
        "-d",
        "-b",
        b.path().to_str().unwrap(),
        "--image-path",
        img.path().to_str().unwrap(),
        &id,
    ]);
    assert!(err.contains("criu restore failed"), "{err}");
    assert!(err.contains("Error (criu/"), "{err}");
    assert!(r
        .fails(&["state", &id])
        .contains("container does not exist"));
    assert!(!r.root.path().join(&id).exists());
    assert!(mounts_containing(&format!("{id}/criu-root")).is_empty());
}

#[test]
fn fake_dump_arguments_then_the_container_is_gone() {
    let r = Rrun::new();
    let f = Fake::new();
    let (_b, id, pid) = running(&r, &["sleep", "1000"]);
    let saved = saved_state(&r, &id);
    let freezer = saved["cgroup_paths"]["freezer"]
        .as_str()
        .map(str::to_string);
    let cgdirs: Vec<String> = saved["cgroup_paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let rootfs = saved["rootfs"].as_str().unwrap().to_string();
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    let work = tmp.path().join("work");
    let out = with_fake(
        &r,
        &f,
        &[],
        &[
            "checkpoint",
            "--image-path",
            img.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            "--tcp-established",
            "--ext-unix-sk",
            "--shell-job",
            "--file-locks",
            "--manage-cgroups-mode",
            "full",
            "--auto-dedup",
            "--empty-ns",
            "network",
            &id,
        ],
    );
    ok(&out);
    let argv = f.argv("dump");
    let mut want: Vec<String> = [
        "dump",
        "--tree",
        &pid.to_string(),
        "--images-dir",
        img.to_str().unwrap(),
        "--work-dir",
        work.to_str().unwrap(),
        "--log-file",
        "dump.log",
        "-v4",
        "--root",
        &rootfs,
        "--manage-cgroups=full",
        "--shell-job",
        "--tcp-established",
        "--ext-unix-sk",
        "--file-locks",
        "--auto-dedup",
        "--empty-ns",
        "net",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(fz) = &freezer {
        want.extend(["--freeze-cgroup".to_string(), fz.clone()]);
    }
    assert_eq!(&argv[..want.len()], &want[..], "{argv:#?}");
    // The rest: external mounts, each `dest:dest` or a masked file `path:/dev/null`.
    let rest = &argv[want.len()..];
    assert_eq!(rest.len() % 2, 0, "{rest:?}");
    let mut maps = Vec::new();
    for pair in rest.chunks(2) {
        assert_eq!(pair[0], "--ext-mount-map", "{rest:?}");
        let (k, v) = pair[1].split_once(':').unwrap();
        assert!(k == v || v == "/dev/null", "{pair:?}");
        maps.push(pair[1].clone());
    }
    // Masked files (runc's default list) that exist are bound from /dev/null.
    if Path::new("/proc/keys").exists() {
        assert!(
            maps.contains(&"/proc/keys:/dev/null".to_string()),
            "{maps:?}"
        );
    }
    if Path::new("/sys/fs/cgroup/memory/tasks").exists() {
        assert!(
            maps.contains(&"/sys/fs/cgroup/memory:/sys/fs/cgroup/memory".to_string()),
            "{maps:?}"
        );
    }
    // runc's descriptors.json beside the images: the init's stdio as recorded at create.
    let desc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(img.join("descriptors.json")).unwrap()).unwrap();
    assert_eq!(desc.as_array().unwrap().len(), 3);
    assert_eq!(desc, saved["stdio"]);
    // CRIU killed the tree; the container is destroyed as runc does (state, cgroups).
    assert!(wait_dead(pid));
    assert!(r
        .fails(&["state", &id])
        .contains("container does not exist"));
    for d in cgdirs {
        assert!(!Path::new(&d).exists(), "{d} left");
    }
}

#[test]
fn fake_dump_of_a_paused_container() {
    let r = Rrun::new();
    let f = Fake::new();
    let (_b, id, pid) = running(&r, &["sleep", "1000"]);
    r.ok(&["pause", &id]);
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    let started = Instant::now();
    ok(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--image-path", img.to_str().unwrap(), &id],
    ));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(wait_dead(pid));
    assert!(r
        .fails(&["state", &id])
        .contains("container does not exist"));
}

#[test]
fn fake_leave_running_and_pre_dump_keep_the_container() {
    let r = Rrun::new();
    let f = Fake::new();
    let (_b, id, pid) = running(&r, &["sleep", "1000"]);
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    ok(&with_fake(
        &r,
        &f,
        &[],
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            img.to_str().unwrap(),
            &id,
        ],
    ));
    assert!(f.argv("dump").contains(&"--leave-running".to_string()));
    assert!(alive(pid));
    assert_eq!(r.state(&id)["status"], "running");
    assert_eq!(r.state(&id)["pid"], pid);

    let pre = tmp.path().join("pre");
    ok(&with_fake(
        &r,
        &f,
        &[],
        &[
            "checkpoint",
            "--pre-dump",
            "--parent-path",
            "../parent",
            "--page-server",
            "127.0.0.1:9999",
            "--image-path",
            pre.to_str().unwrap(),
            &id,
        ],
    ));
    let argv = f.argv("pre-dump");
    assert_eq!(argv[0], "pre-dump");
    let joined = argv.join(" ");
    assert!(
        joined.contains("--prev-images-dir ../parent --track-mem"),
        "{joined}"
    );
    assert!(
        joined.contains("--page-server --address 127.0.0.1 --port 9999"),
        "{joined}"
    );
    assert!(!joined.contains("--ext-mount-map"), "{joined}");
    assert!(!pre.join("descriptors.json").exists());
    assert!(alive(pid));
    assert_eq!(r.state(&id)["status"], "running");
}

#[test]
fn fake_dump_failure_leaves_the_container_and_only_criu_s_log() {
    let r = Rrun::new();
    let f = Fake::new();
    let (_b, id, pid) = running(&r, &["sleep", "1000"]);
    let before = std::fs::read(r.root.path().join(&id).join("state.json")).unwrap();
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    let logf = tmp.path().join("log.json");
    let bin = f.bin();
    let (k, v) = f.env();
    let out = r.run_env(
        &[(k, v.as_str()), ("FAKE_CRIU_FAIL", "the fake says no")],
        &[
            "--criu",
            &bin,
            "--log-format",
            "json",
            "--log",
            logf.to_str().unwrap(),
            "checkpoint",
            "--image-path",
            img.to_str().unwrap(),
            &id,
        ],
    );
    let err = failed(&out);
    assert!(
        err.contains("criu dump failed (exit status: 1): Error (fake/criu.c:1): the fake says no"),
        "{err}"
    );
    let log = std::fs::read_to_string(&logf).unwrap();
    assert!(
        log.contains(r#""level":"error""#) && log.contains("the fake says no"),
        "{log}"
    );
    assert_eq!(files(&img), ["dump.log"]);
    assert!(alive(pid));
    assert_eq!(r.state(&id)["status"], "running");
    assert_eq!(
        std::fs::read(r.root.path().join(&id).join("state.json")).unwrap(),
        before
    );
}

#[test]
fn checkpoint_refusals() {
    let r = Rrun::new();
    let f = Fake::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = r.id();
    r.ok(&["create", "-b", b.path().to_str().unwrap(), &id]);
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    let i = img.to_str().unwrap();
    let e = failed(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--image-path", i, &id],
    ));
    assert!(
        e.contains("Container cannot be checkpointed in created state"),
        "{e}"
    );
    let e = failed(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--image-path", i, "nosuch"],
    ));
    assert!(e.contains("container does not exist"), "{e}");
    let e = failed(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--manage-cgroups-mode", "hard", &id],
    ));
    assert!(e.contains("invalid manage-cgroups-mode value"), "{e}");
    let e = failed(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--empty-ns", "ipc", &id],
    ));
    assert!(e.contains("only the network namespace"), "{e}");
    let e = failed(&with_fake(
        &r,
        &f,
        &[],
        &["checkpoint", "--page-server", "x", &id],
    ));
    assert!(e.contains("Use --page-server ADDRESS:PORT"), "{e}");
    // The fake was never run.
    assert!(!f.dir.path().join("dump.argv").exists());
    assert!(!img.exists());
    // No criu at all: said so, the container untouched, nothing of rrun's in the image dir.
    r.ok(&["start", &id]);
    let e = r.fails(&[
        "--criu",
        "/nonexistent/criu",
        "checkpoint",
        "--image-path",
        i,
        &id,
    ]);
    assert!(e.contains("cannot run criu (/nonexistent/criu)"), "{e}");
    assert_eq!(r.state(&id)["status"], "running");
    assert!(files(&img).is_empty(), "{:?}", files(&img));
}

/// A checkpoint of a container by the fake, for restoring.
fn checkpointed(r: &Rrun, f: &Fake, b: &Bundle) -> (TempDir, PathBuf) {
    let id = r.id();
    r.ok(&["run", "-d", "-b", b.path().to_str().unwrap(), &id]);
    let tmp = TempDir::new("ckpt");
    let img = tmp.path().join("img");
    ok(&with_fake(
        r,
        f,
        &[],
        &["checkpoint", "--image-path", img.to_str().unwrap(), &id],
    ));
    (tmp, img)
}

fn in_cgroup_of(pid: i64, id: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.ends_with(id) || l.contains(&format!("/{id}/")))
}

#[test]
fn fake_restore_detached() {
    let r = Rrun::new();
    let f = Fake::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let (tmp, img) = checkpointed(&r, &f, &b);
    let id = r.id();
    let pidfile = tmp.path().join("restored.pid");
    let out = with_fake(
        &r,
        &f,
        &[],
        &[
            "restore",
            "-d",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            "--pid-file",
            pidfile.to_str().unwrap(),
            "--tcp-established",
            "--file-locks",
            "--manage-cgroups-mode",
            "soft",
            "--lsm-profile",
            "apparmor:unconfined",
            &id,
        ],
    );
    ok(&out);
    let dir = r.root.path().join(&id);
    let argv = f.argv("restore");
    let want: Vec<String> = [
        "restore",
        "--images-dir",
        img.to_str().unwrap(),
        "--log-file",
        "restore.log",
        "-v4",
        "--root",
        dir.join("criu-root").to_str().unwrap(),
        "--manage-cgroups=soft",
        "--restore-detached",
        "--restore-sibling",
        "--pidfile",
        dir.join("criu.pid").to_str().unwrap(),
        "--evasive-devices",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(&argv[..want.len()], &want[..], "{argv:#?}");
    let joined = argv.join(" ");
    for part in [
        "--tcp-established",
        "--file-locks",
        "--empty-ns net",
        "--lsm-profile apparmor:unconfined",
        "--ext-mount-map /dev/null:/dev/null",
    ] {
        assert!(joined.contains(part), "{part} in {joined}");
    }
    let st = r.state(&id);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    assert!(alive(pid));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    let saved = saved_state(&r, &id);
    assert_eq!(saved["init_pid"], pid);
    assert_eq!(saved["creating"], false);
    assert!(
        in_cgroup_of(pid, &id),
        "pid {pid} not in the container's cgroup"
    );
    // The rootfs mount for CRIU is gone, and CRIU's pid file.
    assert!(mounts_containing(&format!("{id}/criu-root")).is_empty());
    assert_eq!(files(&dir), ["state.json"]);
    // The restored container is a container like any other.
    r.ok(&["kill", &id, "KILL"]);
    assert!(wait_dead(pid));
    r.ok(&["delete", &id]);
    assert!(!dir.exists());
}

#[test]
fn fake_restore_runs_prestart_and_create_runtime_hooks() {
    let r = Rrun::new();
    let f = Fake::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let (_tmp, img) = checkpointed(&r, &f, &b);
    let out = TempDir::new("hooks");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}/{name}.json", out.path().display())]});
    b.config["hooks"] =
        json!({"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")]});
    b.save();
    let id = r.id();
    ok(&with_fake(
        &r,
        &f,
        &[],
        &[
            "restore",
            "-d",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            &id,
        ],
    ));
    let argv = f.argv("restore").join(" ");
    assert!(argv.contains("--action-script '"), "{argv}");
    let pid = r.state(&id)["pid"].as_i64().unwrap();
    for name in ["prestart", "createRuntime"] {
        let st: serde_json::Value = serde_json::from_slice(
            &std::fs::read(out.path().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(st["id"], id.as_str(), "{name}");
        assert_eq!(st["pid"], pid, "{name}");
        assert_eq!(st["status"], "creating", "{name}");
    }
}

#[test]
fn fake_restore_foreground_exits_with_the_process_status_and_deletes() {
    let r = Rrun::new();
    let f = Fake::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let (_tmp, img) = checkpointed(&r, &f, &b);
    let id = r.id();
    let started = Instant::now();
    let out = with_fake(
        &r,
        &f,
        &[(
            "FAKE_CRIU_RESTORE",
            "exec /bin/busybox sh -c 'sleep 0.5; exit 7'",
        )],
        &[
            "restore",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            &id,
        ],
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert!(r
        .fails(&["state", &id])
        .contains("container does not exist"));
}

#[test]
fn fake_restore_failure_leaves_nothing() {
    let r = Rrun::new();
    let f = Fake::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let (tmp, img) = checkpointed(&r, &f, &b);
    let id = r.id();
    let work = tmp.path().join("work");
    let out = with_fake(
        &r,
        &f,
        &[("FAKE_CRIU_FAIL", "no restore today")],
        &[
            "restore",
            "-d",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            "--work-path",
            work.to_str().unwrap(),
            &id,
        ],
    );
    let err = failed(&out);
    assert!(
        err.contains(
            "criu restore failed (exit status: 1): Error (fake/criu.c:1): no restore today"
        ),
        "{err}"
    );
    assert!(
        err.contains(work.join("restore.log").to_str().unwrap()),
        "{err}"
    );
    assert!(!r.root.path().join(&id).exists());
    assert!(mounts_containing(&format!("{id}/criu-root")).is_empty());
    // The rootfs is intact (the state directory went after the unmount).
    assert!(b.rootfs().join("bin/busybox").exists());
    // Same id again: no leftover blocks it.
    ok(&with_fake(
        &r,
        &f,
        &[],
        &[
            "restore",
            "-d",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.to_str().unwrap(),
            &id,
        ],
    ));
    assert_eq!(r.state(&id)["status"], "running");
}

/// A restore killed while CRIU runs leaves the rootfs bound in the state directory;
/// `delete --force` unmounts it before removing the directory, so the rootfs survives.
#[test]
fn killed_restore_is_cleaned_by_delete_force_and_the_rootfs_survives() {
    let r = Rrun::new();
    let f = Fake::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let (_tmp, img) = checkpointed(&r, &f, &b);
    let id = r.id();
    let bin = f.bin();
    let (k, v) = f.env();
    let mut child = r
        .cmd()
        .env(k, &v)
        .env("FAKE_CRIU_HANG", "1")
        .args(["--criu", &bin, "restore", "-d", "-b"])
        .arg(b.path())
        .arg("--image-path")
        .arg(&img)
        .arg(&id)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let hang = f.dir.path().join("hang.pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !hang.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(hang.exists(), "the fake criu did not start");
    child.kill().unwrap();
    child.wait().unwrap();
    let criu_pid: i32 = std::fs::read_to_string(&hang)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(criu_pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    assert_eq!(mounts_containing(&format!("{id}/criu-root")).len(), 1);
    r.ok(&["delete", "--force", &id]);
    assert!(mounts_containing(&format!("{id}/criu-root")).is_empty());
    assert!(!r.root.path().join(&id).exists());
    assert!(
        b.rootfs().join("bin/busybox").exists(),
        "the rootfs was removed"
    );
}

/// Mount points inside bind mounts are made in the bind's source (as create makes them), and
/// the binds made for that are gone before CRIU runs.
#[test]
fn fake_restore_makes_mount_points_inside_bind_mounts() {
    let r = Rrun::new();
    let f = Fake::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let outer = TempDir::new("bind-outer");
    let inner = TempDir::new("bind-inner");
    b.config["mounts"].as_array_mut().unwrap().extend([
        json!({"destination": "/data", "type": "bind", "source": outer.path(), "options": ["rbind"]}),
        json!({"destination": "/data/sub/inner", "type": "bind", "source": inner.path(), "options": ["rbind"]}),
    ]);
    b.save();
    let img = TempDir::new("ckpt");
    std::fs::write(img.path().join("descriptors.json"), "[]").unwrap();
    let id = r.id();
    ok(&with_fake(
        &r,
        &f,
        &[],
        &[
            "restore",
            "-d",
            "-b",
            b.path().to_str().unwrap(),
            "--image-path",
            img.path().to_str().unwrap(),
            &id,
        ],
    ));
    assert!(b.rootfs().join("data").is_dir());
    assert!(
        outer.path().join("sub/inner").is_dir(),
        "made in the bind's source"
    );
    assert!(
        !b.rootfs().join("data/sub").exists(),
        "not in the rootfs below the bind"
    );
    assert!(mounts_containing(b.rootfs().to_str().unwrap()).is_empty());
    let argv = f.argv("restore").join(" ");
    assert!(
        argv.contains(&format!("--ext-mount-map /data:{}", outer.path().display())),
        "{argv}"
    );
    assert!(
        argv.contains(&format!(
            "--ext-mount-map /data/sub/inner:{}",
            inner.path().display()
        )),
        "{argv}"
    );
}

#[test]
fn restore_refusals() {
    let r = Rrun::new();
    let f = Fake::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let img = TempDir::new("ckpt");
    let id = r.id();
    let bundle = b.path().to_str().unwrap().to_string();
    let args = |id: &str| {
        vec![
            "restore".to_string(),
            "-d".into(),
            "-b".into(),
            bundle.clone(),
            "--image-path".into(),
            img.path().to_str().unwrap().into(),
            id.to_string(),
        ]
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        failed(&with_fake(&r, &f, &[], &a))
    };
    let e = run(args(&id));
    assert!(e.contains("descriptors.json"), "{e}");
    std::fs::write(img.path().join("descriptors.json"), "[]").unwrap();
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let e = run(args(&id));
    assert!(e.contains("process.terminal is not supported"), "{e}");
    assert!(!f.dir.path().join("restore.argv").exists());
    assert!(!r.root.path().join(&id).exists());
}

/// The acceptance test: a counter is checkpointed (the container goes), restored under the
/// same id, and counts on from where it was, on the same pipes (runc's checkpoint tests use
/// pipes as the container's stdio too: CRIU hands them over with --inherit-fd). Runs where
/// CRIU works.
#[test]
fn counter_is_checkpointed_deleted_restored_and_continues() {
    use std::io::Read;
    use std::process::Stdio;
    if let Some(reason) = criu_broken() {
        eprintln!("SKIPPED: criu check fails here: {reason}");
        return;
    }
    let r = Rrun::new();
    let b = Bundle::busybox(&[
        "/bin/sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo tick $i; sleep 0.1; done",
    ]);
    let id = r.id();
    let (in_r, _in_w) = nix::unistd::pipe().unwrap();
    let (out_r, out_w) = nix::unistd::pipe().unwrap();
    let output = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = output.clone();
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(out_r);
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // rrun with the pipes as its stdio (and so the container's).
    let piped = |args: &[&str]| {
        let st = r
            .cmd()
            .args(args)
            .stdin(Stdio::from(in_r.try_clone().unwrap()))
            .stdout(Stdio::from(out_w.try_clone().unwrap()))
            .stderr(Stdio::from(out_w.try_clone().unwrap()))
            .status()
            .unwrap();
        assert!(st.success(), "rrun {args:?}: {}", output.lock().unwrap());
    };
    let count = || -> u64 {
        std::fs::read_to_string(b.rootfs().join("tmp/count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    };
    let bundle = b.path().to_str().unwrap();
    piped(&["run", "-d", "-b", bundle, &id]);
    std::thread::sleep(Duration::from_millis(800));
    let img = TempDir::new("ckpt");
    let img_path = img.path().to_str().unwrap();
    piped(&[
        "--criu",
        REAL_CRIU,
        "checkpoint",
        "--image-path",
        img_path,
        &id,
    ]);
    assert!(r
        .fails(&["state", &id])
        .contains("container does not exist"));
    let at_dump = count();
    assert!(at_dump > 0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(count(), at_dump, "the counter stopped with the checkpoint");
    piped(&[
        "--criu",
        REAL_CRIU,
        "restore",
        "-d",
        "-b",
        bundle,
        "--image-path",
        img_path,
        &id,
    ]);
    assert_eq!(r.state(&id)["status"], "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() <= at_dump + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(count() > at_dump + 2, "counter continued from {at_dump}");
    // And it still writes to the same pipe.
    let next = format!("tick {}", at_dump + 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !output.lock().unwrap().contains(&next) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        output.lock().unwrap().contains(&next),
        "{}",
        output.lock().unwrap()
    );
}

/// Every option rrun may pass is one the host's CRIU knows (it then fails on the empty image
/// directory or on this kernel, never on its command line).
#[test]
fn real_criu_accepts_every_option() {
    use librrun::checkpoint::plan::{self, DumpInput, RestoreInput};
    use librrun::checkpoint::{CgroupsMode, CheckpointOptions, PageServer, RestoreOptions};
    if !Path::new(REAL_CRIU).exists() {
        eprintln!("SKIPPED: no {REAL_CRIU}");
        return;
    }
    let b = Bundle::busybox(&["sleep", "1000"]);
    let spec: oci_spec::runtime::Spec = serde_json::from_value(b.config.clone()).unwrap();
    let tmp = TempDir::new("ckpt-opts");
    let img = tmp.path().join("img");
    std::fs::create_dir(&img).unwrap();
    let nsfile = tmp.path().join("uts");
    std::fs::write(&nsfile, "").unwrap();
    let mut o = CheckpointOptions::new(REAL_CRIU.into(), img.clone());
    o.work_path = Some(img.clone());
    o.parent_path = Some("../p".into());
    (
        o.leave_running,
        o.tcp_established,
        o.ext_unix_sk,
        o.shell_job,
    ) = (true, true, true, true);
    (o.lazy_pages, o.file_locks, o.auto_dedup) = (true, true, true);
    o.status_fd = 2;
    o.page_server = Some(PageServer {
        address: "127.0.0.1".into(),
        port: 9,
    });
    o.manage_cgroups_mode = Some(CgroupsMode::Full);
    let dump = plan::dump_args(&DumpInput {
        opts: &o,
        pid: 1,
        rootfs: &b.rootfs(),
        bundle: b.path(),
        spec: &spec,
        freezer: Some("/sys/fs/cgroup/freezer".into()),
        external_ns: vec![("net", 1), ("pid", 2)],
        masked_files: vec!["/proc/keys".into()],
        cgroup_binds: vec!["/sys/fs/cgroup/memory".into()],
        config_file: Some(nsfile.clone()),
    });
    let ro = RestoreOptions {
        criu: REAL_CRIU.into(),
        id: "x".into(),
        bundle: b.path().into(),
        console_socket: None,
        image_path: img.clone(),
        work_path: Some(img.clone()),
        tcp_established: true,
        ext_unix_sk: true,
        shell_job: true,
        file_locks: true,
        manage_cgroups_mode: Some(CgroupsMode::Soft),
        detach: true,
        pid_file: None,
        auto_dedup: true,
        lazy_pages: true,
        lsm_profile: Some("apparmor:x".into()),
        lsm_mount_context: Some("ctx".into()),
        cgroup_driver: librrun::cgroups::Driver::Cgroupfs,
    };
    let desc = vec!["pipe:[1]".to_string()];
    let restore = plan::restore_args(&RestoreInput {
        opts: &ro,
        spec: &spec,
        bundle: b.path(),
        criu_root: &b.rootfs(),
        pid_file: &tmp.path().join("pid"),
        cgroup_roots: vec!["memory:/x".into(), "name=systemd:/x".into(), ":/x".into()],
        cgroup_binds: vec![(
            "/sys/fs/cgroup/memory".into(),
            "/sys/fs/cgroup/memory".into(),
        )],
        join_ns: vec![("uts", nsfile.clone())],
        inherit_ns: vec![("net", 2)],
        descriptors: &desc,
        action_script: Some("true".into()),
        config_file: None,
    });
    for args in [dump, restore] {
        let out = std::process::Command::new(REAL_CRIU)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success());
        for bad in [
            "unrecognized option",
            "Unknown option",
            "invalid argument for",
            "Usage:",
        ] {
            assert!(!text.contains(bad), "{args:?}: {text}");
        }
    }
}
