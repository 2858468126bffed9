//! The local content-addressed store: an OCI image layout under `--root`
//! (`oci-layout`, `index.json`, `blobs/sha256/<hex>`), plus `ingest/` for downloads in progress.
//!
//! A blob appears under `blobs/` only after its size and sha256 were checked against its
//! descriptor (written to `ingest/`, fsynced, renamed), so every blob in the store can be used
//! without hashing it again. `index.json` names each pulled image with the
//! `org.opencontainers.image.ref.name` annotation holding its full reference.

use super::digest::{self, Digest, DigestError, Hasher};
use super::error::{io_err, IoError};
use super::manifest::{Descriptor, Document, Index, ManifestError, REF_NAME};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{path}: invalid index.json: {source}")]
    Index {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("blob {digest} is not in the store {root}")]
    MissingBlob { digest: Digest, root: PathBuf },
    #[error("no image named {name} in {root} (see `rrun-image ls`)")]
    UnknownImage { name: String, root: PathBuf },
}

type Result<T> = std::result::Result<T, StoreError>;

/// An advisory lock (flock) held until dropped.
pub struct Lock {
    _file: File,
}

/// Lock `path` (created if missing); `None` when `wait` is false and another process holds it.
pub fn flock(path: &Path, exclusive: bool, wait: bool) -> Result<Option<Lock>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))?;
    loop {
        // std's file locks are flock(2) locks on Linux, held until the file is closed.
        let r = match (exclusive, wait) {
            (true, true) => file.lock(),
            (false, true) => file.lock_shared(),
            (true, false) => file.try_lock().map_err(try_lock_error),
            (false, false) => file.try_lock_shared().map_err(try_lock_error),
        };
        match r {
            Ok(()) => return Ok(Some(Lock { _file: file })),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !wait => return Ok(None),
            Err(e) => return Err(io_err("flock", path)(e).into()),
        }
    }
}

fn try_lock_error(e: fs::TryLockError) -> io::Error {
    match e {
        fs::TryLockError::WouldBlock => io::ErrorKind::WouldBlock.into(),
        fs::TryLockError::Error(e) => e,
    }
}

/// Write `data` to `path` atomically: a temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_data()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io_err("write", path)(e).into()
    })
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// An image named in the store.
pub struct Named {
    pub name: String,
    pub descriptor: Descriptor,
}

impl Store {
    /// Open the store at `root`, creating an empty layout the first time.
    pub fn open(root: &Path) -> Result<Store> {
        let store = Store {
            root: root.to_path_buf(),
        };
        for d in [store.root.join("blobs/sha256"), store.root.join("ingest")] {
            fs::create_dir_all(&d).map_err(io_err("mkdir", &d))?;
        }
        let layout = store.root.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        if !store.index_path().exists() {
            store.write_index(&Index {
                schema_version: 2,
                media_type: Some(super::manifest::OCI_INDEX.to_string()),
                manifests: vec![],
            })?;
        }
        Ok(store)
    }

    /// The layer cache: one unpacked directory per layer, for overlay snapshots.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// The bytes an image takes in the store: manifest, config and layers (compressed).
    pub fn image_size(&self, desc: &Descriptor) -> Result<u64> {
        match Document::parse(&desc.digest.to_string(), None, &self.read_blob(desc)?)? {
            Document::Manifest(m) => {
                Ok(desc.size + m.config.size + m.layers.iter().map(|l| l.size).sum::<u64>())
            }
            Document::Index(_) => Ok(desc.size),
        }
    }

    /// A lock that pulls and unpacks hold shared and `gc` holds exclusive, so gc never removes
    /// a blob that a pull has written but not yet named.
    pub fn lock(&self, exclusive: bool) -> Result<Lock> {
        Ok(flock(&self.root.join("store.lock"), exclusive, true)?.expect("blocking flock"))
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    /// Whether the blob is present with the descriptor's size.
    pub fn has(&self, desc: &Descriptor) -> bool {
        fs::metadata(self.blob_path(&desc.digest)).is_ok_and(|m| m.len() == desc.size)
    }

    /// Open a blob for reading (already verified when it was stored).
    pub fn open_blob(&self, desc: &Descriptor) -> Result<File> {
        let p = self.blob_path(&desc.digest);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob {
                digest: desc.digest.clone(),
                root: self.root.clone(),
            }),
            Err(e) => Err(io_err("open", &p)(e).into()),
        }
    }

    pub fn read_blob(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        let p = self.blob_path(&desc.digest);
        self.open_blob(desc)?
            .read_to_end(&mut data)
            .map_err(io_err("read", &p))?;
        Ok(data)
    }

    /// Store a small document (manifest, config) after checking it against `desc`.
    pub fn put(&self, desc: &Descriptor, data: &[u8]) -> Result<()> {
        let mut h = Hasher::default();
        h.update(data);
        digest::check(&desc.digest.to_string(), h, &desc.digest, desc.size)?;
        if !self.has(desc) {
            write_atomic(&self.blob_path(&desc.digest), data)?;
        }
        Ok(())
    }

    /// Start (or resume) writing the blob of `desc`. Returns `None` when the store already has
    /// it (possibly because a concurrent pull finished it while this one waited for its lock).
    pub fn ingest(&self, desc: &Descriptor) -> Result<Option<Ingest>> {
        let path = self.root.join("ingest").join(desc.digest.hex());
        let lock = flock(&path.with_extension("lock"), true, true)?.expect("blocking flock");
        if self.has(desc) {
            return Ok(None);
        }
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err("open", &path))?;
        // Resume: what a previous, interrupted pull left is hashed again (it was never checked).
        let mut hasher = digest::hash_reader(&mut file).map_err(io_err("read", &path))?;
        if hasher.bytes_hashed() > desc.size {
            file.set_len(0).map_err(io_err("truncate", &path))?;
            hasher = Hasher::default();
        }
        Ok(Some(Ingest {
            file,
            path,
            hasher,
            desc: desc.clone(),
            store: self.clone(),
            _lock: lock,
        }))
    }

    pub fn index(&self) -> Result<Index> {
        let p = self.index_path();
        let data = fs::read(&p).map_err(io_err("read", &p))?;
        serde_json::from_slice(&data).map_err(|source| StoreError::Index { path: p, source })
    }

    fn write_index(&self, index: &Index) -> Result<()> {
        let data = serde_json::to_vec_pretty(index).expect("index serialises");
        write_atomic(&self.index_path(), &data)
    }

    /// Read-modify-write index.json under its lock.
    fn update_index(&self, f: impl FnOnce(&mut Index)) -> Result<()> {
        let _l = flock(&self.root.join("index.lock"), true, true)?;
        let mut index = self.index()?;
        f(&mut index);
        self.write_index(&index)
    }

    /// Name `desc` (a manifest or index already in the store) `name`, replacing an older entry.
    pub fn tag(&self, name: &str, desc: &Descriptor) -> Result<()> {
        let mut d = desc.clone();
        d.annotations.insert(REF_NAME.to_string(), name.to_string());
        self.update_index(|index| {
            index
                .manifests
                .retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(name));
            index.manifests.push(d);
        })
    }

    pub fn list(&self) -> Result<Vec<Named>> {
        Ok(self
            .index()?
            .manifests
            .into_iter()
            .filter_map(|d| {
                Some(Named {
                    name: d.annotations.get(REF_NAME)?.clone(),
                    descriptor: d,
                })
            })
            .collect())
    }

    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        Ok(self
            .list()?
            .into_iter()
            .find(|n| n.name == name)
            .map(|n| n.descriptor))
    }

    /// Forget the name (blobs stay until `gc`).
    pub fn remove(&self, name: &str) -> Result<()> {
        if self.resolve(name)?.is_none() {
            return Err(StoreError::UnknownImage {
                name: name.to_string(),
                root: self.root.clone(),
            });
        }
        self.update_index(|index| {
            index
                .manifests
                .retain(|m| m.annotations.get(REF_NAME).map(String::as_str) != Some(name))
        })
    }

    /// Every blob reachable from index.json, and the layers' diff ids of every image.
    pub fn reachable(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>)> {
        let mut blobs = BTreeSet::new();
        let mut diff_ids = BTreeSet::new();
        let mut todo: Vec<Descriptor> = self.index()?.manifests;
        while let Some(d) = todo.pop() {
            if !blobs.insert(d.digest.clone()) || !self.has(&d) {
                continue;
            }
            match Document::parse(&d.digest.to_string(), None, &self.read_blob(&d)?)? {
                Document::Index(i) => todo.extend(i.manifests),
                Document::Manifest(m) => {
                    if self.has(&m.config) {
                        let config = super::manifest::ImageConfig::parse(
                            &m.config.digest.to_string(),
                            &self.read_blob(&m.config)?,
                        )?;
                        diff_ids.extend(config.rootfs.diff_ids);
                    }
                    blobs.insert(m.config.digest);
                    blobs.extend(m.layers.into_iter().map(|l| l.digest));
                }
            }
        }
        Ok((blobs, diff_ids))
    }

    /// Remove unreachable blobs and abandoned downloads; returns (files removed, bytes freed).
    /// The caller holds the exclusive store lock.
    pub fn gc(&self) -> Result<(u64, u64)> {
        let (keep, _) = self.reachable()?;
        let (mut count, mut bytes) = (0, 0);
        let dir = self.root.join("blobs/sha256");
        for e in fs::read_dir(&dir).map_err(io_err("readdir", &dir))? {
            let e = e.map_err(io_err("readdir", &dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let in_use = Digest::parse(&format!("sha256:{name}")).is_ok_and(|d| keep.contains(&d));
            if !in_use {
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                fs::remove_file(e.path()).map_err(io_err("remove", &e.path()))?;
                count += 1;
            }
        }
        let dir = self.root.join("ingest");
        for e in fs::read_dir(&dir).map_err(io_err("readdir", &dir))? {
            let p = e.map_err(io_err("readdir", &dir))?.path();
            if p.extension().is_some_and(|x| x == "lock") {
                continue;
            }
            // A partial download another pull is writing is locked: leave it.
            if let Some(_l) = flock(&p.with_extension("lock"), true, false)? {
                bytes += fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
                fs::remove_file(&p).map_err(io_err("remove", &p))?;
                let _ = fs::remove_file(p.with_extension("lock"));
                count += 1;
            }
        }
        Ok((count, bytes))
    }
}

/// A blob being downloaded into `ingest/`: hashed as written, moved into `blobs/` only when
/// complete and correct.
pub struct Ingest {
    file: File,
    path: PathBuf,
    hasher: Hasher,
    desc: Descriptor,
    store: Store,
    _lock: Lock,
}

impl Ingest {
    /// Bytes already written (where a resumed download continues).
    pub fn offset(&self) -> u64 {
        self.hasher.bytes_hashed()
    }

    pub fn write(&mut self, data: &[u8]) -> Result<()> {
        self.hasher.update(data);
        self.file
            .write_all(data)
            .map_err(io_err("write", &self.path))?;
        Ok(())
    }

    /// Start again from byte 0 (the server ignored a range request).
    pub fn restart(&mut self) -> Result<()> {
        self.file
            .set_len(0)
            .map_err(io_err("truncate", &self.path))?;
        io::Seek::rewind(&mut self.file).map_err(io_err("seek", &self.path))?;
        self.hasher = Hasher::default();
        Ok(())
    }

    /// Verify size and digest, then move the blob into the store. A blob that fails the check
    /// is deleted: the next attempt starts from scratch.
    pub fn commit(self) -> Result<()> {
        let what = format!("blob {}", self.desc.digest);
        if let Err(e) = digest::check(&what, self.hasher, &self.desc.digest, self.desc.size) {
            let _ = fs::remove_file(&self.path);
            return Err(e.into());
        }
        self.file.sync_data().map_err(io_err("fsync", &self.path))?;
        let dest = self.store.blob_path(&self.desc.digest);
        fs::rename(&self.path, &dest).map_err(io_err("rename", &dest))?;
        let _ = fs::remove_file(self.path.with_extension("lock"));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(data: &[u8]) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: Digest::of(data),
            size: data.len() as u64,
            platform: None,
            annotations: Default::default(),
        }
    }

    #[test]
    fn ingest_verifies_and_resumes() {
        let tmp = std::env::temp_dir().join(format!("rrun-image-store-{}", std::process::id()));
        let store = Store::open(&tmp).unwrap();
        let d = desc(b"hello world");
        let mut i = store.ingest(&d).unwrap().unwrap();
        i.write(b"hello").unwrap();
        drop(i);
        let mut i = store.ingest(&d).unwrap().unwrap();
        assert_eq!(i.offset(), 5);
        i.write(b" world").unwrap();
        i.commit().unwrap();
        assert!(store.has(&d));
        assert!(store.ingest(&d).unwrap().is_none());

        let bad = desc(b"other");
        let mut i = store.ingest(&bad).unwrap().unwrap();
        i.write(b"othex").unwrap();
        assert!(i.commit().is_err());
        assert!(!store.has(&bad));
        assert!(!tmp.join("ingest").join(bad.digest.hex()).exists());

        store.tag("x/y:1", &d).unwrap();
        assert_eq!(store.resolve("x/y:1").unwrap().unwrap().digest, d.digest);
        store.remove("x/y:1").unwrap();
        assert!(store.remove("x/y:1").is_err());
        fs::remove_dir_all(&tmp).unwrap();
    }
}
