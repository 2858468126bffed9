//! Decoding a tar entry: its path cleaned to one inside the root and split into parent
//! directory and final name, and the metadata its header carries (mode, owner, mtime, PAX
//! `SCHILY.xattr.*` records, device numbers).

use super::apply::{ApplyError, Result};
use librrun::rootfs::resolve::clean_components;
use std::ffi::{CString, OsStr};
use std::io::Read;
use std::path::{Path, PathBuf};

/// An entry path inside the root: `..` clamped at the root, `/` and `.` dropped.
pub(super) struct InRoot<'a> {
    /// The whole cleaned path (empty for the root itself).
    pub path: PathBuf,
    /// Its parent directory and final name; `None` for the root itself.
    pub split: Option<(PathBuf, &'a OsStr)>,
}

impl<'a> InRoot<'a> {
    pub fn new(raw: &'a Path) -> InRoot<'a> {
        let comps = clean_components(raw);
        let path = comps.iter().collect();
        let split = comps
            .split_last()
            .map(|(name, parents)| (parents.iter().collect(), *name));
        InRoot { path, split }
    }
}

/// What an entry's header says about the file besides its type and content.
pub(super) struct Meta {
    /// Permission bits with setuid, setgid and sticky (the file type bits dropped).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    /// `SCHILY.xattr.NAME` PAX records, in archive order.
    pub xattrs: Vec<(CString, Vec<u8>)>,
}

/// The metadata of `entry`, whose cleaned path is `path` (for messages).
pub(super) fn header_meta<R: Read>(entry: &mut tar::Entry<'_, R>, path: &Path) -> Result<Meta> {
    let h = entry.header();
    let field = |field| ApplyError::Header {
        path: path.to_path_buf(),
        field,
    };
    let mode = h.mode().map_err(|_| field("mode"))? & 0o7777;
    let uid = u32::try_from(h.uid().map_err(|_| field("uid"))?).map_err(|_| field("uid"))?;
    let gid = u32::try_from(h.gid().map_err(|_| field("gid"))?).map_err(|_| field("gid"))?;
    let mtime =
        i64::try_from(h.mtime().map_err(|_| field("mtime"))?).map_err(|_| field("mtime"))?;
    let mut xattrs = Vec::new();
    if let Some(exts) = entry.pax_extensions().map_err(ApplyError::Tar)? {
        for ext in exts {
            let ext = ext.map_err(ApplyError::Tar)?;
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            if let Ok(name) = CString::new(name) {
                xattrs.push((name, ext.value_bytes().to_vec()));
            }
        }
    }
    Ok(Meta {
        mode,
        uid,
        gid,
        mtime,
        xattrs,
    })
}

/// The device number of a character or block device entry (0 where the header has none).
pub(super) fn dev_t(h: &tar::Header) -> libc::dev_t {
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    libc::makedev(major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_into_the_root() {
        let p = InRoot::new(Path::new("./"));
        assert_eq!(p.path, PathBuf::new());
        assert!(p.split.is_none());
        let p = InRoot::new(Path::new("../../etc/../usr/bin/sh"));
        assert_eq!(p.path, Path::new("usr/bin/sh"));
        assert_eq!(p.split, Some((PathBuf::from("usr/bin"), OsStr::new("sh"))));
        let p = InRoot::new(Path::new("/top"));
        assert_eq!(p.split, Some((PathBuf::new(), OsStr::new("top"))));
    }

    /// A one-entry archive whose header `edit` fills in.
    fn archive(edit: impl FnOnce(&mut tar::Header), pax: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        if !pax.is_empty() {
            b.append_pax_extensions(pax.iter().copied()).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_path("f").unwrap();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o644);
        edit(&mut h);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
        b.into_inner().unwrap()
    }

    fn meta_of(data: &[u8]) -> Result<Meta> {
        let mut ar = tar::Archive::new(data);
        let mut entries = ar.entries().unwrap();
        let mut e = entries.next().unwrap().unwrap();
        header_meta(&mut e, Path::new("f"))
    }

    #[test]
    fn header_metadata() {
        let data = archive(
            |h| {
                h.set_mode(0o104755);
                h.set_uid(1000);
                h.set_gid(100);
                h.set_mtime(1_700_000_000);
            },
            &[
                ("SCHILY.xattr.security.capability", b"\x01\x02"),
                ("SCHILY.xattr.user.a", b"v"),
                ("LIBARCHIVE.other", b"ignored"),
            ],
        );
        let m = meta_of(&data).unwrap();
        assert_eq!(
            (m.mode, m.uid, m.gid, m.mtime),
            (0o4755, 1000, 100, 1_700_000_000)
        );
        let names: Vec<&[u8]> = m.xattrs.iter().map(|(n, _)| n.to_bytes()).collect();
        assert_eq!(names, [&b"security.capability"[..], b"user.a"]);
        assert_eq!(m.xattrs[0].1, b"\x01\x02");
    }

    #[test]
    fn out_of_range_owner_is_an_error() {
        // A GNU header stores large numbers in base-256.
        let data = archive(|h| h.set_uid(1 << 40), &[]);
        let err = meta_of(&data).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("f: header field uid is out of range"));
    }

    #[test]
    fn device_numbers() {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Char);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        assert_eq!(dev_t(&h), libc::makedev(1, 3));
        assert_eq!(dev_t(&tar::Header::new_old()), libc::makedev(0, 0));
    }
}
