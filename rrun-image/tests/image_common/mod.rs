//! Helpers shared by the rrun-image integration tests: tar layers with any entry (crafted ones
//! included), OCI image layouts built from them, a throw-away `docker-registry`, temp dirs.
#![allow(dead_code)]

use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub fn rrun_image() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rrun-image"))
}

/// The `rrun` binary of the same build (a sibling of rrun-image in the target directory; the
/// workspace's `cargo test` builds it, `make test-image` builds it first).
pub fn rrun() -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_rrun-image")).with_file_name("rrun");
    assert!(
        bin.exists(),
        "{} is not built: cargo build -p rrun",
        bin.display()
    );
    Command::new(bin)
}

/// `rrun run` of `bundle` in the foreground (state under `state`), required to succeed.
pub fn rrun_run(state: &Path, bundle: &Path, id: &str) -> Output {
    run(
        rrun()
            .arg("--root")
            .arg(state)
            .arg("run")
            .arg("-b")
            .arg(bundle)
            .arg(id),
        true,
    )
}

/// Run and return the output; panics with stderr when `ok` does not match the exit status.
pub fn run(cmd: &mut Command, ok: bool) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert_eq!(
        out.status.success(),
        ok,
        "{cmd:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(data)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A temporary directory removed on drop (tests run in parallel: names are unique).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "rrun-image-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tar layer built entry by entry; names are written raw (no sanitising), so tests can craft
/// hostile archives.
pub struct Layer {
    tar: Vec<u8>,
}

pub struct Entry<'a> {
    pub path: &'a str,
    pub kind: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: Option<&'a str>,
    pub data: &'a [u8],
    pub xattrs: Vec<(&'a str, &'a [u8])>,
    pub dev: (u32, u32),
}

impl<'a> Entry<'a> {
    pub fn new(path: &'a str, kind: tar::EntryType) -> Entry<'a> {
        let mode = if kind.is_dir() { 0o755 } else { 0o644 };
        Entry {
            path,
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            link: None,
            data: b"",
            xattrs: vec![],
            dev: (0, 0),
        }
    }
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = key.len() + value.len() + 3; // " " "=" "\n"
    let mut len = body_len + 1;
    while len.to_string().len() + body_len != len {
        len += 1;
    }
    let mut r = format!("{len} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

impl Layer {
    pub fn new() -> Layer {
        Layer { tar: Vec::new() }
    }

    fn header(kind: tar::EntryType, name: &[u8], size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        let n = &mut h.as_ustar_mut().unwrap().name;
        assert!(name.len() <= 100, "name too long for the test helper");
        n[..name.len()].copy_from_slice(name);
        h
    }

    fn push(&mut self, h: &mut tar::Header, data: &[u8]) {
        h.set_cksum();
        self.tar.extend_from_slice(h.as_bytes());
        self.tar.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.tar.extend(std::iter::repeat_n(0u8, pad));
    }

    pub fn entry(&mut self, e: Entry<'_>) -> &mut Self {
        if !e.xattrs.is_empty() {
            let mut pax = Vec::new();
            for (k, v) in &e.xattrs {
                pax.extend(pax_record(&format!("SCHILY.xattr.{k}"), v));
            }
            let mut h = Layer::header(tar::EntryType::XHeader, b"PaxHeader", pax.len() as u64);
            h.set_mode(0o644);
            self.push(&mut h, &pax);
        }
        let mut h = Layer::header(e.kind, e.path.as_bytes(), e.data.len() as u64);
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(e.mtime);
        if let Some(l) = e.link {
            let n = &mut h.as_ustar_mut().unwrap().linkname;
            n[..l.len()].copy_from_slice(l.as_bytes());
        }
        if matches!(e.kind, tar::EntryType::Char | tar::EntryType::Block) {
            h.set_device_major(e.dev.0).unwrap();
            h.set_device_minor(e.dev.1).unwrap();
        }
        self.push(&mut h, e.data);
        self
    }

    pub fn dir(&mut self, path: &str) -> &mut Self {
        self.entry(Entry::new(path, tar::EntryType::Directory))
    }
    pub fn file(&mut self, path: &str, data: &[u8]) -> &mut Self {
        let mut e = Entry::new(path, tar::EntryType::Regular);
        e.data = data;
        self.entry(e)
    }
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut e = Entry::new(path, tar::EntryType::Symlink);
        e.link = Some(target);
        e.mode = 0o777;
        self.entry(e)
    }
    pub fn hardlink(&mut self, path: &str, target: &str) -> &mut Self {
        let mut e = Entry::new(path, tar::EntryType::Link);
        e.link = Some(target);
        self.entry(e)
    }

    /// The finished tar (two zero blocks appended).
    pub fn tar(&self) -> Vec<u8> {
        let mut t = self.tar.clone();
        t.extend(std::iter::repeat_n(0u8, 1024));
        t
    }
}

/// A layer with static busybox and a few applets, /etc/passwd and /etc/group.
pub fn busybox_layer() -> Layer {
    let bb = std::fs::read("/bin/busybox").expect("busybox-static installed");
    let mut l = Layer::new();
    l.dir("bin/").dir("etc/").dir("tmp/");
    let mut e = Entry::new("bin/busybox", tar::EntryType::Regular);
    e.data = &bb;
    e.mode = 0o755;
    l.entry(e);
    for applet in ["sh", "echo", "cat", "ls", "id", "true", "stat"] {
        l.symlink(&format!("bin/{applet}"), "busybox");
    }
    l.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n");
    l.file(
        "etc/group",
        b"root:x:0:\nnogroup:x:65534:\napp:x:1000:\nwheel:x:10:app\n",
    );
    l
}

#[derive(Clone, Copy, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

pub fn compress(tar: &[u8], c: Compression) -> (Vec<u8>, &'static str) {
    match c {
        Compression::None => (tar.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
        Compression::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(tar).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Compression::Zstd => (
            zstd::encode_all(tar, 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    }
}

/// An OCI image layout being written.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let l = Layout {
            dir: dir.to_path_buf(),
            index: vec![],
        };
        l.write_index();
        l
    }

    pub fn blob(&self, data: &[u8], media_type: &str) -> Value {
        let d = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        json!({"mediaType": media_type, "digest": d, "size": data.len()})
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.index});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }

    /// Write an image (config from `exec`, e.g. `{"Cmd": [...]}`) and return its manifest
    /// descriptor, without naming it.
    pub fn image_desc(&self, layers: &[(Vec<u8>, Compression)], exec: Value, arch: &str) -> Value {
        let mut descs = vec![];
        let mut diff_ids = vec![];
        for (tar, c) in layers {
            let (data, mt) = compress(tar, *c);
            descs.push(self.blob(&data, mt));
            diff_ids.push(sha256(tar));
        }
        let config = json!({"architecture": arch, "os": "linux", "config": exec,
            "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let config = self.blob(
            &serde_json::to_vec(&config).unwrap(),
            "application/vnd.oci.image.config.v1+json",
        );
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": descs});
        let mut d = self.blob(
            &serde_json::to_vec(&manifest).unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
        );
        d["platform"] = json!({"os": "linux", "architecture": arch});
        d
    }

    /// Name a descriptor `tag` in index.json.
    pub fn tag(&mut self, tag: &str, desc: &Value) {
        let mut d = desc.clone();
        d["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.index.push(d);
        self.write_index();
    }

    pub fn image(&mut self, tag: &str, layers: &[(Vec<u8>, Compression)], exec: Value) -> Value {
        let d = self.image_desc(layers, exec, host_arch());
        self.tag(tag, &d);
        d
    }

    /// An index over several manifests, named `tag`.
    pub fn index_of(&mut self, tag: &str, manifests: &[Value]) {
        let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests});
        let d = self.blob(
            &serde_json::to_vec(&index).unwrap(),
            "application/vnd.oci.image.index.v1+json",
        );
        self.tag(tag, &d);
    }
}

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A `docker-registry` on 127.0.0.1:<free port>, storage in a temp dir; killed on drop.
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with("", "")
    }

    /// A registry with more configuration: `http` is added under `http:` (e.g. `tls:`, with
    /// its lines indented by 2), `top` at the top level (e.g. `auth:`).
    pub fn start_with(http: &str, top: &str) -> Registry {
        let dir = TempDir::new("registry");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{http}{top}",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry installed");
        let r = Registry {
            child,
            addr,
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(&r.addr).is_ok() {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("docker-registry did not start on {}", r.addr);
    }

    /// Push `layout:tag` as `name` (e.g. `busybox:latest`) with skopeo.
    pub fn push(&self, layout: &Path, tag: &str, name: &str, all: bool) {
        self.push_with(layout, tag, name, all, &[]);
    }

    /// `push` with more skopeo options, e.g. `--dest-creds=user:secret`.
    pub fn push_with(&self, layout: &Path, tag: &str, name: &str, all: bool, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.arg("copy").arg("--dest-tls-verify=false").args(extra);
        if all {
            cmd.arg("--all");
        }
        cmd.arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{name}", self.addr));
        run(&mut cmd, true);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Files under `root` as `path -> "type mode uid gid size|target"` for comparisons.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if ft.is_dir() {
                "dir".to_string()
            } else if ft.is_symlink() {
                format!("link->{}", std::fs::read_link(&p).unwrap().display())
            } else if ft.is_file() {
                format!("file:{}:nlink{}", md.len(), md.nlink())
            } else if ft.is_char_device() {
                format!("chr:{:x}", md.rdev())
            } else if ft.is_block_device() {
                format!("blk:{:x}", md.rdev())
            } else if ft.is_fifo() {
                "fifo".to_string()
            } else {
                "other".to_string()
            };
            let mode = if ft.is_symlink() {
                0
            } else {
                md.mode() & 0o7777
            };
            out.insert(rel, format!("{what} {mode:o} {}:{}", md.uid(), md.gid()));
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}
