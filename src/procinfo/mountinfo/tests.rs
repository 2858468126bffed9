//! The mountinfo parser on real lines and on hostile ones: escapes, bytes that are not UTF-8,
//! missing fields, truncation, garbage. Errors, never panics.

use super::*;

fn line(s: &str) -> Result<MountInfo, LineError> {
    parse_line(s.as_bytes())
}

#[test]
fn every_field_of_a_full_line() {
    let m = line(
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue",
    )
    .unwrap();
    assert_eq!((m.mount_id, m.parent_id, m.major, m.minor), (36, 35, 98, 0));
    assert_eq!(m.root, Path::new("/mnt1"));
    assert_eq!(m.mount_point, Path::new("/mnt2"));
    assert_eq!(m.mount_options, ["rw", "noatime"]);
    assert_eq!(m.optional_fields, ["master:1", "shared:7"]);
    assert_eq!(m.fs_type, "ext3");
    assert_eq!(m.source, "/dev/root");
    assert_eq!(m.super_options, ["rw", "errors=continue"]);
}

#[test]
fn no_optional_fields_and_an_empty_source() {
    let m = line("41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2  rw").unwrap();
    assert!(m.optional_fields.is_empty());
    assert_eq!(m.fs_type, "cgroup2");
    assert_eq!(m.source, "");
    assert_eq!(m.super_options, ["rw"]);
    let m = line("1 2 0:3 / /x rw - tmpfs tmpfs ").unwrap();
    assert!(m.super_options.is_empty());
}

#[test]
fn escapes_are_undone_once() {
    let m = line(r"1 2 0:3 /a\040b /tmp/my\040dir\011tab\012nl rw - tmpfs my\134src rw").unwrap();
    assert_eq!(m.root, Path::new("/a b"));
    assert_eq!(m.mount_point, Path::new("/tmp/my dir\ttab\nnl"));
    assert_eq!(m.source, r"my\src");
    // \134 gives a backslash; the digits after it are not read again as an escape.
    let m = line(r"1 2 0:3 / /x\134040y rw - tmpfs tmpfs rw").unwrap();
    assert_eq!(m.mount_point, Path::new(r"/x\040y"));
}

#[test]
fn what_is_not_an_escape_stays() {
    for (raw, want) in [
        (r"/a\x", r"/a\x"),
        (r"/a\9bc", r"/a\9bc"),
        (r"/a\400", r"/a\400"),
        (r"/a\777", r"/a\777"),
        (r"/a\04", r"/a\04"),
        (r"/a\", r"/a\"),
        (r"/a\\040", r"/a\ "),
    ] {
        let m = line(&format!("1 2 0:3 / {raw} rw - tmpfs tmpfs rw")).unwrap();
        assert_eq!(m.mount_point, Path::new(want), "{raw}");
    }
}

#[test]
fn an_escaped_comma_stays_inside_its_option() {
    let m = line(r"1 2 0:3 / /m rw - overlay overlay rw,lowerdir=/a\054b:/c,upperdir=/u").unwrap();
    assert_eq!(m.super_options, ["rw", "lowerdir=/a,b:/c", "upperdir=/u"]);
}

#[test]
fn paths_keep_bytes_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let mut raw = b"1 2 0:3 / /caf".to_vec();
    raw.extend_from_slice(&[0xe9, b' ']);
    raw.extend_from_slice(br"rw - tmpfs \377x rw");
    let m = parse_line(&raw).unwrap();
    assert_eq!(m.mount_point.as_os_str().as_bytes(), b"/caf\xe9");
    assert_eq!(m.source, "\u{fffd}x");
}

#[test]
fn a_dash_as_root_or_mount_point_is_a_path() {
    let m = line("1 2 0:3 - - rw shared:1 - tmpfs tmpfs rw").unwrap();
    assert_eq!(m.root, Path::new("-"));
    assert_eq!(m.mount_point, Path::new("-"));
    assert_eq!(m.optional_fields, ["shared:1"]);
}

#[test]
fn fields_after_the_super_options_are_ignored() {
    let m = line("1 2 0:3 / /x rw - tmpfs tmpfs rw future field").unwrap();
    assert_eq!(m.super_options, ["rw"]);
}

#[test]
fn missing_separator_and_fields_are_errors() {
    assert_eq!(
        line("1 2 0:3 / /x rw shared:1 tmpfs tmpfs rw"),
        Err(LineError::NoSeparator)
    );
    assert_eq!(line("1 2 0:3 / /x rw"), Err(LineError::NoSeparator));
    assert_eq!(
        line("1 2 0:3 / /x"),
        Err(LineError::Missing("mount options"))
    );
    assert_eq!(
        line(""),
        Err(LineError::BadNumber {
            field: "mount id",
            value: String::new()
        })
    );
    assert_eq!(
        line("1 2 0:3 / /x rw -"),
        Err(LineError::Missing("filesystem type"))
    );
    assert_eq!(
        line("1 2 0:3 / /x rw - tmpfs"),
        Err(LineError::Missing("source"))
    );
    assert_eq!(
        line("1 2 0:3 / /x rw - tmpfs tmpfs"),
        Err(LineError::Missing("super options"))
    );
}

#[test]
fn bad_numbers_are_errors() {
    for (l, want) in [
        ("x 2 0:3 / /x rw - t s o", "mount id"),
        ("1 -2 0:3 / /x rw - t s o", "parent id"),
        ("1 +2 0:3 / /x rw - t s o", "parent id"),
        ("4294967296 2 0:3 / /x rw - t s o", "mount id"),
    ] {
        match line(l) {
            Err(LineError::BadNumber { field, .. }) => assert_eq!(field, want, "{l}"),
            other => panic!("{l}: {other:?}"),
        }
    }
    for dev in ["03", "0:", ":3", "0:3:4", "a:b", "0:99999999999"] {
        let l = format!("1 2 {dev} / /x rw - t s o");
        assert!(matches!(line(&l), Err(LineError::BadDevice(_))), "{l}");
    }
}

#[test]
fn every_truncation_of_a_line_is_an_error_or_a_shorter_option() {
    let full =
        r"36 35 98:0 /mnt\0401 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
    let fs_type_at = full.find(" - ").unwrap() + 3;
    for end in 0..full.len() {
        let cut = &full.as_bytes()[..end];
        match parse_line(cut) {
            Ok(m) => {
                // Only a cut inside the super options still makes a line.
                assert!(end > fs_type_at, "{end}: {m:?}");
                assert_eq!(m.source, "/dev/root");
            }
            Err(_) => assert!(end <= full.rfind(' ').unwrap(), "{end}"),
        }
    }
}

#[test]
fn garbage_never_panics() {
    // A fixed pseudo-random sequence of lines over the bytes that matter to the parser.
    const ALPHABET: &[u8] = b" -\\0123478:,/ax\xff\t";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5000 {
        let len = (next() % 60) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        let _ = parse_line(&bytes);
        let _ = parse(&bytes, Path::new("fuzz"));
    }
}

#[test]
fn a_file_names_its_path_and_line_and_skips_blank_lines() {
    let text = b"1 2 0:3 / / rw - ext4 /dev/vda rw\n\n   \n4 1 0:5 / /x rw - tmpfs tmpfs rw\n";
    let mounts = parse(text, Path::new("/proc/self/mountinfo")).unwrap();
    assert_eq!(mounts.len(), 2);
    assert_eq!(mounts[1].mount_point, Path::new("/x"));
    let err = parse(
        b"1 2 0:3 / / rw - ext4 /dev/vda rw\n\nbroken line\n",
        Path::new("/m"),
    )
    .unwrap_err();
    match &err {
        ProcInfoError::MountInfo {
            path, line, text, ..
        } => {
            assert_eq!(
                (path.as_path(), *line, text.as_str()),
                (Path::new("/m"), 3, "broken line")
            );
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("/m") && msg.contains("line 3"), "{msg}");
}

#[test]
fn this_process_mountinfo_parses_and_has_a_root() {
    let mounts = read_self().unwrap();
    assert!(mounts.iter().any(|m| m.mount_point == Path::new("/")));
    let err = read(Path::new("/proc/self/no-such-file")).unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOENT));
    assert!(err.to_string().contains("/proc/self/no-such-file"));
}
