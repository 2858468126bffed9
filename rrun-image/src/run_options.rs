//! What a user of `docker run` sets most, for the bundle `unpack` writes: the profile, the
//! network, environment, user, bind mounts, capabilities, hostname and terminal. Parsed and
//! checked here; [`crate::convert`] puts them in config.json.

use std::path::PathBuf;

/// The defaults the bundle starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Profile {
    /// As `docker run` (Docker's capabilities, masked paths, seccomp profile, sysctls).
    #[default]
    Docker,
    /// As `runc spec` (three capabilities, no seccomp profile, no_new_privs).
    Runc,
}

/// The container's network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Net {
    /// A network namespace of its own, with only loopback (no engine wires it up).
    #[default]
    Private,
    /// The same: a new network namespace with only loopback (Docker's `--net none`).
    None,
    /// The host's network namespace (and its /etc/resolv.conf and /etc/hosts).
    Host,
}

/// `-v HOST:CTR[:ro|rw]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindVolume {
    pub host: PathBuf,
    pub container: String,
    pub readonly: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    #[error("-v {0:?}: expected HOST:CONTAINER[:ro|rw] with absolute paths")]
    Volume(String),
    #[error("-v {spec:?}: {host} does not exist")]
    VolumeMissing { spec: String, host: PathBuf },
    #[error("-e {0:?}: expected NAME=VALUE")]
    Env(String),
    #[error("--cap-add/--cap-drop {0:?}: not a capability this kernel knows (e.g. NET_ADMIN)")]
    Capability(String),
    #[error("--hostname {0:?}: a hostname is 1 to 64 letters, digits, '-' and '.'")]
    Hostname(String),
}

/// All the options; the default is what `unpack` does without any.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub profile: Profile,
    pub net: Net,
    /// `-e NAME=VALUE`, in order; a later one wins over the image's and earlier ones.
    pub env: Vec<String>,
    /// `--user name|uid[:group|gid]`: replaces the image's User.
    pub user: Option<String>,
    pub volumes: Vec<BindVolume>,
    /// Capability names, `CAP_` prefixed and upper case; `ALL` allowed.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub hostname: Option<String>,
    pub tty: bool,
}

pub fn parse_volume(spec: &str) -> Result<BindVolume, OptionError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (host, container, mode) = match parts[..] {
        [h, c] => (h, c, None),
        [h, c, m] => (h, c, Some(m)),
        _ => return Err(OptionError::Volume(spec.into())),
    };
    let readonly = match mode {
        None | Some("rw") => false,
        Some("ro") => true,
        Some(_) => return Err(OptionError::Volume(spec.into())),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(OptionError::Volume(spec.into()));
    }
    let host = PathBuf::from(host);
    if !host.exists() {
        return Err(OptionError::VolumeMissing {
            spec: spec.into(),
            host,
        });
    }
    Ok(BindVolume {
        host,
        container: container.to_string(),
        readonly,
    })
}

pub fn check_env(e: &str) -> Result<String, OptionError> {
    match e.split_once('=') {
        Some((name, _)) if !name.is_empty() => Ok(e.to_string()),
        _ => Err(OptionError::Env(e.into())),
    }
}

/// `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`.
pub fn capability(name: &str) -> Result<String, OptionError> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    if full.parse::<caps::Capability>().is_err() {
        return Err(OptionError::Capability(name.into()));
    }
    Ok(full)
}

pub fn check_hostname(h: &str) -> Result<String, OptionError> {
    let ok = !h.is_empty()
        && h.len() <= 64
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if ok {
        Ok(h.to_string())
    } else {
        Err(OptionError::Hostname(h.into()))
    }
}

/// The capability list after `--cap-drop` then `--cap-add` (Docker's order), sorted.
pub fn capabilities(base: &[String], add: &[String], drop: &[String]) -> Vec<String> {
    let mut set: std::collections::BTreeSet<String> = if drop.iter().any(|d| d == "ALL") {
        Default::default()
    } else {
        base.iter().filter(|c| !drop.contains(c)).cloned().collect()
    };
    if add.iter().any(|a| a == "ALL") {
        set.extend(caps::all().iter().map(|c| c.to_string()));
    }
    set.extend(add.iter().filter(|a| *a != "ALL").cloned());
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let v = parse_volume("/tmp:/data:ro").unwrap();
        assert_eq!(v.host, PathBuf::from("/tmp"));
        assert_eq!(v.container, "/data");
        assert!(v.readonly);
        assert!(!parse_volume("/tmp:/data").unwrap().readonly);
        for bad in ["tmp:/data", "/tmp:data", "/tmp", "/tmp:/d:rx", "/a:/b:ro:x"] {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
        assert!(parse_volume("/no/such/dir:/d")
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
    }

    #[test]
    fn capabilities_drop_then_add() {
        let base: Vec<String> = ["CAP_CHOWN", "CAP_KILL"].map(String::from).to_vec();
        assert_eq!(capability("net_admin").unwrap(), "CAP_NET_ADMIN");
        assert_eq!(capability("CAP_SYS_ADMIN").unwrap(), "CAP_SYS_ADMIN");
        assert!(capability("NO_SUCH").is_err());
        let caps = capabilities(&base, &["CAP_NET_ADMIN".into()], &["CAP_KILL".into()]);
        assert_eq!(caps, ["CAP_CHOWN", "CAP_NET_ADMIN"]);
        let caps = capabilities(&base, &["CAP_KILL".into()], &["ALL".into()]);
        assert_eq!(caps, ["CAP_KILL"]);
        assert!(capabilities(&base, &["ALL".into()], &[]).len() > 30);
    }

    #[test]
    fn env_and_hostname() {
        assert!(check_env("A=1").is_ok());
        assert!(check_env("A=").is_ok());
        assert!(check_env("=1").is_err());
        assert!(check_env("A").is_err());
        assert!(check_hostname("web-1.local").is_ok());
        assert!(check_hostname("bad host").is_err());
        assert!(check_hostname("").is_err());
    }
}
