//! rrun-image against registries: a real `docker-registry` on 127.0.0.1 fed by skopeo
//! (pull, second pull, multi-arch, zstd, store commands, unpack + rrun run), and a scripted fake
//! registry for token auth, retries on 429/503 and resumed downloads.
mod image_common;

use image_common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

fn img(store: &Path) -> Command {
    let mut c = rrun_image();
    c.arg("--root").arg(store);
    c
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn app_layers(zstd: bool) -> Vec<(Vec<u8>, Compression)> {
    let mut extra = Layer::new();
    extra.dir("etc/").file("etc/motd", b"from layer 2\n");
    let c = if zstd {
        Compression::Zstd
    } else {
        Compression::Gzip
    };
    vec![(busybox_layer().tar(), Compression::Gzip), (extra.tar(), c)]
}

#[test]
fn pull_store_and_unpack_from_registry() {
    let tmp = TempDir::new("registry");
    let reg = Registry::start();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    layout.image(
        "latest",
        &app_layers(true),
        json!({"Cmd": ["/bin/sh", "-c", "cat /etc/motd; echo ok"]}),
    );
    reg.push(&layout.dir, "latest", "busybox:latest", false);
    let store = tmp.path().join("store");
    let name = format!("{}/busybox:latest", reg.addr);

    let first = run(img(&store).args(["pull", &name]), true);
    assert!(
        stderr(&first).contains("3 of 3 blobs downloaded"),
        "{}",
        stderr(&first)
    );
    assert!(String::from_utf8_lossy(&first.stdout).starts_with(&format!("{name}@sha256:")));
    // Issue 20: -q silences the summary too.
    let quiet = run(img(&store).args(["pull", "-q", &name]), true);
    assert_eq!(stderr(&quiet), "");
    let second = run(img(&store).args(["pull", &name]), true);
    assert!(
        stderr(&second).contains("0 of 3 blobs downloaded (0 bytes over the wire)"),
        "{}",
        stderr(&second)
    );
    // A digest-pinned pull prints name@digest once.
    let pinned_name = String::from_utf8_lossy(&first.stdout).trim().to_string();
    let pinned = run(img(&store).args(["pull", "-q", &pinned_name]), true);
    assert_eq!(String::from_utf8_lossy(&pinned.stdout).trim(), pinned_name);
    run(img(&store).args(["rm", &pinned_name]), true);

    let ls = String::from_utf8(run(img(&store).arg("ls"), true).stdout).unwrap();
    assert!(ls.contains(&name), "{ls}");
    // Issue 20: sizes in human units; `ls` of a store that does not exist creates none.
    assert!(
        ls.lines()
            .nth(1)
            .is_some_and(|l| l.ends_with(" B") || l.ends_with("iB")),
        "{ls}"
    );
    let nowhere = tmp.path().join("no-store");
    let empty = String::from_utf8(run(img(&nowhere).arg("ls"), true).stdout).unwrap();
    assert_eq!(empty.lines().count(), 1, "{empty}");
    assert!(!nowhere.exists());
    let inspect: Value =
        serde_json::from_slice(&run(img(&store).args(["inspect", &name]), true).stdout).unwrap();
    assert_eq!(inspect["manifest"]["layers"].as_array().unwrap().len(), 2);
    assert_eq!(inspect["config"]["config"]["Cmd"][0], "/bin/sh");

    // Unpack by reference (already pulled) and run it.
    let bundle = tmp.path().join("bundle");
    run(img(&store).args(["unpack", &name]).arg(&bundle), true);
    let state = TempDir::new("runc-state");
    let id = format!("rrun-image-reg-{}", std::process::id());
    let out = rrun_run(state.path(), &bundle, &id);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from layer 2\nok\n");

    // Unpack of a reference not in the store pulls it first.
    let store2 = tmp.path().join("store2");
    run(
        img(&store2)
            .args(["unpack", "-q", &name])
            .arg(tmp.path().join("b2")),
        true,
    );
    assert!(tmp.path().join("b2/rootfs/etc/motd").is_file());

    // rm forgets the name, gc frees the blobs.
    run(img(&store).args(["rm", &name]), true);
    assert!(!String::from_utf8(run(img(&store).arg("ls"), true).stdout)
        .unwrap()
        .contains(&name));
    let gc = String::from_utf8(run(img(&store).arg("gc"), true).stdout).unwrap();
    assert!(gc.starts_with("removed 4 files"), "{gc}");
    assert_eq!(
        std::fs::read_dir(store.join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );

    // Clear errors for what is not there.
    let missing = run(
        img(&store).args(["pull", &format!("{}/nothing:here", reg.addr)]),
        false,
    );
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn multi_arch_index_resolves_to_platform() {
    let tmp = TempDir::new("multiarch");
    let reg = Registry::start();
    let mut layout = Layout::new(&tmp.path().join("layout"));
    let mut manifests = vec![];
    for arch in ["amd64", "arm64", "s390x"] {
        let mut l = Layer::new();
        l.file("arch", arch.as_bytes());
        manifests.push(layout.image_desc(
            &[(l.tar(), Compression::Gzip)],
            json!({"Cmd": ["/arch"]}),
            arch,
        ));
    }
    layout.index_of("multi", &manifests);
    reg.push(&layout.dir, "multi", "multi:1", true);
    let store = tmp.path().join("store");
    let name = format!("{}/multi:1", reg.addr);
    for arch in ["arm64", "s390x"] {
        let b = tmp.path().join(arch);
        run(
            img(&store)
                .args([
                    "unpack",
                    "-q",
                    "--platform",
                    &format!("linux/{arch}"),
                    &name,
                ])
                .arg(&b),
            true,
        );
        assert_eq!(
            std::fs::read_to_string(b.join("rootfs/arch")).unwrap(),
            arch
        );
    }
    // Without --platform the stored image is used as it is; removed, the host's is pulled.
    run(img(&store).args(["rm", &name]), true);
    let b = tmp.path().join("host");
    run(img(&store).args(["unpack", "-q", &name]).arg(&b), true);
    assert_eq!(
        std::fs::read_to_string(b.join("rootfs/arch")).unwrap(),
        host_arch()
    );
    run(img(&store).args(["rm", &name]), true);
    let none = run(
        img(&store).args(["pull", "--platform", "linux/riscv64", &name]),
        false,
    );
    assert!(
        stderr(&none).contains("no image for platform linux/riscv64"),
        "{}",
        stderr(&none)
    );
    assert!(stderr(&none).contains("linux/arm64"), "{}", stderr(&none));
}

/// What the scripted registry has seen.
#[derive(Default)]
struct Log {
    requests: Vec<String>,
}

/// A one-repository registry that demands a bearer token obtained with basic credentials,
/// answers the first manifest request 503 and the first blob request 429, and cuts the first
/// download of the big layer in the middle.
fn fake_registry(blobs: Vec<(String, Vec<u8>)>, manifest: Vec<u8>) -> (String, Arc<Mutex<Log>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let log = Arc::new(Mutex::new(Log::default()));
    let (log2, addr2) = (log.clone(), addr.clone());
    std::thread::spawn(move || {
        let mut manifest_503 = true;
        let mut blob_429 = true;
        let mut cut = true;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                    break;
                }
                headers.push(h.trim().to_ascii_lowercase());
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let auth = headers
                .iter()
                .find(|h| h.starts_with("authorization:"))
                .cloned()
                .unwrap_or_default();
            let range = headers.iter().find_map(|h| {
                h.strip_prefix("range: bytes=")
                    .map(|r| r.trim_end_matches('-').parse::<usize>().unwrap())
            });
            log2.lock().unwrap().requests.push(format!(
                "{path} {}",
                range.map(|r| format!("range={r}")).unwrap_or_default()
            ));
            let respond =
                |conn: &mut std::net::TcpStream, status: &str, extra: &str, body: &[u8]| {
                    let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
                    body.len()
                );
                    let _ = conn.write_all(body);
                };
            if path.starts_with("/token") {
                // "user:secret" in base64.
                if auth == "authorization: basic dxnlcjpzzwnyzxq=" {
                    respond(
                        &mut conn,
                        "200 OK",
                        "Content-Type: application/json\r\n",
                        br#"{"token":"tok123"}"#,
                    );
                } else {
                    respond(&mut conn, "401 Unauthorized", "", b"");
                }
                continue;
            }
            if auth != "authorization: bearer tok123" {
                let challenge = format!("WWW-Authenticate: Bearer realm=\"http://{addr2}/token\",service=\"fake\",scope=\"repository:app:pull\"\r\n");
                respond(
                    &mut conn,
                    "401 Unauthorized",
                    &challenge,
                    br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                );
                continue;
            }
            if path.starts_with("/v2/app/manifests/") {
                if std::mem::take(&mut manifest_503) {
                    respond(&mut conn, "503 Service Unavailable", "", b"");
                } else {
                    respond(
                        &mut conn,
                        "200 OK",
                        "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
                        &manifest,
                    );
                }
                continue;
            }
            let Some((_, data)) = blobs.iter().find(|(d, _)| path.ends_with(d.as_str())) else {
                respond(&mut conn, "404 Not Found", "", b"");
                continue;
            };
            if std::mem::take(&mut blob_429) {
                respond(
                    &mut conn,
                    "429 Too Many Requests",
                    "Retry-After: 0\r\n",
                    b"",
                );
                continue;
            }
            if data.len() > 100_000 && std::mem::take(&mut cut) {
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    data.len()
                );
                let _ = conn.write_all(&data[..data.len() / 2]);
                continue; // dropped: the client sees the body end early
            }
            match range {
                Some(from) => respond(
                    &mut conn,
                    "206 Partial Content",
                    &format!(
                        "Content-Range: bytes {from}-{}/{}\r\n",
                        data.len() - 1,
                        data.len()
                    ),
                    &data[from..],
                ),
                None => respond(&mut conn, "200 OK", "", data),
            }
        }
    });
    (addr, log)
}

#[test]
fn token_auth_retries_and_resume() {
    let tmp = TempDir::new("fake");
    let layout = Layout::new(&tmp.path().join("layout"));
    let desc = layout.image_desc(
        &app_layers(false),
        json!({"Cmd": ["/bin/true"]}),
        host_arch(),
    );
    let blob = |d: &Value| {
        std::fs::read(
            layout
                .dir
                .join("blobs/sha256")
                .join(&d["digest"].as_str().unwrap()[7..]),
        )
        .unwrap()
    };
    let manifest_bytes = blob(&desc);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let mut blobs = vec![(
        manifest["config"]["digest"].as_str().unwrap().to_string(),
        blob(&manifest["config"]),
    )];
    for l in manifest["layers"].as_array().unwrap() {
        blobs.push((l["digest"].as_str().unwrap().to_string(), blob(l)));
    }
    let (addr, log) = fake_registry(blobs, manifest_bytes);
    let store = tmp.path().join("store");
    let name = format!("{addr}/app:latest");

    // Without credentials the token endpoint refuses: a clear error.
    let denied = run(img(&store).args(["pull", &name]), false);
    assert!(
        stderr(&denied).contains("unauthorized"),
        "{}",
        stderr(&denied)
    );

    let mut child = img(&store)
        .args([
            "pull",
            "--parallel",
            "1",
            "--username",
            "user",
            "--password-stdin",
            &name,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let requests = log.lock().unwrap().requests.join("\n");
    assert!(
        requests.contains("range="),
        "the cut download was resumed with a Range request:\n{requests}"
    );
    // Credentials from $DOCKER_CONFIG/config.json ("user:secret").
    let docker_config = tmp.path().join("docker");
    std::fs::create_dir(&docker_config).unwrap();
    let auths = json!({"auths": {addr.clone(): {"auth": "dXNlcjpzZWNyZXQ="}}});
    std::fs::write(docker_config.join("config.json"), auths.to_string()).unwrap();
    run(
        img(&tmp.path().join("store2"))
            .env("DOCKER_CONFIG", &docker_config)
            .args(["pull", &name]),
        true,
    );
    // Issue 20: a credential helper named by credHelpers (docker-credential-<name> on PATH,
    // `get` with the server on stdin) comes before auths; a wrong secret from it is refused.
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    for (name, secret) in [("rrun-test", "secret"), ("rrun-wrong", "nope")] {
        let helper = bin.join(format!("docker-credential-{name}"));
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
                 printf '{{\"ServerURL\":\"%s\",\"Username\":\"user\",\"Secret\":\"{secret}\"}}' \"$server\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for (helper, ok) in [("rrun-test", true), ("rrun-wrong", false)] {
        let config = json!({"auths": {addr.clone(): {}}, "credHelpers": {addr.clone(): helper}});
        std::fs::write(docker_config.join("config.json"), config.to_string()).unwrap();
        let out = run(
            img(&tmp.path().join(format!("store-{helper}")))
                .env("DOCKER_CONFIG", &docker_config)
                .env("PATH", &path)
                .args(["pull", "--parallel", "1", &name]),
            ok,
        );
        if !ok {
            // The token endpoint's 401 for the helper's wrong secret, naming the user.
            assert!(
                stderr(&out).contains("refused the credentials of user (HTTP 401)"),
                "{}",
                stderr(&out)
            );
        }
    }

    let b = tmp.path().join("bundle");
    run(img(&store).args(["unpack", &name]).arg(&b), true);
    assert!(b.join("rootfs/bin/busybox").is_file());
    let mut s = String::new();
    std::fs::File::open(b.join("rootfs/etc/motd"))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "from layer 2\n");
}

#[test]
fn corrupt_blob_is_rejected_and_not_stored() {
    let tmp = TempDir::new("corrupt");
    let layout = Layout::new(&tmp.path().join("layout"));
    let desc = layout.image_desc(
        &app_layers(false),
        json!({"Cmd": ["/bin/true"]}),
        host_arch(),
    );
    let blob = |d: &Value| {
        std::fs::read(
            layout
                .dir
                .join("blobs/sha256")
                .join(&d["digest"].as_str().unwrap()[7..]),
        )
        .unwrap()
    };
    let manifest_bytes = blob(&desc);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let mut blobs = vec![(
        manifest["config"]["digest"].as_str().unwrap().to_string(),
        blob(&manifest["config"]),
    )];
    for l in manifest["layers"].as_array().unwrap() {
        blobs.push((l["digest"].as_str().unwrap().to_string(), blob(l)));
    }
    // The small layer's bytes no longer match its digest.
    let bad = blobs.last().unwrap().0.clone();
    let last = blobs.last_mut().unwrap();
    let mid = last.1.len() / 2;
    last.1[mid] ^= 0xff;
    let (addr, _log) = fake_registry(blobs, manifest_bytes);
    let store = tmp.path().join("store");
    let mut child = img(&store)
        .args([
            "pull",
            "--username",
            "user",
            "--password-stdin",
            &format!("{addr}/app:latest"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"secret\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("digest mismatch"), "{}", stderr(&out));
    assert!(
        !store.join("blobs/sha256").join(&bad[7..]).exists(),
        "a corrupt blob was stored"
    );
    assert!(
        !store.join("ingest").join(&bad[7..]).exists(),
        "a corrupt partial download was kept"
    );
    assert!(
        String::from_utf8(run(img(&store).arg("ls"), true).stdout)
            .unwrap()
            .lines()
            .count()
            == 1,
        "no image was named"
    );
}

/// A registry serving one image with no auth, one thread per connection. The first download
/// of the big blob sends `cut` bytes and then stalls (until the client goes or the server is
/// dropped); Range requests are answered 206. Stops on drop.
struct StallingRegistry {
    addr: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StallingRegistry {
    fn start(manifest: Vec<u8>, blobs: Vec<(String, Vec<u8>)>, big: String, cut: usize) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
        use std::time::{Duration, Instant};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let shared = Arc::new((manifest, blobs, big, AtomicBool::new(true)));
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut workers = vec![];
            while !stop2.load(SeqCst) && Instant::now() < deadline {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let (shared, stop) = (shared.clone(), stop2.clone());
                workers.push(std::thread::spawn(move || {
                    let (manifest, blobs, big, first) = &*shared;
                    let _ = conn.set_nonblocking(false);
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    // A TLS hello (the client tries HTTPS first): close, as a plain-HTTP
                    // server that does not understand it would.
                    let mut first_byte = [0u8];
                    if conn.peek(&mut first_byte).is_err() || first_byte[0] == 0x16 {
                        return;
                    }
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    let mut range = None;
                    loop {
                        let mut h = String::new();
                        if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                            break;
                        }
                        let h = h.trim().to_ascii_lowercase();
                        if let Some(r) = h.strip_prefix("range: bytes=") {
                            range = r.trim_end_matches('-').parse::<usize>().ok();
                        }
                    }
                    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                    let head = |status: &str, len: usize, extra: &str| {
                        format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n")
                    };
                    if path.starts_with("/v2/app/manifests/") {
                        let _ = conn.write_all(
                            head("200 OK", manifest.len(), "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n").as_bytes(),
                        );
                        let _ = conn.write_all(manifest);
                        return;
                    }
                    let Some((digest, data)) = blobs.iter().find(|(d, _)| path.ends_with(d.as_str())) else {
                        let _ = conn.write_all(head("404 Not Found", 0, "").as_bytes());
                        return;
                    };
                    if digest == big && first.swap(false, SeqCst) {
                        let _ = conn.write_all(head("200 OK", data.len(), "").as_bytes());
                        let _ = conn.write_all(&data[..cut]);
                        // Stall: the client is interrupted while it waits for the rest.
                        let until = Instant::now() + Duration::from_secs(60);
                        while !stop.load(SeqCst) && Instant::now() < until {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        return;
                    }
                    match range {
                        Some(from) if from < data.len() => {
                            let extra = format!("Content-Range: bytes {from}-{}/{}\r\n", data.len() - 1, data.len());
                            let _ = conn.write_all(head("206 Partial Content", data.len() - from, &extra).as_bytes());
                            let _ = conn.write_all(&data[from..]);
                        }
                        _ => {
                            let _ = conn.write_all(head("200 OK", data.len(), "").as_bytes());
                            let _ = conn.write_all(data);
                        }
                    }
                }));
            }
            for w in workers {
                let _ = w.join();
            }
        });
        StallingRegistry {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StallingRegistry {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Issue 20: the pull summary counts the bytes that really came over the wire. A pull is
/// interrupted (SIGINT) after its first blobs, in the middle of the big one; the next pull
/// resumes it and reports only the rest (before: the big blob's whole size).
#[test]
fn resumed_pull_reports_only_what_came_over_the_wire() {
    use std::time::{Duration, Instant};
    let tmp = TempDir::new("resume-summary");
    // Blobs are not unpacked here: any bytes do, as long as the digests match.
    let config = serde_json::to_vec(&json!({"architecture": host_arch(), "os": "linux",
        "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}))
    .unwrap();
    let small = b"small layer".repeat(100);
    let big: Vec<u8> = (0..3u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cut = 1 << 20;
    let desc = |data: &[u8], mt: &str| json!({"mediaType": mt, "digest": sha256(data), "size": data.len()});
    let layer_mt = "application/vnd.oci.image.layer.v1.tar+gzip";
    let manifest = serde_json::to_vec(&json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc(&config, "application/vnd.oci.image.config.v1+json"),
        "layers": [desc(&small, layer_mt), desc(&big, layer_mt)]}))
    .unwrap();
    let big_digest = sha256(&big);
    let blobs = vec![
        (sha256(&config), config.clone()),
        (sha256(&small), small.clone()),
        (big_digest.clone(), big.clone()),
    ];
    let reg = StallingRegistry::start(manifest, blobs, big_digest.clone(), cut);
    let store = tmp.path().join("store");
    let name = format!("{}/app:latest", reg.addr);

    let mut child = img(&store)
        .args(["pull", "--parallel", "1", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let partial = store.join("ingest").join(&big_digest[7..]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < cut as u64 {
        if let Ok(Some(_)) = child.try_wait() {
            let mut e = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut e);
            panic!("the pull ended before the big blob: {e}");
        }
        assert!(
            Instant::now() < deadline,
            "the big blob's download did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::metadata(&partial).unwrap().len(), cut as u64);

    let second = run(img(&store).args(["pull", &name]), true);
    let rest = big.len() - cut;
    assert!(
        stderr(&second).contains(&format!(
            "1 of 3 blobs downloaded ({rest} bytes over the wire; {cut} bytes resumed from an earlier pull)"
        )),
        "{}",
        stderr(&second)
    );
    // Everything stored: a third pull fetches no blob.
    let third = run(img(&store).args(["pull", &name]), true);
    assert!(
        stderr(&third).contains("0 of 3 blobs downloaded (0 bytes over the wire)"),
        "{}",
        stderr(&third)
    );
}
