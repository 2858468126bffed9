//! Issue 20: registries as users have them, each a real `docker-registry` on 127.0.0.1: HTTPS
//! with a private CA made by the test with openssl (refused until trusted; `--cert-dir`,
//! `SSL_CERT_FILE`, `--tls-verify=false`), htpasswd basic auth (`--creds`, `--authfile`,
//! docker's config.json; a wrong password is a clear 401), plain HTTP under a name that is not
//! a loopback one (`--tls-verify=false`), a client certificate from `--cert-dir` (the registry's
//! `clientcas`), and the bearer-token flow with scopes: a token server
//! in the test signing the JWTs the registry verifies against its `rootcertbundle`.
mod image_common;

use base64::Engine as _;
use image_common::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn img(store: &Path) -> Command {
    let mut c = rrun_image();
    c.arg("--root").arg(store);
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn openssl(dir: &Path, args: &[&str]) {
    run(Command::new("openssl").current_dir(dir).args(args), true);
}

/// A CA (`ca.crt`) and a server certificate it signed for 127.0.0.1 and localhost
/// (`server.crt`, `server.key`), in `dir`.
fn make_ca_and_server_cert(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=rrun-image test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

fn small_image(layout_dir: &Path) -> Layout {
    let mut layout = Layout::new(layout_dir);
    let mut l = Layer::new();
    l.dir("etc/").file("etc/motd", b"private registry\n");
    layout.image(
        "v1",
        &[(l.tar(), Compression::Gzip)],
        json!({"Cmd": ["/bin/true"]}),
    );
    layout
}

fn motd(bundle: &Path) -> String {
    std::fs::read_to_string(bundle.join("rootfs/etc/motd")).unwrap()
}

#[test]
fn https_private_ca_and_basic_auth() {
    let tmp = TempDir::new("tls");
    let certs = tmp.path().join("pki");
    std::fs::create_dir(&certs).unwrap();
    make_ca_and_server_cert(&certs);
    // htpasswd basic auth, bcrypt (the only hash docker-registry accepts).
    run(
        Command::new("htpasswd")
            .args(["-Bbc"])
            .arg(certs.join("htpasswd"))
            .args(["alice", "s3cret"]),
        true,
    );
    let reg = Registry::start_with(
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n",
            certs.join("server.crt").display(),
            certs.join("server.key").display()
        ),
        &format!(
            "auth:\n  htpasswd:\n    realm: rrun-test\n    path: {}\n",
            certs.join("htpasswd").display()
        ),
    );
    let layout = small_image(&tmp.path().join("layout"));
    reg.push_with(
        &layout.dir,
        "v1",
        "app:v1",
        false,
        &["--dest-creds=alice:s3cret"],
    );
    let name = format!("{}/app:v1", reg.addr);
    // A --cert-dir as docker and podman have them: DIR/ca.crt.
    let cert_dir = tmp.path().join("certs.d");
    std::fs::create_dir(&cert_dir).unwrap();
    std::fs::copy(certs.join("ca.crt"), cert_dir.join("ca.crt")).unwrap();

    // (a) The CA is not trusted: refused at once (no retries, no plain-HTTP fallback although
    // 127.0.0.1 allows it), naming the certificate problem and what to do.
    let started = Instant::now();
    let untrusted = run(
        img(&tmp.path().join("s-untrusted")).args(["pull", "--creds", "alice:s3cret", &name]),
        false,
    );
    let e = stderr(&untrusted);
    assert!(e.contains("TLS certificate problem with"), "{e}");
    assert!(e.contains("UnknownIssuer"), "{e}");
    assert!(e.contains("--cert-dir"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a certificate error was retried: {:?}",
        started.elapsed()
    );
    // A --cert-dir without the CA does not help either.
    let empty = tmp.path().join("empty-certs");
    std::fs::create_dir(&empty).unwrap();
    let e = stderr(&run(
        img(&tmp.path().join("s-empty"))
            .args(["pull", "--creds", "alice:s3cret", "--cert-dir"])
            .arg(&empty)
            .arg(&name),
        false,
    ));
    assert!(e.contains("UnknownIssuer"), "{e}");

    // (b) --cert-dir DIR with --creds USER:PASS, then unpack from the store.
    let store = tmp.path().join("store");
    let ok = run(
        img(&store)
            .args(["pull", "--creds", "alice:s3cret", "--cert-dir"])
            .arg(&cert_dir)
            .arg(&name),
        true,
    );
    assert!(
        stderr(&ok).contains("2 of 2 blobs downloaded"),
        "{}",
        stderr(&ok)
    );
    let b = tmp.path().join("b");
    run(img(&store).args(["unpack", "-q", &name]).arg(&b), true);
    assert_eq!(motd(&b), "private registry\n");

    // (c) SSL_CERT_FILE naming the CA, with credentials from --authfile (auth.json).
    let authfile = tmp.path().join("auth.json");
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    std::fs::write(
        &authfile,
        json!({"auths": {reg.addr.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    run(
        img(&tmp.path().join("s-env"))
            .env("SSL_CERT_FILE", certs.join("ca.crt"))
            .args(["pull", "-q", "--authfile"])
            .arg(&authfile)
            .arg(&name),
        true,
    );

    // (d) --tls-verify=false, credentials from docker's config.json.
    let docker = tmp.path().join("docker");
    std::fs::create_dir(&docker).unwrap();
    std::fs::copy(&authfile, docker.join("config.json")).unwrap();
    run(
        img(&tmp.path().join("s-noverify"))
            .env("DOCKER_CONFIG", &docker)
            .args(["pull", "-q", "--tls-verify=false", &name]),
        true,
    );

    // (e) No credentials: unauthorized, and how to log in. A wrong password: a clear 401.
    let e = stderr(&run(
        img(&tmp.path().join("s-anon"))
            .env("DOCKER_CONFIG", tmp.path().join("nowhere"))
            .args(["pull", "--cert-dir"])
            .arg(&cert_dir)
            .arg(&name),
        false,
    ));
    assert!(
        e.contains("unauthorized at") && e.contains("--creds"),
        "{e}"
    );
    let e = stderr(&run(
        img(&tmp.path().join("s-wrong"))
            .args(["pull", "--creds", "alice:wrong", "--cert-dir"])
            .arg(&cert_dir)
            .arg(&name),
        false,
    ));
    assert!(
        e.contains(&format!(
            "{} refused the credentials of alice (HTTP 401",
            reg.addr
        )),
        "{e}"
    );
    // An --authfile that does not exist is an error, not anonymous access.
    let e = stderr(&run(
        img(&tmp.path().join("s-noauthfile"))
            .args(["pull", "--authfile"])
            .arg(tmp.path().join("missing.json"))
            .arg(&name),
        false,
    ));
    assert!(e.contains("missing.json"), "{e}");
}

#[test]
fn client_certificate_from_cert_dir() {
    let tmp = TempDir::new("mtls");
    let certs = tmp.path().join("pki");
    std::fs::create_dir(&certs).unwrap();
    make_ca_and_server_cert(&certs);
    // A client certificate signed by the same CA.
    openssl(
        &certs,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "client.key",
            "-out",
            "client.csr",
            "-subj",
            "/CN=rrun-image client",
        ],
    );
    std::fs::write(
        certs.join("client.ext"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    openssl(
        &certs,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "client.cert",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
    let reg = Registry::start_with(
        &format!(
            "  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n",
            certs.join("server.crt").display(),
            certs.join("server.key").display(),
            certs.join("ca.crt").display()
        ),
        "",
    );
    // The directory as docker, podman and skopeo have it: ca.crt, client.cert, client.key.
    let dir = tmp.path().join("with-client");
    std::fs::create_dir(&dir).unwrap();
    for f in ["ca.crt", "client.cert", "client.key"] {
        std::fs::copy(certs.join(f), dir.join(f)).unwrap();
    }
    let layout = small_image(&tmp.path().join("layout"));
    reg.push_with(
        &layout.dir,
        "v1",
        "app:v1",
        false,
        &[&format!("--dest-cert-dir={}", dir.display())],
    );
    let name = format!("{}/app:v1", reg.addr);
    // The CA alone: the registry refuses the handshake, and the error says what it wants.
    let ca_only = tmp.path().join("ca-only");
    std::fs::create_dir(&ca_only).unwrap();
    std::fs::copy(certs.join("ca.crt"), ca_only.join("ca.crt")).unwrap();
    let e = stderr(&run(
        img(&tmp.path().join("s1"))
            .args(["pull", "--cert-dir"])
            .arg(&ca_only)
            .arg(&name),
        false,
    ));
    assert!(
        e.contains("wants a client certificate it trusts: NAME.cert and NAME.key"),
        "{e}"
    );
    // ca.crt + client.cert + client.key: pulled.
    let store = tmp.path().join("s2");
    run(
        img(&store)
            .args(["pull", "-q", "--cert-dir"])
            .arg(&dir)
            .arg(&name),
        true,
    );
    let b = tmp.path().join("b");
    run(img(&store).args(["unpack", "-q", &name]).arg(&b), true);
    assert_eq!(motd(&b), "private registry\n");
}

/// Run rrun-image in a mount namespace of its own whose /etc/hosts also names 127.0.0.1
/// `registry.rrun-test`: a registry name that is not a loopback one.
fn img_with_hosts(store: &Path, hosts: &Path) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/hosts && exec \"$@\"")
        .arg(hosts)
        .arg(env!("CARGO_BIN_EXE_rrun-image"))
        .arg("--root")
        .arg(store);
    c
}

#[test]
fn plain_http_registry_by_name_needs_tls_verify_false() {
    let tmp = TempDir::new("plainhttp");
    let reg = Registry::start();
    let layout = small_image(&tmp.path().join("layout"));
    reg.push(&layout.dir, "v1", "app:v1", false);
    let hosts = tmp.path().join("hosts");
    let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    h.push_str("\n127.0.0.1 registry.rrun-test\n");
    std::fs::write(&hosts, h).unwrap();
    let port = reg.addr.rsplit_once(':').unwrap().1;
    let name = format!("registry.rrun-test:{port}/app:v1");

    // Not a loopback name: HTTPS only, and the failure says what to do, at once.
    let started = Instant::now();
    let e = stderr(&run(
        img_with_hosts(&tmp.path().join("s1"), &hosts).args(["pull", &name]),
        false,
    ));
    assert!(e.contains("TLS handshake with registry.rrun-test"), "{e}");
    assert!(e.contains("--tls-verify=false"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let store = tmp.path().join("s2");
    run(
        img_with_hosts(&store, &hosts).args(["pull", "--tls-verify=false", &name]),
        true,
    );
    let b = tmp.path().join("b");
    run(img(&store).args(["unpack", "-q", &name]).arg(&b), true);
    assert_eq!(motd(&b), "private registry\n");
}

/// A token server for docker-registry's `auth: token:`: answers `GET /token?scope=..&service=..`
/// for `user:secret` (basic) with a JWT signed by `key.pem`, whose certificate is in the
/// registry's `rootcertbundle` and in the JWT's `x5c` header, granting what the scopes ask.
/// Stops on drop.
struct TokenServer {
    addr: String,
    /// The query strings it was asked, and the user or "anonymous".
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const ISSUER: &str = "rrun-test-issuer";
const SERVICE: &str = "rrun-test-registry";

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn unpercent(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JWT for `access` (the registry's claim set), RS256 over openssl.
fn sign_jwt(dir: &Path, access: serde_json::Value, subject: &str) -> String {
    let pem = std::fs::read_to_string(dir.join("token.crt")).unwrap();
    let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [der]});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let claims = json!({"iss": ISSUER, "sub": subject, "aud": SERVICE, "exp": now + 600,
        "nbf": now - 60, "iat": now - 60, "jti": format!("rrun-{}-{n}", std::process::id()),
        "access": access});
    let input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary", "-sign"])
        .arg(dir.join("token.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    format!("{input}.{}", b64url(&out.stdout))
}

impl TokenServer {
    fn start(dir: PathBuf) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log2, stop2) = (log.clone(), stop.clone());
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("user:secret")
        );
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !stop2.load(Ordering::SeqCst) && Instant::now() < deadline {
                let mut conn = match listener.accept() {
                    Ok((c, _)) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                let _ = conn.set_nonblocking(false);
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut auth = String::new();
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        if k.eq_ignore_ascii_case("authorization") {
                            auth = v.trim().to_string();
                        }
                    }
                }
                let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let query = target.split_once('?').map_or("", |q| q.1).to_string();
                let user = if auth == good {
                    "user"
                } else if auth.is_empty() {
                    "anonymous"
                } else {
                    "wrong"
                };
                log2.lock().unwrap().push(format!("{user} {query}"));
                let (status, body) = if user != "user" {
                    (
                        "401 Unauthorized",
                        r#"{"details":"bad credentials"}"#.to_string(),
                    )
                } else {
                    let mut access = vec![];
                    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
                        if k != "scope" {
                            continue;
                        }
                        for scope in unpercent(v).split(' ') {
                            let parts: Vec<&str> = scope.splitn(3, ':').collect();
                            if let [kind, name, actions] = parts[..] {
                                access.push(json!({"type": kind, "name": name,
                                    "actions": actions.split(',').collect::<Vec<_>>()}));
                            }
                        }
                    }
                    let token = sign_jwt(&dir, json!(access), user);
                    (
                        "200 OK",
                        json!({"token": token, "expires_in": 600}).to_string(),
                    )
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn bearer_token_flow_with_a_real_registry() {
    let tmp = TempDir::new("token");
    let dir = tmp.path().join("pki");
    std::fs::create_dir(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "token.key",
            "-out",
            "token.crt",
            "-days",
            "2",
            "-subj",
            "/CN=rrun-test token issuer",
            "-addext",
            "keyUsage=critical,digitalSignature,keyCertSign",
        ],
    );
    let tokens = TokenServer::start(dir.clone());
    let reg = Registry::start_with(
        "",
        &format!(
            "auth:\n  token:\n    realm: http://{}/token\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            tokens.addr,
            dir.join("token.crt").display()
        ),
    );
    let layout = small_image(&tmp.path().join("layout"));
    reg.push_with(
        &layout.dir,
        "v1",
        "team/app:v1",
        false,
        &["--dest-creds=user:secret"],
    );
    let name = format!("{}/team/app:v1", reg.addr);
    tokens.log.lock().unwrap().clear();

    // Anonymous: the token server refuses, and the error says to log in.
    let e = stderr(&run(
        img(&tmp.path().join("s-anon"))
            .env("DOCKER_CONFIG", tmp.path().join("nowhere"))
            .args(["pull", &name]),
        false,
    ));
    assert!(e.contains("unauthorized"), "{e}");
    // Wrong password: the token endpoint's 401, naming the user.
    let e = stderr(&run(
        img(&tmp.path().join("s-wrong")).args(["pull", "--creds", "user:nope", &name]),
        false,
    ));
    assert!(
        e.contains("refused the credentials of user (HTTP 401"),
        "{e}"
    );

    tokens.log.lock().unwrap().clear();
    let store = tmp.path().join("store");
    run(
        img(&store).args(["pull", "--creds", "user:secret", &name]),
        true,
    );
    let asked = tokens.log.lock().unwrap().clone();
    // One token, for pulling this repository of this service: the scope the registry's
    // challenge named.
    assert_eq!(
        asked,
        vec![format!(
            "user scope=repository%3Ateam%2Fapp%3Apull&service={SERVICE}"
        )],
        "{asked:?}"
    );
    let b = tmp.path().join("b");
    run(img(&store).args(["unpack", "-q", &name]).arg(&b), true);
    assert_eq!(motd(&b), "private registry\n");
}
