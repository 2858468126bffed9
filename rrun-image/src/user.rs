//! The image config's `User` (`name`, `uid`, `name:group`, `uid:gid`, ...) resolved through the
//! rootfs's own /etc/passwd and /etc/group, read through the in-root resolver so a symlinked
//! /etc/passwd cannot point at the host's. The user's supplementary groups (its /etc/group
//! memberships) become additional gids only when `User` gives no group.

use crate::error::{rootfs_err, IoError};
use librrun::rootfs::resolve::Root;
use std::io::Read;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user {user:?}: no such user in the image's /etc/passwd")]
    NoUser { user: String },
    #[error("user {user:?}: no such group {group:?} in the image's /etc/group")]
    NoGroup { user: String, group: String },
    #[error(transparent)]
    Read(#[from] IoError),
}

/// The resolved process identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

struct Passwd {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

struct Group {
    name: String,
    gid: u32,
    members: Vec<String>,
}

fn read_file(root: &Root, file: &'static str) -> Result<String, UserError> {
    let fd = match root.open_path(Path::new(file), libc::O_RDONLY) {
        Ok(fd) => fd,
        Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::ENOTDIR)) => {
            return Ok(String::new())
        }
        Err(e) => {
            return Err(
                rootfs_err("read", Path::new(file))(std::io::Error::other(e.to_string())).into(),
            )
        }
    };
    let mut s = Vec::new();
    std::fs::File::from(fd)
        .read_to_end(&mut s)
        .map_err(rootfs_err("read", Path::new(file)))?;
    Ok(String::from_utf8_lossy(&s).into_owned())
}

fn parse_passwd(s: &str) -> Vec<Passwd> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Passwd {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                home: f.get(5).map_or("/", |h| h).to_string(),
            })
        })
        .collect()
}

fn parse_group(s: &str) -> Vec<Group> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(Group {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|x| !x.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Resolve `spec` (the image's `User`, possibly empty) inside `root`.
pub fn resolve(root: &Root, spec: &str) -> Result<User, UserError> {
    resolve_in(
        &read_file(root, "/etc/passwd")?,
        &read_file(root, "/etc/group")?,
        spec,
    )
}

fn resolve_in(passwd: &str, group: &str, spec: &str) -> Result<User, UserError> {
    let users = parse_passwd(passwd);
    let groups = parse_group(group);
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry =
        match user_part.parse::<u32>() {
            Ok(uid) => users.iter().find(|p| p.uid == uid),
            Err(_) => Some(users.iter().find(|p| p.name == user_part).ok_or_else(|| {
                UserError::NoUser {
                    user: spec.to_string(),
                }
            })?),
        };
    let uid = match (user_part.parse::<u32>(), entry) {
        (Ok(uid), _) => uid,
        (Err(_), Some(p)) => p.uid,
        (Err(_), None) => unreachable!("a named user was found above"),
    };
    let gid = match group_part {
        None | Some("") => entry.map_or(0, |p| p.gid),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|x| x.name == g)
                .map(|x| x.gid)
                .ok_or_else(|| UserError::NoGroup {
                    user: spec.to_string(),
                    group: g.to_string(),
                })?,
        },
    };
    // A group given explicitly (`name:group`, `uid:gid`) is the whole group identity, as in
    // Docker: only a bare user (or an empty group) adds the user's supplementary groups.
    let explicit_group = matches!(group_part, Some(g) if !g.is_empty());
    let mut additional_gids: Vec<u32> = match entry {
        Some(_) if explicit_group => vec![],
        Some(p) => groups
            .iter()
            .filter(|g| g.members.contains(&p.name) && g.gid != gid)
            .map(|g| g.gid)
            .collect(),
        None => vec![],
    };
    additional_gids.dedup();
    Ok(User {
        uid,
        gid,
        additional_gids,
        home: entry.map_or("/".to_string(), |p| p.home.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nadm:x:4:www,root\nvideo:x:44:www\n";

    #[test]
    fn resolves_names_ids_and_groups() {
        let r = |s| resolve_in(PASSWD, GROUP, s);
        assert_eq!(
            r("").unwrap(),
            User {
                uid: 0,
                gid: 0,
                additional_gids: vec![4],
                home: "/root".into()
            }
        );
        let www = r("www").unwrap();
        assert_eq!(
            (www.uid, www.gid, www.additional_gids.clone()),
            (33, 33, vec![4, 44])
        );
        assert_eq!(www.home, "/var/www");
        assert_eq!(r("33:5").unwrap().gid, 5);
        let unknown = r("1234").unwrap();
        assert_eq!(
            (unknown.uid, unknown.gid, unknown.home.as_str()),
            (1234, 0, "/")
        );
        assert_eq!(r("1234:video").unwrap().gid, 44);
        assert!(r("nobody").is_err());
        assert!(r("www:nogroup").is_err());
    }

    #[test]
    fn explicit_group_sets_no_additional_gids() {
        let r = |s| resolve_in(PASSWD, GROUP, s).unwrap();
        for spec in [
            "www:adm",
            "www:www",
            "33:33",
            "33:video",
            "www:4",
            "root:root",
        ] {
            assert_eq!(r(spec).additional_gids, Vec::<u32>::new(), "{spec}");
        }
        assert_eq!(r("www:adm").gid, 4);
        // No group (or an empty one): the user's primary group and its memberships.
        assert_eq!(r("www").additional_gids, vec![4, 44]);
        assert_eq!(r("www:").additional_gids, vec![4, 44]);
        assert_eq!(r("33").additional_gids, vec![4, 44]);
    }
}
