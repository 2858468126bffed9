//! The container's systemd unit and where its cgroup is, from `linux.cgroupsPath` in the
//! systemd form `slice:prefix:name`, by runc's rules:
//! - no path: slice `system.slice`, prefix `rrun`, name the container id;
//! - an empty slice is `system.slice`; an empty name is the container id;
//! - the unit is the scope `<prefix>-<name>.scope` (`<name>.scope` with no prefix), or the
//!   slice `<name>` itself when the name ends with `.slice`;
//! - a slice `a-b-c.slice` lives at `/a.slice/a-b.slice/a-b-c.slice`, as systemd nests it
//!   (`-.slice` is the root).

use std::path::PathBuf;

use crate::cgroups::error::CgroupError;

/// The container's unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `docker-<id>.scope`, or a slice's name.
    pub name: String,
    /// The slice the unit goes in (`system.slice`).
    pub slice: String,
    /// The unit's cgroup below a hierarchy's root, without the leading `/`
    /// (`system.slice/docker-<id>.scope`).
    pub cgroup: PathBuf,
}

impl Unit {
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }
}

const DEFAULT_SLICE: &str = "system.slice";
const DEFAULT_PREFIX: &str = "rrun";

/// The unit of a container from its cgroupsPath (None or empty: the defaults).
pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit, CgroupError> {
    let raw = cgroups_path.unwrap_or("");
    let invalid = |reason| CgroupError::InvalidPath {
        path: raw.to_string(),
        reason,
    };
    let (slice, prefix, name) = if raw.is_empty() {
        (DEFAULT_SLICE, DEFAULT_PREFIX, id)
    } else {
        let parts: Vec<&str> = raw.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(invalid(
                "expected cgroupsPath to be of format \"slice:prefix:name\" for systemd cgroups",
            ));
        };
        (
            if slice.is_empty() {
                DEFAULT_SLICE
            } else {
                slice
            },
            prefix,
            if name.is_empty() { id } else { name },
        )
    };
    for part in [slice, prefix, name] {
        if !part.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'-' | b'\\' | b'@')
        }) {
            return Err(invalid(
                "systemd unit names hold only ASCII letters, digits and : _ . - \\ @",
            ));
        }
    }
    let slice_dir = expand_slice(slice).ok_or_else(|| {
        invalid("the slice must end in .slice, with no empty part between its dashes")
    })?;
    let unit = if name.ends_with(".slice") {
        if expand_slice(name).is_none() {
            return Err(invalid(
                "the slice must end in .slice, with no empty part between its dashes",
            ));
        }
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if unit.len() > 255 {
        return Err(invalid("the unit name is longer than 255 bytes"));
    }
    let cgroup = if unit.ends_with(".slice") {
        // A slice unit's cgroup is its own expansion (below the root, whatever slice was named).
        expand_slice(&unit).unwrap_or_default()
    } else {
        slice_dir.join(&unit)
    };
    Ok(Unit {
        name: unit,
        slice: slice.to_string(),
        cgroup,
    })
}

/// `a-b.slice` -> `a.slice/a-b.slice`; `-.slice` -> the root (empty). None if not a slice name.
pub fn expand_slice(slice: &str) -> Option<PathBuf> {
    let base = slice.strip_suffix(".slice")?;
    if slice.contains('/') || base.is_empty() {
        return None;
    }
    let mut path = PathBuf::new();
    if base == "-" {
        return Some(path);
    }
    let mut prefix = String::new();
    for component in base.split('-') {
        if component.is_empty() {
            return None;
        }
        path.push(format!("{prefix}{component}.slice"));
        prefix.push_str(component);
        prefix.push('-');
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_and_kubelet_paths() {
        let u = parse(Some("system.slice:docker:abc"), "abc").unwrap();
        assert_eq!(u.name, "docker-abc.scope");
        assert_eq!(u.slice, "system.slice");
        assert_eq!(u.cgroup, PathBuf::from("system.slice/docker-abc.scope"));
        let u = parse(
            Some("kubepods-besteffort-pod12.slice:cri-containerd:c1"),
            "c1",
        )
        .unwrap();
        assert_eq!(u.name, "cri-containerd-c1.scope");
        assert_eq!(
            u.cgroup,
            PathBuf::from(
                "kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-c1.scope"
            )
        );
    }

    #[test]
    fn defaults() {
        let u = parse(None, "c1").unwrap();
        assert_eq!(u.name, "rrun-c1.scope");
        assert_eq!(u.cgroup, PathBuf::from("system.slice/rrun-c1.scope"));
        let u = parse(Some(":libpod:"), "c2").unwrap();
        assert_eq!(u.name, "libpod-c2.scope");
        assert_eq!(u.slice, "system.slice");
        let u = parse(Some("machine.slice::x"), "c3").unwrap();
        assert_eq!(u.name, "x.scope");
        let u = parse(Some("-.slice:p:x"), "c3").unwrap();
        assert_eq!(u.cgroup, PathBuf::from("p-x.scope"));
    }

    #[test]
    fn a_slice_as_the_unit() {
        let u = parse(Some("system.slice:p:my-pod.slice"), "c").unwrap();
        assert_eq!(u.name, "my-pod.slice");
        assert!(u.is_slice());
        assert_eq!(u.cgroup, PathBuf::from("my.slice/my-pod.slice"));
    }

    #[test]
    fn malformed_paths_are_refused() {
        for bad in [
            "foo",
            "a:b",
            "a:b:c:d",
            "system:docker:x",
            "a--b.slice:p:x",
            "-a.slice:p:x",
            ".slice:p:x",
            "a/b.slice:p:x",
            "system.slice:p/q:x",
            "system.slice:p:x/../../y",
            "system.slice:p:x y",
            "system.slice:p:bad--.slice",
        ] {
            assert!(parse(Some(bad), "id").is_err(), "{bad}");
        }
        let long = "x".repeat(300);
        assert!(parse(Some(&format!("system.slice:p:{long}")), "id").is_err());
    }

    #[test]
    fn slices_expand_like_systemd() {
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("system.slice")
        );
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            PathBuf::from("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::new());
        assert!(expand_slice("a-.slice").is_none());
        assert!(expand_slice("abc").is_none());
    }
}
