//! Ownership mapping for a user-namespaced rootfs: `--uid-map/--gid-map CONTAINER:HOST:SIZE`
//! (files get the host ids that the container's ids map to) or `--rootless` (one id: the
//! invoking user owns every file, mapped to root inside).

#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    #[error("invalid id map {0:?}: expected CONTAINER:HOST:SIZE with SIZE > 0")]
    Invalid(String),
    #[error("{kind} {id} of {path} is outside the {kind} map")]
    Unmapped {
        kind: &'static str,
        id: u32,
        path: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

impl IdRange {
    pub fn parse(s: &str) -> Result<IdRange, IdMapError> {
        let bad = || IdMapError::Invalid(s.to_string());
        let parts: Vec<&str> = s.split(':').collect();
        let [c, h, n] = parts[..] else {
            return Err(bad());
        };
        let r = IdRange {
            container: c.parse().map_err(|_| bad())?,
            host: h.parse().map_err(|_| bad())?,
            size: n.parse().map_err(|_| bad())?,
        };
        if r.size == 0
            || r.container.checked_add(r.size - 1).is_none()
            || r.host.checked_add(r.size - 1).is_none()
        {
            return Err(bad());
        }
        Ok(r)
    }

    fn map(&self, id: u32) -> Option<u32> {
        (id >= self.container && id - self.container < self.size)
            .then(|| self.host + (id - self.container))
    }
}

/// How image ids become ids on disk.
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
    /// `--rootless`: every file is owned by this (uid, gid).
    pub collapse: Option<(u32, u32)>,
}

impl IdMap {
    /// Whether the rootfs is for a user namespace (config.json then gets one).
    pub fn is_userns(&self) -> bool {
        !self.uids.is_empty() || self.collapse.is_some()
    }

    /// The on-disk owner of an entry owned by (`uid`, `gid`) in the image.
    pub fn host_owner(&self, uid: u32, gid: u32, path: &str) -> Result<(u32, u32), IdMapError> {
        if let Some(ids) = self.collapse {
            return Ok(ids);
        }
        let find = |ranges: &[IdRange], id: u32, kind| {
            if ranges.is_empty() {
                return Ok(id);
            }
            ranges
                .iter()
                .find_map(|r| r.map(id))
                .ok_or_else(|| IdMapError::Unmapped {
                    kind,
                    id,
                    path: path.to_string(),
                })
        };
        Ok((find(&self.uids, uid, "uid")?, find(&self.gids, gid, "gid")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_ranges() {
        let m = IdMap {
            uids: vec![IdRange::parse("0:100000:65536").unwrap()],
            gids: vec![IdRange::parse("0:200000:10").unwrap()],
            collapse: None,
        };
        assert_eq!(m.host_owner(0, 5, "p").unwrap(), (100000, 200005));
        assert!(m.host_owner(0, 10, "p").is_err());
        assert!(IdRange::parse("0:1").is_err());
        assert!(IdRange::parse("0:1:0").is_err());
        assert!(IdRange::parse("4294967295:0:2").is_err());
        assert_eq!(IdMap::default().host_owner(7, 8, "p").unwrap(), (7, 8));
    }
}
