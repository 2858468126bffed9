//! What `checkpoint` and `restore` are asked to do: runc 1.1's flags as data, and the parsing
//! of the flags that carry a value (`--manage-cgroups-mode`, `--empty-ns`, `--page-server`),
//! with runc's error texts. Pure.

use super::error::CheckpointError;
use std::path::PathBuf;

/// `--manage-cgroups-mode`: how CRIU treats the cgroups it dumps and restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupsMode {
    Soft,
    Full,
    Strict,
    Ignore,
}

impl CgroupsMode {
    /// runc's `criuCgMode`: an empty value is CRIU's default (soft).
    pub fn parse(s: &str) -> Result<Option<CgroupsMode>, CheckpointError> {
        Ok(Some(match s {
            "" => return Ok(None),
            "soft" => CgroupsMode::Soft,
            "full" => CgroupsMode::Full,
            "strict" => CgroupsMode::Strict,
            "ignore" => CgroupsMode::Ignore,
            _ => return Err(CheckpointError::CgroupsMode(s.to_string())),
        }))
    }

    pub fn name(self) -> &'static str {
        match self {
            CgroupsMode::Soft => "soft",
            CgroupsMode::Full => "full",
            CgroupsMode::Strict => "strict",
            CgroupsMode::Ignore => "ignore",
        }
    }
}

/// `--empty-ns`: namespaces CRIU creates without restoring their contents. runc always adds
/// the network namespace (it does not manage network devices); CRIU's command line (which rrun
/// drives) can leave only that one empty, so another namespace is refused rather than ignored.
pub fn parse_empty_ns(values: &[String]) -> Result<(), CheckpointError> {
    const SPEC_NAMES: [&str; 8] = [
        "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time",
    ];
    for v in values {
        if !SPEC_NAMES.contains(&v.as_str()) {
            return Err(CheckpointError::Namespace(v.clone()));
        }
        if v != "network" {
            return Err(CheckpointError::EmptyNsNotNet(v.clone()));
        }
    }
    Ok(())
}

/// `--page-server ADDRESS:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageServer {
    pub address: String,
    pub port: u16,
}

impl PageServer {
    /// runc's `setPageServer`: exactly one `:`, a numeric port.
    pub fn parse(s: &str) -> Result<PageServer, CheckpointError> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 2 {
            return Err(CheckpointError::PageServerFormat);
        }
        let port = parts[1]
            .parse()
            .map_err(|_| CheckpointError::PageServerPort)?;
        Ok(PageServer {
            address: parts[0].to_string(),
            port,
        })
    }
}

/// `rrun checkpoint`.
#[derive(Debug, Clone)]
pub struct CheckpointOptions {
    /// The criu binary (`--criu`, a name looked up in PATH or a path).
    pub criu: PathBuf,
    /// `--image-path` (runc's default: `./checkpoint`, resolved by the caller).
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub lazy_pages: bool,
    /// `--status-fd` (-1 is unset, as in runc).
    pub status_fd: i32,
    pub page_server: Option<PageServer>,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    pub auto_dedup: bool,
}

impl CheckpointOptions {
    /// Options with runc's defaults for `image_path`.
    pub fn new(criu: PathBuf, image_path: PathBuf) -> CheckpointOptions {
        CheckpointOptions {
            criu,
            image_path,
            work_path: None,
            parent_path: None,
            leave_running: false,
            tcp_established: false,
            ext_unix_sk: false,
            shell_job: false,
            lazy_pages: false,
            status_fd: -1,
            page_server: None,
            file_locks: false,
            pre_dump: false,
            manage_cgroups_mode: None,
            auto_dedup: false,
        }
    }

    /// Whether the container stays after a successful dump (runc destroys it otherwise).
    pub fn keeps_container(&self) -> bool {
        self.leave_running || self.pre_dump
    }
}

/// `rrun restore`.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    pub criu: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgroupsMode>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    pub cgroup_driver: crate::cgroups::Driver,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_modes_as_runc() {
        assert_eq!(CgroupsMode::parse("").unwrap(), None);
        for m in ["soft", "full", "strict", "ignore"] {
            assert_eq!(CgroupsMode::parse(m).unwrap().unwrap().name(), m);
        }
        assert_eq!(
            CgroupsMode::parse("hard").unwrap_err().to_string(),
            "invalid manage-cgroups-mode value \"hard\""
        );
    }

    #[test]
    fn page_server_as_runc() {
        assert_eq!(
            PageServer::parse("10.0.0.1:27").unwrap(),
            PageServer {
                address: "10.0.0.1".into(),
                port: 27
            }
        );
        assert_eq!(
            PageServer::parse("10.0.0.1").unwrap_err().to_string(),
            "Use --page-server ADDRESS:PORT to specify page server"
        );
        assert_eq!(
            PageServer::parse("a:b").unwrap_err().to_string(),
            "Invalid port number"
        );
        assert!(PageServer::parse("::1:27").is_err());
    }

    #[test]
    fn empty_ns_only_network() {
        assert!(parse_empty_ns(&[]).is_ok());
        assert!(parse_empty_ns(&["network".into()]).is_ok());
        assert_eq!(
            parse_empty_ns(&["net".into()]).unwrap_err().to_string(),
            "namespace \"net\" is not supported"
        );
        assert!(parse_empty_ns(&["ipc".into()])
            .unwrap_err()
            .to_string()
            .contains("only the network namespace"));
    }
}
