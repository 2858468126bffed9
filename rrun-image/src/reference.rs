//! Image references: `busybox`, `library/nginx:1.25`, `user/app@sha256:...`,
//! `127.0.0.1:5000/app:tag`, `ghcr.io/org/app:tag`, normalised the way Docker does.

use super::digest::{Digest, DigestError};
use std::fmt;

/// The registry that short names (no host part) refer to.
pub const DOCKER_HUB: &str = "docker.io";
/// Docker Hub's API endpoint (docker.io itself only redirects).
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// Errors of reference parsing, each naming the reference.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference {reference:?}: {reason}")]
    Invalid {
        reference: String,
        reason: &'static str,
    },
    #[error("invalid reference {reference:?}: {source}")]
    Digest {
        reference: String,
        source: DigestError,
    },
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host (with port), e.g. `docker.io`, `127.0.0.1:5000`.
    pub host: String,
    /// Repository path, e.g. `library/busybox`.
    pub repository: String,
    /// Tag (`latest` when neither a tag nor a digest is given).
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

fn valid_path_component(c: &str) -> bool {
    // [a-z0-9]+ separated by `.`, `_`, `__` or runs of `-` (distribution's grammar, simplified
    // to: lowercase alnum at both ends, separators only inside).
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter().all(|&x| {
            x.is_ascii_lowercase() || x.is_ascii_digit() || matches!(x, b'.' | b'_' | b'-')
        })
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'.' | b'-' | b':' | b'[' | b']'))
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let invalid = |reason| ReferenceError::Invalid {
            reference: input.to_string(),
            reason,
        };
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => {
                let d = Digest::parse(d).map_err(|source| ReferenceError::Digest {
                    reference: input.to_string(),
                    source,
                })?;
                (r, Some(d))
            }
            None => (input, None),
        };
        // A tag follows the last `:` that comes after the last `/` (a `:` before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(invalid("bad tag"));
            }
        }
        let (host, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let host = if host == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            host
        };
        if !valid_host(&host) {
            return Err(invalid("bad registry host"));
        }
        let repository = if host == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty() || !repository.split('/').all(valid_path_component) {
            return Err(invalid(
                "repository must be lowercase letters, digits and . _ - separated by /",
            ));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            host,
            repository,
            tag,
            digest,
        })
    }

    /// The host to send API requests to.
    pub fn api_host(&self) -> &str {
        if self.host == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.host
        }
    }

    /// What to ask the manifest endpoint for: the digest when pinned, else the tag.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(p("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(p("library/nginx:1.25"), "docker.io/library/nginx:1.25");
        assert_eq!(p("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(p("127.0.0.1:5000/app:tag"), "127.0.0.1:5000/app:tag");
        assert_eq!(p("localhost/a/b"), "localhost/a/b:latest");
        assert_eq!(p("ghcr.io/org/app"), "ghcr.io/org/app:latest");
        assert_eq!(p("localhost:5000/app"), "localhost:5000/app:latest");
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("user/app@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_selector(), d);
        let r = Reference::parse(&format!("host.io/app:1@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.api_host(), "host.io");
        assert_eq!(
            Reference::parse("busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "UPPER", "app:", "app@sha256:00", "a//b", "-a", "a/../b"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }
}
