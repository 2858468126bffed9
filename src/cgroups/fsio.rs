//! The few file operations the cgroup layer does on cgroupfs, each turning an io error into a
//! [`CgroupError`] that names the path.

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::CgroupError;

/// Read a whole file with plain read(2)s: std's helpers first fstat the file for a size hint,
/// which cgroupfs and procfs files do not have (they report 4096 or 0).
fn read_plain(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match file.read(&mut chunk)? {
            0 => break,
            n => out.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8(out).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

/// Read a whole (small) file.
pub fn read_to_string(path: &Path) -> Result<String, CgroupError> {
    read_plain(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Read a file that may be missing: `Ok(None)` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match read_plain(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Write `value` to an existing cgroupfs file with one write(2), as the kernel expects.
pub fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let err = |source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(false)
        .open(path)
        .map_err(err)?;
    file.write_all(value.as_bytes()).map_err(err)
}

/// Writes to several cgroupfs files, opening each file once: cgroupfs takes every write(2)
/// on an open file as a separate value, so a list of device rules or io.max lines costs one
/// open per file instead of one per line.
#[derive(Default)]
pub struct Writer {
    open: Vec<(PathBuf, std::fs::File)>,
}

impl Writer {
    pub fn write(&mut self, path: &Path, value: &str) -> Result<(), CgroupError> {
        let err = |source| CgroupError::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            source,
        };
        let index = match self.open.iter().position(|(p, _)| p == path) {
            Some(i) => i,
            None => {
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .open(path)
                    .map_err(err)?;
                self.open.push((path.to_path_buf(), file));
                self.open.len() - 1
            }
        };
        self.open[index].1.write_all(value.as_bytes()).map_err(err)
    }
}

/// `mkdir` every missing component of `dir` below `base` (which must exist); returns the
/// directories that were created, outermost first.
pub fn mkdir_below(base: &Path, dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut created = Vec::new();
    let rel = dir.strip_prefix(base).unwrap_or(Path::new(""));
    let mut current = base.to_path_buf();
    for component in rel.components() {
        current.push(component);
        match std::fs::create_dir(&current) {
            Ok(()) => created.push(current.clone()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => {
                return Err(CgroupError::Dir {
                    syscall: "mkdir",
                    path: current,
                    source,
                })
            }
        }
    }
    Ok(created)
}

/// The child directories of a cgroup directory (its sub-cgroups).
pub fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CgroupError::Dir {
                syscall: "readdir",
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CgroupError::Dir {
            syscall: "readdir",
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Remove a cgroup directory and the sub-cgroups inside it, deepest first. A cgroup answers
/// EBUSY while it has sub-cgroups (removed first, then retried) or (exiting) processes (retried
/// a few times with a growing pause). A directory already gone is fine.
pub fn remove_cgroup_tree(dir: &Path) -> Result<(), CgroupError> {
    let mut pause = Duration::from_millis(1);
    for _ in 0..12 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                let children = subdirs(dir)?;
                if children.is_empty() {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                for child in children {
                    remove_cgroup_tree(&child)?;
                }
            }
            Err(source) => {
                return Err(CgroupError::Dir {
                    syscall: "rmdir",
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
    Err(CgroupError::Busy {
        path: dir.to_path_buf(),
    })
}

/// The pids listed in `cgroup.procs` of `dir` and of every sub-cgroup below it.
pub fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    if let Some(text) = read_optional(&dir.join("cgroup.procs"))? {
        out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    for child in subdirs(dir)? {
        procs_recursive(&child, out)?;
    }
    Ok(())
}
