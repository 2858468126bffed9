//! Where a SOURCE argument points, in skopeo's transport names and rrun-image's short forms:
//!
//! | form | source |
//! |---|---|
//! | `docker://REF`, or a bare `REF` | the store; pulled from the registry when absent |
//! | `oci:DIR[:TAG]`, or `DIR[:TAG]` where DIR holds `oci-layout` | an OCI image layout |
//! | `oci-archive:FILE[:TAG]` | a tar of an OCI image layout |
//! | `docker-archive:FILE[:NAME:TAG or @N]`, or an existing `FILE` | a `docker save` archive |
//!
//! As in skopeo, the path of `oci:` and `oci-archive:` ends at the first `:`; a
//! `docker-archive:` path ends at the first `:` too, and what follows names one image of the
//! archive (by one of its tags, or by its position). An argument that starts like a path
//! (`/`, `./`, `../`) is a path, never a registry reference: one that does not exist says so.

use std::path::{Path, PathBuf};

/// Which image of a `docker save` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveImage {
    /// One of its RepoTags (`test/app:v1`, `docker.io/library/busybox:latest`).
    Tag(String),
    /// Its position in manifest.json (`@0`).
    Index(usize),
}

/// A parsed SOURCE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceName {
    Registry(String),
    Layout {
        dir: PathBuf,
        tag: Option<String>,
    },
    OciArchive {
        file: PathBuf,
        tag: Option<String>,
    },
    DockerArchive {
        file: PathBuf,
        image: Option<ArchiveImage>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("{arg}: {path} does not exist")]
    Missing { arg: String, path: PathBuf },
    #[error("{arg}: {path} is not an OCI image layout (it has no oci-layout file)")]
    NotALayout { arg: String, path: PathBuf },
    #[error("{arg}: {path} is not a file")]
    NotAFile { arg: String, path: PathBuf },
    #[error("{arg}: {reason}")]
    Invalid { arg: String, reason: &'static str },
    #[error(
        "{arg}: the {transport}: transport is not supported \
         (use docker://, oci:, oci-archive: or docker-archive:)"
    )]
    Unsupported { arg: String, transport: String },
}

/// skopeo's transports that rrun-image does not read.
const UNSUPPORTED: &[&str] = &[
    "containers-storage",
    "docker-daemon",
    "dir",
    "ostree",
    "sif",
    "tarball",
];

fn is_layout(p: &Path) -> bool {
    p.join("oci-layout").is_file()
}

fn split_first(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.filter(|t| !t.is_empty()).map(String::from)
}

/// Parse a SOURCE argument (checking that named paths exist and are what they must be).
pub fn parse(arg: &str) -> Result<SourceName, TransportError> {
    let missing = |path: &Path| TransportError::Missing {
        arg: arg.to_string(),
        path: path.to_path_buf(),
    };
    if let Some(rest) = arg.strip_prefix("docker://") {
        if rest.is_empty() {
            return Err(TransportError::Invalid {
                arg: arg.into(),
                reason: "no image reference after docker://",
            });
        }
        return Ok(SourceName::Registry(rest.to_string()));
    }
    if let Some(rest) = arg.strip_prefix("oci:") {
        let (dir, tag) = split_first(rest);
        let dir = PathBuf::from(dir);
        if !dir.exists() {
            return Err(missing(&dir));
        }
        if !is_layout(&dir) {
            return Err(TransportError::NotALayout {
                arg: arg.into(),
                path: dir,
            });
        }
        return Ok(SourceName::Layout {
            dir,
            tag: nonempty(tag),
        });
    }
    for (prefix, oci) in [("oci-archive:", true), ("docker-archive:", false)] {
        let Some(rest) = arg.strip_prefix(prefix) else {
            continue;
        };
        let (file, name) = split_first(rest);
        let file = PathBuf::from(file);
        if !file.exists() {
            return Err(missing(&file));
        }
        if !file.is_file() {
            return Err(TransportError::NotAFile {
                arg: arg.into(),
                path: file,
            });
        }
        if oci {
            return Ok(SourceName::OciArchive {
                file,
                tag: nonempty(name),
            });
        }
        let image = match nonempty(name) {
            None => None,
            Some(n) => match n.strip_prefix('@') {
                Some(i) => Some(ArchiveImage::Index(i.parse().map_err(|_| {
                    TransportError::Invalid {
                        arg: arg.into(),
                        reason: "@N must be a number (the image's position in the archive)",
                    }
                })?)),
                None => Some(ArchiveImage::Tag(n)),
            },
        };
        return Ok(SourceName::DockerArchive { file, image });
    }
    if let Some((transport, _)) = arg.split_once(':') {
        if UNSUPPORTED.contains(&transport) {
            return Err(TransportError::Unsupported {
                arg: arg.into(),
                transport: transport.into(),
            });
        }
    }
    // The short forms: an existing layout (DIR or DIR:TAG), an existing archive file.
    let path = Path::new(arg);
    if is_layout(path) {
        return Ok(SourceName::Layout {
            dir: path.to_path_buf(),
            tag: None,
        });
    }
    if let Some((dir, tag)) = arg.rsplit_once(':') {
        if is_layout(Path::new(dir)) {
            return Ok(SourceName::Layout {
                dir: PathBuf::from(dir),
                tag: nonempty(Some(tag)),
            });
        }
    }
    if path.is_file() {
        return Ok(SourceName::DockerArchive {
            file: path.to_path_buf(),
            image: None,
        });
    }
    let looks_like_path = arg.starts_with('/') || arg.starts_with("./") || arg.starts_with("../");
    if looks_like_path {
        let bare = arg.rsplit_once(':').map_or(arg, |(d, _)| d);
        let p = Path::new(bare);
        if p.is_dir() {
            return Err(TransportError::NotALayout {
                arg: arg.into(),
                path: p.to_path_buf(),
            });
        }
        return Err(missing(path));
    }
    Ok(SourceName::Registry(arg.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tmp() -> Tmp {
        let p = std::env::temp_dir().join(format!("rrun-image-transport-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("layout")).unwrap();
        std::fs::write(p.join("layout/oci-layout"), "{}").unwrap();
        std::fs::create_dir_all(p.join("plain")).unwrap();
        std::fs::write(p.join("a.tar"), "").unwrap();
        Tmp(p)
    }

    #[test]
    fn skopeo_names_and_short_forms() {
        let t = tmp();
        let d = t.0.display();
        let layout = t.0.join("layout");
        let tar = t.0.join("a.tar");
        let cases = [
            ("busybox", SourceName::Registry("busybox".into())),
            (
                "docker://127.0.0.1:5000/a/b:1",
                SourceName::Registry("127.0.0.1:5000/a/b:1".into()),
            ),
            (
                "localhost:5000/x",
                SourceName::Registry("localhost:5000/x".into()),
            ),
            (
                &format!("oci:{d}/layout:v1"),
                SourceName::Layout {
                    dir: layout.clone(),
                    tag: Some("v1".into()),
                },
            ),
            (
                &format!("oci:{d}/layout"),
                SourceName::Layout {
                    dir: layout.clone(),
                    tag: None,
                },
            ),
            (
                &format!("{d}/layout:v1"),
                SourceName::Layout {
                    dir: layout.clone(),
                    tag: Some("v1".into()),
                },
            ),
            (
                &format!("{d}/layout"),
                SourceName::Layout {
                    dir: layout.clone(),
                    tag: None,
                },
            ),
            (
                &format!("oci-archive:{d}/a.tar:v2"),
                SourceName::OciArchive {
                    file: tar.clone(),
                    tag: Some("v2".into()),
                },
            ),
            (
                &format!("docker-archive:{d}/a.tar:test/app:v1"),
                SourceName::DockerArchive {
                    file: tar.clone(),
                    image: Some(ArchiveImage::Tag("test/app:v1".into())),
                },
            ),
            (
                &format!("docker-archive:{d}/a.tar:@1"),
                SourceName::DockerArchive {
                    file: tar.clone(),
                    image: Some(ArchiveImage::Index(1)),
                },
            ),
            (
                &format!("docker-archive:{d}/a.tar"),
                SourceName::DockerArchive {
                    file: tar.clone(),
                    image: None,
                },
            ),
            (
                &format!("{d}/a.tar"),
                SourceName::DockerArchive {
                    file: tar.clone(),
                    image: None,
                },
            ),
        ];
        for (arg, want) in cases {
            assert_eq!(parse(arg).unwrap(), want, "{arg}");
        }
    }

    #[test]
    fn clear_errors() {
        let t = tmp();
        let d = t.0.display();
        let err = |arg: &str| parse(arg).unwrap_err().to_string();
        assert!(err("/nonexistent/dir").contains("/nonexistent/dir does not exist"));
        assert!(err("./nope:v1").contains("does not exist"));
        assert!(err(&format!("{d}/plain")).contains("is not an OCI image layout"));
        assert!(err(&format!("{d}/plain:v1")).contains("is not an OCI image layout"));
        assert!(err(&format!("oci:{d}/plain:v1")).contains("is not an OCI image layout"));
        assert!(err(&format!("oci:{d}/none")).contains("does not exist"));
        assert!(err(&format!("docker-archive:{d}/none.tar")).contains("does not exist"));
        assert!(err(&format!("docker-archive:{d}/plain")).contains("is not a file"));
        assert!(err(&format!("docker-archive:{d}/a.tar:@x")).contains("@N must be a number"));
        assert!(err("containers-storage:busybox").contains("not supported"));
        assert!(err("docker://").contains("no image reference"));
    }
}
