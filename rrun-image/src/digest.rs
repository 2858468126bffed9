//! Content digests (`sha256:<hex>`): parsing, and hashing while reading or writing.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read};

/// Errors about digests.
#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    Invalid(String),
    #[error("{what}: digest mismatch: expected {expected}, got {actual}")]
    Mismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{what}: size mismatch: expected {expected} bytes, got {actual}")]
    Size {
        what: String,
        expected: u64,
        actual: u64,
    },
}

/// A validated sha256 digest. Only sha256 is accepted: it is what registries and the
/// image-spec use, and a single algorithm keeps blob paths simple (`blobs/sha256/<hex>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parse `sha256:<hex>`; the hex part must be exactly 64 lowercase hex digits, so it is
    /// safe to use as a file name.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| DigestError::Invalid(s.to_string()))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(DigestError::Invalid(s.to_string()));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(data))
    }

    fn from_hasher(h: Sha256) -> Digest {
        let out = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in out {
            hex.push_str(&format!("{b:02x}"));
        }
        Digest { hex }
    }

    /// The 64 hex digits, used as the blob's file name.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Fail with a mismatch error naming `what` unless `actual` equals `self`.
    pub fn verify(&self, what: &str, actual: &Digest) -> Result<(), DigestError> {
        if self == actual {
            Ok(())
        } else {
            Err(DigestError::Mismatch {
                what: what.to_string(),
                expected: self.clone(),
                actual: actual.clone(),
            })
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An incremental sha256 that also counts bytes.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.sha.update(data);
        self.len += data.len() as u64;
    }

    pub fn bytes_hashed(&self) -> u64 {
        self.len
    }

    pub fn finish(self) -> Digest {
        Digest::from_hasher(self.sha)
    }
}

/// Check that `hasher` saw exactly `size` bytes hashing to `expected`.
pub fn check(what: &str, hasher: Hasher, expected: &Digest, size: u64) -> Result<(), DigestError> {
    if hasher.bytes_hashed() != size {
        return Err(DigestError::Size {
            what: what.to_string(),
            expected: size,
            actual: hasher.bytes_hashed(),
        });
    }
    expected.verify(what, &hasher.finish())
}

/// Hash a whole reader (in 1 MiB reads) and return its digest and length.
pub fn hash_reader(mut r: impl Read) -> io::Result<Hasher> {
    let mut h = Hasher::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(h),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_hash() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert!(Digest::parse("sha256:../../etc").is_err());
        assert!(Digest::parse("md5:00").is_err());
        assert!(Digest::parse(&d.to_string().to_uppercase()).is_err());
        let h = hash_reader(&b"abc"[..]).unwrap();
        assert!(check("x", h.clone(), &Digest::of(b"abc"), 3).is_ok());
        assert!(check("x", h, &Digest::of(b"abc"), 4).is_err());
    }
}
