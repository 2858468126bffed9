//! Where an image to unpack comes from: the local store (a pulled reference), an OCI image
//! layout directory (`DIR:tag`), or a `docker save` archive (`FILE.tar`). Each gives the
//! manifest's config and, per layer, an opener that hands out the layer's bytes only after
//! checking them: a store blob was checked when it was stored; a layout blob is hashed against
//! its descriptor first; an archive layer against its file name or its diff id.

use super::digest::{self, Digest, DigestError};
use super::error::{io_err, IoError};
use super::layer::stream::{detect, Compression, LayerOpener, OpenFn, UnknownCompression};
use super::manifest::Platform;
use super::manifest::{
    Descriptor, Document, ImageConfig, Index, Manifest, ManifestError, REF_NAME,
};
use super::platform::{self, PlatformError};
use super::store::{Store, StoreError};
use super::transport::ArchiveImage;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error("{layout}: no image tagged {tag:?} (tags: {tags})")]
    NoTag {
        layout: PathBuf,
        tag: String,
        tags: String,
    },
    #[error("{path}: {reason}")]
    Archive { path: PathBuf, reason: String },
    #[error("layer {digest}: {reason}")]
    LayerMediaType {
        digest: Digest,
        reason: UnknownCompression,
    },
    #[error("image has {layers} layers but its config lists {diff_ids} diff ids")]
    LayerCount { layers: usize, diff_ids: usize },
}

type Result<T> = std::result::Result<T, SourceError>;

/// An image ready to unpack.
pub struct Image {
    /// The manifest digest (the image id shown to users).
    pub digest: Digest,
    pub config: ImageConfig,
    pub diff_ids: Vec<Digest>,
    openers: Vec<Option<LayerOpener>>,
}

impl Image {
    fn new(digest: Digest, config: ImageConfig, openers: Vec<LayerOpener>) -> Result<Image> {
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != openers.len() {
            return Err(SourceError::LayerCount {
                layers: openers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        Ok(Image {
            digest,
            config,
            diff_ids,
            openers: openers.into_iter().map(Some).collect(),
        })
    }

    /// Take the opener of layer `i` (each layer is read once).
    pub fn take_layer(&mut self, i: usize) -> Option<LayerOpener> {
        self.openers.get_mut(i)?.take()
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// A layer opener that decompresses what `desc`'s media type names.
fn described(desc: &Descriptor, open: OpenFn) -> Result<LayerOpener> {
    LayerOpener::with_media_type(&desc.media_type, open).map_err(|reason| {
        SourceError::LayerMediaType {
            digest: desc.digest.clone(),
            reason,
        }
    })
}

/// Hash the whole file against `desc`, then hand it out from its start.
fn verified_file(path: PathBuf, desc: Descriptor) -> OpenFn {
    Box::new(move || {
        let mut f = File::open(&path)?;
        let h = digest::hash_reader(&mut f)?;
        digest::check(
            &format!("blob {}", path.display()),
            h,
            &desc.digest,
            desc.size,
        )
        .map_err(|e| invalid(e.to_string()))?;
        f.rewind()?;
        Ok(Box::new(f) as Box<dyn Read + Send>)
    })
}

/// A pulled image from the store.
pub fn from_store(store: &Store, name: &str) -> Result<Option<Image>> {
    let Some(desc) = store.resolve(name)? else {
        return Ok(None);
    };
    let manifest = match Document::parse(name, None, &store.read_blob(&desc)?)? {
        Document::Manifest(m) => m,
        Document::Index(_) => {
            return Err(ManifestError::MediaType {
                what: name.to_string(),
                media_type: "index (the store names platform manifests only)".to_string(),
            }
            .into())
        }
    };
    let config = ImageConfig::parse(name, &store.read_blob(&manifest.config)?)?;
    let mut openers = Vec::new();
    for l in &manifest.layers {
        let f = store.open_blob(l)?;
        let path = store.blob_path(&l.digest);
        let size = f.metadata().map_err(io_err("stat", &path))?.len();
        if size != l.size {
            return Err(DigestError::Size {
                what: format!("blob {}", l.digest),
                expected: l.size,
                actual: size,
            }
            .into());
        }
        openers.push(described(
            l,
            Box::new(move || Ok(Box::new(f) as Box<dyn Read + Send>)),
        )?);
    }
    Ok(Some(Image::new(desc.digest, config, openers)?))
}

/// Where a layout's files are: a directory, or the members of a tar of one (`oci-archive:`).
enum Blobs {
    Dir(PathBuf),
    Tar {
        path: PathBuf,
        members: std::collections::HashMap<String, Member>,
    },
}

impl Blobs {
    fn label(&self) -> &Path {
        match self {
            Blobs::Dir(p) | Blobs::Tar { path: p, .. } => p,
        }
    }

    /// A file of the layout (`index.json`, `blobs/sha256/<hex>`).
    fn read(&self, name: &str) -> Result<Vec<u8>> {
        match self {
            Blobs::Dir(dir) => {
                let path = dir.join(name);
                std::fs::read(&path).map_err(|e| io_err("read", &path)(e).into())
            }
            Blobs::Tar { path, members } => {
                let m = *members.get(name).ok_or_else(|| SourceError::Archive {
                    path: path.clone(),
                    reason: format!("no member {name:?}"),
                })?;
                let mut data = Vec::new();
                section(path, m)
                    .and_then(|mut s| s.read_to_end(&mut data))
                    .map_err(io_err("read", path))?;
                Ok(data)
            }
        }
    }

    fn blob_name(desc: &Descriptor) -> String {
        format!("blobs/sha256/{}", desc.digest.hex())
    }

    fn read_verified(&self, desc: &Descriptor) -> Result<Vec<u8>> {
        let name = Self::blob_name(desc);
        let data = self.read(&name)?;
        let mut h = digest::Hasher::default();
        h.update(&data);
        digest::check(
            &format!("blob {}", self.label().join(&name).display()),
            h,
            &desc.digest,
            desc.size,
        )?;
        Ok(data)
    }

    /// An opener that checks the blob against `desc` before handing it out.
    fn opener(&self, desc: &Descriptor) -> Result<OpenFn> {
        let name = Self::blob_name(desc);
        Ok(match self {
            Blobs::Dir(dir) => verified_file(dir.join(name), desc.clone()),
            Blobs::Tar { path, members } => {
                let m = *members.get(&name).ok_or_else(|| SourceError::Archive {
                    path: path.clone(),
                    reason: format!("no member {name:?}"),
                })?;
                let (path, desc) = (path.clone(), desc.clone());
                Box::new(move || {
                    let h = digest::hash_reader(section(&path, m)?)?;
                    digest::check(
                        &format!("blob {name} of {}", path.display()),
                        h,
                        &desc.digest,
                        desc.size,
                    )
                    .map_err(|e| invalid(e.to_string()))?;
                    Ok(Box::new(section(&path, m)?) as Box<dyn Read + Send>)
                })
            }
        })
    }
}

/// The manifest named `tag` in a layout: the one for `wanted` when the name is on several (one
/// per platform), and an index resolved to `wanted`.
fn layout_manifest(
    blobs: &Blobs,
    tag: Option<&str>,
    wanted: &Platform,
) -> Result<(Digest, Manifest)> {
    let dir = blobs.label();
    let index_path = dir.join("index.json");
    let data = blobs.read("index.json")?;
    let index: Index = serde_json::from_slice(&data).map_err(|source| ManifestError::Json {
        what: index_path.display().to_string(),
        source,
    })?;
    let tags = || {
        index
            .manifests
            .iter()
            .filter_map(|m| m.annotations.get(REF_NAME).cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let named: Vec<&Descriptor> = match tag {
        Some(t) => index
            .manifests
            .iter()
            .filter(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(t))
            .collect(),
        None if index.manifests.len() == 1 => index.manifests.iter().collect(),
        None => Vec::new(),
    };
    let desc = match named[..] {
        [] => {
            return Err(SourceError::NoTag {
                layout: dir.to_path_buf(),
                tag: tag.unwrap_or("").to_string(),
                tags: tags(),
            })
        }
        [one] => one,
        // The same name on several manifests (one per platform): the wanted platform's.
        _ => {
            let what = format!("{} (tag {:?})", dir.display(), tag.unwrap_or(""));
            platform::select_among(&what, named.iter().copied(), wanted)?
        }
    };
    let mut desc = desc.clone();
    loop {
        let what = format!("{}@{}", dir.display(), desc.digest);
        match Document::parse(&what, Some(&desc.media_type), &blobs.read_verified(&desc)?)? {
            Document::Manifest(m) => return Ok((desc.digest, m)),
            Document::Index(i) => desc = platform::select(&what, &i, wanted)?.clone(),
        }
    }
}

fn from_blobs(blobs: &Blobs, tag: Option<&str>, wanted: &Platform) -> Result<Image> {
    let (digest, manifest) = layout_manifest(blobs, tag, wanted)?;
    let config = ImageConfig::parse(
        &manifest.config.digest.to_string(),
        &blobs.read_verified(&manifest.config)?,
    )?;
    let openers = manifest
        .layers
        .iter()
        .map(|l| described(l, blobs.opener(l)?))
        .collect::<Result<_>>()?;
    Image::new(digest, config, openers)
}

/// An image of an OCI image layout directory (`oci:DIR[:TAG]`).
pub fn from_layout(dir: &Path, tag: Option<&str>, wanted: &Platform) -> Result<Image> {
    from_blobs(&Blobs::Dir(dir.to_path_buf()), tag, wanted)
}

/// An image of a tar of an OCI image layout (`oci-archive:FILE[:TAG]`), read in place.
pub fn from_oci_archive(path: &Path, tag: Option<&str>, wanted: &Platform) -> Result<Image> {
    let members = tar_members(path)?;
    if !members.contains_key("oci-layout") {
        return Err(SourceError::Archive {
            path: path.to_path_buf(),
            reason: "not a tar of an OCI image layout (no oci-layout member)".into(),
        });
    }
    from_blobs(
        &Blobs::Tar {
            path: path.to_path_buf(),
            members,
        },
        tag,
        wanted,
    )
}

/// One member of a tar file: where its data starts, and its size.
#[derive(Clone, Copy)]
struct Member {
    offset: u64,
    size: u64,
}

/// A section of a file.
fn section(path: &Path, m: Member) -> io::Result<io::Take<File>> {
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(m.offset))?;
    Ok(f.take(m.size))
}

/// The digest a `docker save` member's name promises: `blobs/sha256/<hex>`, `<hex>.json`.
fn name_digest(name: &str) -> Option<Digest> {
    let base = name.rsplit('/').next()?;
    let hex = base.strip_suffix(".json").unwrap_or(base);
    Digest::parse(&format!("sha256:{hex}")).ok()
}

/// The members of a tar file by their cleaned names.
fn tar_members(path: &Path) -> Result<std::collections::HashMap<String, Member>> {
    let file = File::open(path).map_err(io_err("open", path))?;
    let mut members = std::collections::HashMap::new();
    let mut ar = tar::Archive::new(io::BufReader::new(file));
    for e in ar.entries().map_err(io_err("read tar", path))? {
        let e = e.map_err(io_err("read tar", path))?;
        let name = e.path().map_err(io_err("read tar", path))?;
        let name = librrun::rootfs::resolve::clean_components(&name)
            .iter()
            .collect::<PathBuf>()
            .to_string_lossy()
            .into_owned();
        members.insert(
            name,
            Member {
                offset: e.raw_file_position(),
                size: e.size(),
            },
        );
    }
    Ok(members)
}

/// One image of a `docker save` archive (manifest.json format, old or OCI-style): the one
/// `which` names, or the only one.
pub fn from_docker_archive(path: &Path, which: Option<&ArchiveImage>) -> Result<Image> {
    let bad = |reason: String| SourceError::Archive {
        path: path.to_path_buf(),
        reason,
    };
    let members = tar_members(path)?;
    let read_member = |name: &str| -> Result<Vec<u8>> {
        let m = *members
            .get(name)
            .ok_or_else(|| bad(format!("no member {name:?}")))?;
        let mut data = Vec::new();
        section(path, m)
            .and_then(|mut s| s.read_to_end(&mut data))
            .map_err(io_err("read", path))?;
        Ok(data)
    };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        layers: Vec<String>,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
    }
    let entries: Vec<Entry> = serde_json::from_slice(&read_member("manifest.json")?)
        .map_err(|e| bad(format!("manifest.json: {e}")))?;
    let listing = || {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let tags = e.repo_tags.clone().unwrap_or_default();
                if tags.is_empty() {
                    format!("@{i} (untagged)")
                } else {
                    format!("@{i} ({})", tags.join(", "))
                }
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let index = match which {
        None if entries.len() == 1 => 0,
        None if entries.is_empty() => return Err(bad("manifest.json lists no image".into())),
        None => {
            return Err(bad(format!(
                "holds {} images: name one as docker-archive:FILE:NAME:TAG or :@N ({})",
                entries.len(),
                listing()
            )))
        }
        Some(ArchiveImage::Index(i)) if *i < entries.len() => *i,
        Some(ArchiveImage::Index(i)) => {
            return Err(bad(format!("no image @{i} ({})", listing())));
        }
        Some(ArchiveImage::Tag(t)) => {
            let norm = |s: &str| {
                crate::reference::Reference::parse(s)
                    .map(|r| r.to_string())
                    .unwrap_or_else(|_| s.to_string())
            };
            let want = norm(t);
            entries
                .iter()
                .position(|e| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|have| have == t || norm(have) == want)
                })
                .ok_or_else(|| bad(format!("no image tagged {t:?} ({})", listing())))?
        }
    };
    let entry = &entries[index];
    let config_data = read_member(&entry.config)?;
    let config_digest = Digest::of(&config_data);
    if let Some(d) = name_digest(&entry.config) {
        d.verify(&entry.config, &config_digest)?;
    }
    let config = ImageConfig::parse(&entry.config, &config_data)?;
    let mut openers = Vec::new();
    for (i, name) in entry.layers.iter().enumerate() {
        let m = *members
            .get(name.as_str())
            .ok_or_else(|| bad(format!("no member {name:?}")))?;
        let expected = name_digest(name);
        let diff_id = config.rootfs.diff_ids.get(i).cloned();
        let (path, name) = (path.to_path_buf(), name.clone());
        openers.push(LayerOpener::sniffed(Box::new(move || {
            let h = digest::hash_reader(section(&path, m)?)?;
            let mut head = [0u8; 4];
            let n = section(&path, m)?.read(&mut head)?;
            let actual = h.finish();
            let ok = match (&expected, &diff_id) {
                (Some(d), _) => *d == actual,
                (None, Some(d)) => *d == actual || detect(&head[..n]) != Compression::None,
                (None, None) => false,
            };
            if !ok {
                return Err(invalid(format!(
                    "{name}: digest {actual} does not match the image"
                )));
            }
            Ok(Box::new(section(&path, m)?) as Box<dyn Read + Send>)
        })));
    }
    Image::new(config_digest, config, openers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::OCI_MANIFEST;

    /// A layout whose index names two manifests `app` (linux/amd64 and linux/arm64); returns
    /// the manifests' digests in that order.
    fn two_platform_layout(dir: &Path) -> [Digest; 2] {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = Digest::of(data);
            std::fs::write(blobs.join(d.hex()), data).unwrap();
            (d, data.len())
        };
        let mut entries = Vec::new();
        let mut digests = Vec::new();
        for arch in ["amd64", "arm64"] {
            let config = format!(
                r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
            );
            let (cd, cs) = put(config.as_bytes());
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[]}}"#
            );
            let (md, ms) = put(manifest.as_bytes());
            entries.push(format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{md}","size":{ms},"platform":{{"os":"linux","architecture":"{arch}"}},"annotations":{{"{REF_NAME}":"app"}}}}"#
            ));
            digests.push(md);
        }
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        );
        std::fs::write(dir.join("index.json"), index).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        [digests[0].clone(), digests[1].clone()]
    }

    /// A directory under the system temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let p = std::env::temp_dir()
                .join(format!("rrun-image-source-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            Scratch(p)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn a_layer_of_an_unknown_compression_is_refused_by_media_type() {
        let s = Scratch::new("lz4");
        let dir = &s.0;
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let put = |data: &[u8]| {
            let d = Digest::of(data);
            std::fs::write(blobs.join(d.hex()), data).unwrap();
            (d, data.len())
        };
        let (ld, ls) = put(b"not really lz4");
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{ld}"]}}}}"#
        );
        let (cd, cs) = put(config.as_bytes());
        let lz4 = "application/vnd.oci.image.layer.v1.tar+lz4";
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"{lz4}","digest":"{ld}","size":{ls}}}]}}"#
        );
        let (md, ms) = put(manifest.as_bytes());
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{md}","size":{ms}}}]}}"#
        );
        std::fs::write(dir.join("index.json"), index).unwrap();
        let err = match from_layout(dir, None, &platform::host()) {
            Ok(_) => panic!("a +lz4 layer was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains(lz4) && err.contains(&ld.to_string()), "{err}");
    }

    #[test]
    fn a_tag_on_several_platforms_picks_the_wanted_one() {
        let s = Scratch::new("platforms");
        let dir = &s.0;
        let [amd64, arm64] = two_platform_layout(dir);
        for (wanted, expected) in [("linux/arm64", &arm64), ("linux/amd64", &amd64)] {
            let wanted = platform::parse(wanted).unwrap();
            let (digest, _) =
                layout_manifest(&Blobs::Dir(dir.clone()), Some("app"), &wanted).unwrap();
            assert_eq!(&digest, expected);
        }
        let err = layout_manifest(
            &Blobs::Dir(dir.clone()),
            Some("app"),
            &platform::parse("linux/s390x").unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("linux/amd64, linux/arm64"), "{err}");
        assert!(err.contains("linux/s390x"), "{err}");
    }
}
