//! Platforms (`os/arch[/variant]`): this host's, parsing `--platform`, and picking the matching
//! manifest out of an index.

use super::manifest::{Descriptor, Index, Platform};

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    Invalid(String),
    #[error("no image for platform {wanted} in {what}; it has: {available}")]
    NoMatch {
        wanted: String,
        what: String,
        available: String,
    },
}

/// The Go-style (GOARCH) name of this machine's architecture and its default variant.
fn host_arch() -> (&'static str, Option<&'static str>) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    }
}

pub fn host() -> Platform {
    let (arch, variant) = host_arch();
    Platform {
        os: "linux".to_string(),
        architecture: arch.to_string(),
        variant: variant.map(str::to_string),
    }
}

pub fn parse(s: &str) -> Result<Platform, PlatformError> {
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() < 2 || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(PlatformError::Invalid(s.to_string()));
    }
    Ok(Platform {
        os: parts[0].to_string(),
        architecture: parts[1].to_string(),
        variant: parts.get(2).map(|v| v.to_string()),
    })
}

pub fn display(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// Whether `candidate` serves `wanted`: same os and architecture, and the same variant when
/// both name one (arm64 images often leave `v8` out).
fn matches(wanted: &Platform, candidate: &Platform) -> bool {
    candidate.os == wanted.os
        && candidate.architecture == wanted.architecture
        && match (&wanted.variant, &candidate.variant) {
            (Some(w), Some(c)) => w == c,
            _ => true,
        }
}

/// The manifest in `index` for `wanted`; an exact variant match wins over a variant-less one.
pub fn select<'a>(
    what: &str,
    index: &'a Index,
    wanted: &Platform,
) -> Result<&'a Descriptor, PlatformError> {
    select_among(what, &index.manifests, wanted)
}

/// The descriptor among `descs` for `wanted` (those without a platform never match); an exact
/// variant match wins over a variant-less one. The error lists the platforms there are.
pub fn select_among<'a>(
    what: &str,
    descs: impl IntoIterator<Item = &'a Descriptor>,
    wanted: &Platform,
) -> Result<&'a Descriptor, PlatformError> {
    let with_platform: Vec<(&Descriptor, &Platform)> = descs
        .into_iter()
        .filter_map(|d| Some((d, d.platform.as_ref()?)))
        .collect();
    let found = with_platform
        .iter()
        .find(|(_, p)| p.variant == wanted.variant && matches(wanted, p))
        .or_else(|| with_platform.iter().find(|(_, p)| matches(wanted, p)));
    match found {
        Some((d, _)) => Ok(d),
        None if with_platform.is_empty() => Err(PlatformError::NoMatch {
            wanted: display(wanted),
            what: what.to_string(),
            available: "no manifest naming its platform".to_string(),
        }),
        None => Err(PlatformError::NoMatch {
            wanted: display(wanted),
            what: what.to_string(),
            available: with_platform
                .iter()
                .map(|(_, p)| display(p))
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn desc(n: u8, os: &str, arch: &str, v: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: String::new(),
            digest: Digest::of(&[n]),
            size: 1,
            platform: Some(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: v.map(Into::into),
            }),
            annotations: Default::default(),
        }
    }

    #[test]
    fn picks_matching_manifest() {
        let index = Index {
            manifests: vec![
                desc(1, "linux", "arm", Some("v6")),
                desc(2, "linux", "arm", Some("v7")),
                desc(3, "linux", "amd64", None),
                desc(4, "linux", "arm64", None),
            ],
            ..Default::default()
        };
        let pick = |s| select("i", &index, &parse(s).unwrap()).map(|d| d.digest.clone());
        assert_eq!(pick("linux/arm/v7").unwrap(), Digest::of(&[2]));
        assert_eq!(pick("linux/amd64").unwrap(), Digest::of(&[3]));
        assert_eq!(pick("linux/arm64/v8").unwrap(), Digest::of(&[4]));
        let err = pick("linux/s390x").unwrap_err().to_string();
        assert!(err.contains("linux/arm/v6, linux/arm/v7"), "{err}");
        assert!(parse("linux").is_err());
    }
}
