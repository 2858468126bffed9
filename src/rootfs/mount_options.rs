//! Turning a config.json mount entry's `options` into mount(2) flags, propagation flags and the
//! file-system specific data string. Pure: unit-tested without root.

use nix::mount::MsFlags;

/// The parsed form of a mount's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount(2) call itself (MS_RDONLY, MS_NOSUID, ...), bind flags included.
    pub flags: MsFlags,
    /// Flags that clear what `flags` would set (`rw`, `suid`, ...): kept so a bind remount
    /// can tell an explicit `rw` from no option at all.
    pub cleared: MsFlags,
    /// Propagation changes applied after the mount, in order (MS_SHARED, MS_REC|MS_SLAVE...).
    pub propagation: Vec<MsFlags>,
    /// Options the kernel's file system parses (size=, mode=, newinstance...), comma-joined.
    pub data: String,
    /// `bind` or `rbind` was given (or the type is "bind").
    pub bind: bool,
    /// runc's `tmpcopyup`: copy the destination's previous content into a new tmpfs.
    pub tmpcopyup: bool,
    /// Recursive attributes (`rro`, `rnosuid`, `rnoatime`, ...: runtime-spec 1.1): the
    /// `MOUNT_ATTR_*` bits set and cleared on the mount and every mount below it.
    pub rec_attr_set: u64,
    pub rec_attr_clr: u64,
    /// `idmap` or `ridmap` (runtime-spec 1.2), the last one given: the bind gets an id
    /// mapping (src/rootfs/idmap.rs), on its top mount or on every mount of its tree.
    pub idmap: Option<IdmapOption>,
}

/// The id-mapping option of a mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdmapOption {
    /// `idmap`: the mount itself (for an `rbind`, its top mount only, as runc does).
    Idmap,
    /// `ridmap`: every mount of the (rbind) tree.
    Ridmap,
}

impl IdmapOption {
    pub fn name(self) -> &'static str {
        match self {
            IdmapOption::Idmap => "idmap",
            IdmapOption::Ridmap => "ridmap",
        }
    }
}

/// Flags an option sets (`true`) or clears (`false`).
fn flag_option(opt: &str) -> Option<(bool, MsFlags)> {
    Some(match opt {
        "defaults" => (false, MsFlags::empty()),
        "ro" => (true, MsFlags::MS_RDONLY),
        "rw" => (false, MsFlags::MS_RDONLY),
        "nosuid" => (true, MsFlags::MS_NOSUID),
        "suid" => (false, MsFlags::MS_NOSUID),
        "nodev" => (true, MsFlags::MS_NODEV),
        "dev" => (false, MsFlags::MS_NODEV),
        "noexec" => (true, MsFlags::MS_NOEXEC),
        "exec" => (false, MsFlags::MS_NOEXEC),
        "sync" => (true, MsFlags::MS_SYNCHRONOUS),
        "async" => (false, MsFlags::MS_SYNCHRONOUS),
        "dirsync" => (true, MsFlags::MS_DIRSYNC),
        "remount" => (true, MsFlags::MS_REMOUNT),
        "mand" => (true, MsFlags::MS_MANDLOCK),
        "nomand" => (false, MsFlags::MS_MANDLOCK),
        "atime" => (false, MsFlags::MS_NOATIME),
        "noatime" => (true, MsFlags::MS_NOATIME),
        "diratime" => (false, MsFlags::MS_NODIRATIME),
        "nodiratime" => (true, MsFlags::MS_NODIRATIME),
        "relatime" => (true, MsFlags::MS_RELATIME),
        "norelatime" => (false, MsFlags::MS_RELATIME),
        "strictatime" => (true, MsFlags::MS_STRICTATIME),
        "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
        "lazytime" => (true, MsFlags::MS_LAZYTIME),
        "nolazytime" => (false, MsFlags::MS_LAZYTIME),
        "silent" => (true, MsFlags::MS_SILENT),
        "loud" => (false, MsFlags::MS_SILENT),
        _ => return None,
    })
}

/// Every option rrun applies (what `features` reports as mountOptions), sorted.
pub fn known() -> Vec<&'static str> {
    const OTHERS: [&str; 4] = ["bind", "rbind", "idmap", "ridmap"];
    const FLAGS: [&str; 27] = [
        "defaults",
        "ro",
        "rw",
        "nosuid",
        "suid",
        "nodev",
        "dev",
        "noexec",
        "exec",
        "sync",
        "async",
        "dirsync",
        "remount",
        "mand",
        "nomand",
        "atime",
        "noatime",
        "diratime",
        "nodiratime",
        "relatime",
        "norelatime",
        "strictatime",
        "nostrictatime",
        "lazytime",
        "nolazytime",
        "silent",
        "loud",
    ];
    const PROPAGATION: [&str; 8] = [
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ];
    const RECURSIVE: [&str; 18] = [
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "ratime",
        "rnoatime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
    ];
    let mut all: Vec<&str> = OTHERS
        .iter()
        .chain(&FLAGS)
        .chain(&PROPAGATION)
        .chain(&RECURSIVE)
        .copied()
        .collect();
    all.sort_unstable();
    all
}

/// The `MOUNT_ATTR_*` change a recursive option names: (set, clear).
pub fn recursive_attr(opt: &str) -> Option<(u64, u64)> {
    const RDONLY: u64 = libc::MOUNT_ATTR_RDONLY;
    const NOSUID: u64 = libc::MOUNT_ATTR_NOSUID;
    const NODEV: u64 = libc::MOUNT_ATTR_NODEV;
    const NOEXEC: u64 = libc::MOUNT_ATTR_NOEXEC;
    const NODIRATIME: u64 = libc::MOUNT_ATTR_NODIRATIME;
    const NOSYMFOLLOW: u64 = libc::MOUNT_ATTR_NOSYMFOLLOW;
    // The access-time mode is one field: setting a mode clears the field first.
    const ATIME: u64 = libc::MOUNT_ATTR__ATIME;
    Some(match opt {
        "rro" => (RDONLY, 0),
        "rrw" => (0, RDONLY),
        "rnosuid" => (NOSUID, 0),
        "rsuid" => (0, NOSUID),
        "rnodev" => (NODEV, 0),
        "rdev" => (0, NODEV),
        "rnoexec" => (NOEXEC, 0),
        "rexec" => (0, NOEXEC),
        "rnodiratime" => (NODIRATIME, 0),
        "rdiratime" => (0, NODIRATIME),
        "rrelatime" => (libc::MOUNT_ATTR_RELATIME, ATIME),
        "rnorelatime" | "ratime" => (0, ATIME),
        "rnoatime" => (libc::MOUNT_ATTR_NOATIME, ATIME),
        "rstrictatime" => (libc::MOUNT_ATTR_STRICTATIME, ATIME),
        // Back to the default mode (relatime): the access-time field is cleared as a whole.
        "rnostrictatime" => (0, ATIME),
        "rnosymfollow" => (NOSYMFOLLOW, 0),
        "rsymfollow" => (0, NOSYMFOLLOW),
        _ => return None,
    })
}

/// The propagation flags an option names (`private`, `rshared`, ...).
pub fn propagation_flag(opt: &str) -> Option<MsFlags> {
    Some(match opt {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Parse a mount's `type` and `options`.
pub fn parse(typ: Option<&str>, options: &[String]) -> MountOptions {
    let mut o = MountOptions {
        flags: MsFlags::empty(),
        cleared: MsFlags::empty(),
        propagation: Vec::new(),
        data: String::new(),
        bind: typ == Some("bind"),
        tmpcopyup: false,
        rec_attr_set: 0,
        rec_attr_clr: 0,
        idmap: None,
    };
    let mut data: Vec<&str> = Vec::new();
    for opt in options {
        let opt = opt.as_str();
        if opt == "bind" {
            o.bind = true;
            o.flags |= MsFlags::MS_BIND;
        } else if opt == "rbind" {
            o.bind = true;
            o.flags |= MsFlags::MS_BIND | MsFlags::MS_REC;
        } else if opt == "tmpcopyup" {
            o.tmpcopyup = true;
        } else if opt == "idmap" {
            o.idmap = Some(IdmapOption::Idmap);
        } else if opt == "ridmap" {
            o.idmap = Some(IdmapOption::Ridmap);
        } else if let Some((set, clr)) = recursive_attr(opt) {
            // A later option wins over an earlier one for the same bits.
            o.rec_attr_set = (o.rec_attr_set & !clr & !set) | set;
            o.rec_attr_clr = (o.rec_attr_clr & !set) | clr;
        } else if let Some(p) = propagation_flag(opt) {
            o.propagation.push(p);
        } else if let Some((set, f)) = flag_option(opt) {
            if set {
                o.flags |= f;
                o.cleared &= !f;
            } else {
                o.flags &= !f;
                o.cleared |= f;
            }
        } else if !opt.is_empty() {
            data.push(opt);
        }
    }
    if o.bind {
        o.flags |= MsFlags::MS_BIND;
    }
    o.data = data.join(",");
    o
}

/// The flags that need a second, remounting call after a bind mount (a bind ignores them).
pub fn bind_remount_flags(o: &MountOptions) -> MsFlags {
    o.flags
        & (MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_NOATIME
            | MsFlags::MS_NODIRATIME
            | MsFlags::MS_RELATIME
            | MsFlags::MS_STRICTATIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn tmpfs_options() {
        let o = parse(
            Some("tmpfs"),
            &v(&["nosuid", "strictatime", "mode=755", "size=65536k"]),
        );
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert!(!o.bind);
    }

    #[test]
    fn rbind_ro_with_propagation() {
        let o = parse(Some("none"), &v(&["rbind", "ro", "rprivate", "nosuid"]));
        assert!(o.bind);
        assert!(o
            .flags
            .contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(o.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(
            bind_remount_flags(&o),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        );
    }

    #[test]
    fn later_option_wins() {
        let o = parse(Some("proc"), &v(&["ro", "rw"]));
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
    }

    /// `known()` lists exactly what the parser applies.
    #[test]
    fn known_options_are_applied() {
        for opt in known() {
            let applied = matches!(opt, "bind" | "rbind" | "idmap" | "ridmap")
                || flag_option(opt).is_some()
                || propagation_flag(opt).is_some()
                || recursive_attr(opt).is_some();
            assert!(applied, "{opt}");
            let o = parse(Some("bind"), &v(&[opt]));
            assert!(o.data.is_empty(), "{opt}");
        }
    }

    #[test]
    fn recursive_options() {
        let o = parse(Some("bind"), &v(&["rbind", "rro", "rnosuid", "rnoatime"]));
        assert_eq!(
            o.rec_attr_set,
            libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOATIME
        );
        assert_eq!(o.rec_attr_clr, libc::MOUNT_ATTR__ATIME);
        assert!(
            o.data.is_empty(),
            "recursive options are not file-system data"
        );
        let o = parse(Some("bind"), &v(&["rro", "rrw"]));
        assert_eq!(o.rec_attr_set, 0);
        assert_eq!(o.rec_attr_clr, libc::MOUNT_ATTR_RDONLY);
    }

    /// `idmap` and `ridmap` are options of rrun's own (never file-system data); the last wins.
    #[test]
    fn idmap_options() {
        assert_eq!(parse(Some("bind"), &v(&["bind"])).idmap, None);
        let o = parse(Some("bind"), &v(&["rbind", "idmap"]));
        assert_eq!(o.idmap, Some(IdmapOption::Idmap));
        assert!(o.data.is_empty());
        let o = parse(Some("none"), &v(&["idmap", "rbind", "ridmap"]));
        assert_eq!(o.idmap, Some(IdmapOption::Ridmap));
        assert_eq!(
            parse(None, &v(&["ridmap", "idmap"])).idmap,
            Some(IdmapOption::Idmap)
        );
    }

    #[test]
    fn bind_type_implies_bind() {
        let o = parse(Some("bind"), &v(&["ro"]));
        assert!(o.bind && o.flags.contains(MsFlags::MS_BIND));
    }
}
