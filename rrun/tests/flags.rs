//! Command-line flags that change how the container starts: --preserve-fds, LISTEN_FDS,
//! --no-pivot, --no-new-keyring.

mod common;
use common::*;
use serde_json::json;

/// Run rrun through the host's sh so extra fds can be opened for it.
fn sh(r: &Rrun, script: &str) -> std::process::Output {
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env("RRUN", RRUN)
        .env("ROOT", r.root.path())
        .output()
        .unwrap()
}

/// A preserved fd the caller has not opened is refused (else rrun's own fds would take its
/// number; integration/attacks/preserve-fds-gap.sh), and nothing is left.
#[test]
fn preserve_fds_not_open_are_refused() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["true"]);
    let id = r.id();
    let out = sh(
        &r,
        &format!(
            "exec 3>/dev/null; \"$RRUN\" --root \"$ROOT\" run --preserve-fds 2 -b {} {id}",
            b.path().display()
        ),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unable to stat preserved-fd 1 (of 2): fd 4 is not open"),
        "{err}"
    );
    assert!(!r.root.path().join(&id).exists());
}

#[test]
fn preserve_fds_and_listen_fds() {
    let r = Rrun::new();
    let b = Bundle::busybox(&[
        "/bin/sh",
        "-c",
        "echo three >&3; echo four >&4; echo fds=$LISTEN_FDS pid=$LISTEN_PID >&3",
    ]);
    let dir = TempDir::new("rrun-fds");
    let (f3, f4) = (dir.path().join("3"), dir.path().join("4"));
    let id = r.id();
    let out = sh(
        &r,
        &format!(
            "exec 3>{} 4>{}; \"$RRUN\" --root \"$ROOT\" run --preserve-fds 2 -b {} {id}",
            f3.display(),
            f4.display(),
            b.path().display()
        ),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&f3).unwrap(), "three\nfds= pid=\n");
    assert_eq!(std::fs::read_to_string(&f4).unwrap(), "four\n");

    // LISTEN_FDS=1: fd 3 goes in without --preserve-fds, with LISTEN_FDS and LISTEN_PID set.
    let b = Bundle::busybox(&["/bin/sh", "-c", "echo fds=$LISTEN_FDS pid=$LISTEN_PID >&3"]);
    let id = r.id();
    let out = sh(
        &r,
        &format!(
            "exec 3>{}; LISTEN_FDS=1 \"$RRUN\" --root \"$ROOT\" run -b {} {id}",
            f3.display(),
            b.path().display()
        ),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&f3).unwrap(), "fds=1 pid=1\n");
}

#[test]
fn fds_not_preserved_are_closed() {
    let r = Rrun::new();
    let b = Bundle::busybox(&["/bin/sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"]);
    let id = r.id();
    let out = sh(
        &r,
        &format!(
            "exec 5>/dev/null; \"$RRUN\" --root \"$ROOT\" run -b {} {id}",
            b.path().display()
        ),
    );
    assert!(out.status.success(), "{out:?}");
    // stdio and the fd ls opens for /proc/self/fd: nothing of rrun's or the caller's.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 1 2 3 ");
}

#[test]
fn no_pivot_chroots() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/sh", "-c", "cat /etc/passwd | head -1; ls /"]);
    b.config["root"]["readonly"] = json!(false);
    b.save();
    let id = r.id();
    let out = r.ok(&["run", "--no-pivot", "-b", b.path().to_str().unwrap(), &id]);
    assert!(out.starts_with("root:x:0:0"), "{out}");
    assert!(out.contains("bin") && !out.contains("work"), "{out}");
}

#[test]
fn session_keyring() {
    let r = Rrun::new();
    let mut b = Bundle::busybox(&["/bin/true"]);
    // /proc/keys lists the keyrings the process can see; the default config masks it.
    b.config["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p != "/proc/keys");
    let id = r.id();
    b.config["process"]["args"] =
        json!(["/bin/sh", "-c", format!("grep -c '_ses.{id}' /proc/keys")]);
    b.save();
    let out = r.ok(&["run", "-b", b.path().to_str().unwrap(), &id]);
    assert_eq!(
        out.trim(),
        "1",
        "a session keyring named after the container"
    );
    let id2 = r.id();
    b.config["process"]["args"] = json!([
        "/bin/sh",
        "-c",
        format!("grep -c '_ses.{id2}' /proc/keys; true")
    ]);
    b.save();
    let out = r.ok(&[
        "run",
        "--no-new-keyring",
        "-b",
        b.path().to_str().unwrap(),
        &id2,
    ]);
    assert_eq!(out.trim(), "0", "--no-new-keyring keeps the caller's");
}

/// `rrun --version | head -1`: a reader that went away must not make rrun panic (abort, 134).
#[test]
fn version_to_a_closed_pipe_does_not_panic() {
    for _ in 0..20 {
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(r);
        let out = std::process::Command::new(RRUN)
            .arg("--version")
            .stdout(std::process::Stdio::from(w))
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
