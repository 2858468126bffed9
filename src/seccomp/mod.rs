#![forbid(unsafe_code)]
//! config.json's `linux.seccomp`: the parent compiles the profile to a BPF program with
//! libseccomp before the fork ([`Filter::compile`], so a bad profile fails `create` before
//! anything exists); the init only installs that program ([`Filter::load`], one seccomp(2)
//! call, no allocation and no library code between it and execve).
//!
//! Two things are added to libseccomp's program: runc's -ENOSYS rule ([`enosys`]), and, for a
//! profile with SCMP_ACT_NOTIFY, a notify listener that the init hands to the parent, which
//! sends it to the agent at `listenerPath` ([`notify`]).

mod enosys;
mod features;
pub mod notify;
mod translate;

pub use features::features;

use crate::sys::seccomp::{
    FilterLoad, FLAG_NEW_LISTENER, FLAG_TSYNC_ESRCH, FLAG_WAIT_KILLABLE_RECV,
};
use libseccomp::{ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::LinuxSeccomp;
use std::io::{Read, Seek};
use std::os::fd::OwnedFd;

/// The kernel's limit on the length of a classic BPF program (BPF_MAXINSNS).
const MAX_INSTRUCTIONS: usize = 4096;

/// The size of one `struct sock_filter` instruction as libseccomp exports it.
const INSTRUCTION_SIZE: usize = std::mem::size_of::<libc::sock_filter>();

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("linux.seccomp: SCMP_ACT_NOTIFY cannot be used as default action")]
    NotifyDefault,
    #[error("linux.seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall")]
    NotifyWrite,
    #[error("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath, the seccomp agent's socket")]
    NotifyWithoutListener,
    #[error("linux.seccomp: the -ENOSYS stub for newer syscalls does not fit classic BPF jumps")]
    EnosysStub,
    #[error("linux.seccomp: errnoRet {value} of {what} is out of range (at most 65535)")]
    ErrnoRetOutOfRange { what: String, value: u32 },
    #[error("linux.seccomp: syscall {syscall}: argument index {index} is out of range (0 to 5)")]
    ArgIndex { syscall: String, index: usize },
    #[error("linux.seccomp: create the filter: {source}")]
    Context {
        source: libseccomp::error::SeccompError,
    },
    #[error("linux.seccomp: architecture {arch}: {source}")]
    Arch {
        arch: String,
        source: libseccomp::error::SeccompError,
    },
    #[error("linux.seccomp: rule for syscall {syscall}: {source}")]
    Rule {
        syscall: String,
        source: libseccomp::error::SeccompError,
    },
    #[error("linux.seccomp: generate the BPF program: {source}")]
    Export {
        source: libseccomp::error::SeccompError,
    },
    #[error("linux.seccomp: read back the BPF program ({step}): {source}")]
    ReadBack {
        step: &'static str,
        source: std::io::Error,
    },
    #[error("linux.seccomp: the filter has {count} BPF instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}")]
    TooLong { count: usize },
    #[error("load the seccomp filter: {source}")]
    Load { source: nix::Error },
    #[error("load the seccomp filter: seccomp(2) gave no notify listener")]
    NoListener,
    #[error("load the seccomp filter: thread {tid} could not be synchronized (SECCOMP_FILTER_FLAG_TSYNC)")]
    Tsync { tid: libc::c_long },
}

/// A compiled seccomp profile: the BPF program and the flags of seccomp(2).
#[derive(Clone)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    unknown_syscalls: Vec<String>,
    /// With SCMP_ACT_NOTIFY rules: the agent's socket and the metadata it is sent.
    listener: Option<notify::Listener>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &self.flags)
            .field("unknown_syscalls", &self.unknown_syscalls)
            .field("listener", &self.listener)
            .finish()
    }
}

impl Filter {
    /// Compile a profile. Syscall names libseccomp does not know are skipped (as runc does:
    /// profiles list syscalls newer than the library); see [`Filter::unknown_syscalls`].
    pub fn compile(profile: &LinuxSeccomp) -> Result<Filter, SeccompError> {
        let listener = notify::Listener::of_profile(profile)?;
        let default = translate::action(
            profile.default_action(),
            profile.default_errno_ret(),
            "defaultAction",
        )?;
        let mut ctx =
            ScmpFilterContext::new(default).map_err(|source| SeccompError::Context { source })?;
        for a in profile.architectures().iter().flatten() {
            let token = translate::arch(*a);
            let arch_err = |source| SeccompError::Arch {
                arch: a.to_string(),
                source,
            };
            if !ctx.is_arch_present(token).map_err(arch_err)? {
                ctx.add_arch(token).map_err(arch_err)?;
            }
        }
        let flags = profile
            .flags()
            .iter()
            .flatten()
            .filter_map(|f| translate::flag(*f))
            .fold(0, |all, bit| all | bit);
        let flags = match (&listener, flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0) {
            (None, _) => flags & !FLAG_WAIT_KILLABLE_RECV,
            (Some(_), false) => flags | FLAG_NEW_LISTENER,
            (Some(_), true) => flags | FLAG_NEW_LISTENER | FLAG_TSYNC_ESRCH,
        };
        let mut unknown_syscalls = Vec::new();
        for entry in profile.syscalls().iter().flatten() {
            let names = entry.names();
            let what = format!("syscall {}", names.join(","));
            let action = translate::action(entry.action(), entry.errno_ret(), &what)?;
            let rules = translate::rules(entry.args().as_deref().unwrap_or_default(), &what)?;
            // libseccomp refuses rules that repeat the default action; they change nothing.
            if action == default {
                continue;
            }
            for name in names {
                let Ok(nr) = ScmpSyscall::from_name(name) else {
                    unknown_syscalls.push(name.clone());
                    continue;
                };
                for conds in &rules {
                    let added = if conds.is_empty() {
                        ctx.add_rule(action, nr)
                    } else {
                        ctx.add_rule_conditional(action, nr, conds)
                    };
                    added.map_err(|source| SeccompError::Rule {
                        syscall: name.clone(),
                        source,
                    })?;
                }
            }
        }
        let mut program = enosys::stub(&enosys::plan(profile))?;
        program.extend(export(&ctx)?);
        if program.len() > MAX_INSTRUCTIONS {
            return Err(SeccompError::TooLong {
                count: program.len(),
            });
        }
        Ok(Filter {
            program,
            flags,
            unknown_syscalls,
            listener,
        })
    }

    /// The profile's syscall names that libseccomp does not know (left out of the filter).
    pub fn unknown_syscalls(&self) -> &[String] {
        &self.unknown_syscalls
    }

    /// The number of BPF instructions of the filter.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }

    /// The agent to send the notify listener to, when the profile has SCMP_ACT_NOTIFY rules.
    pub fn listener(&self) -> Option<&notify::Listener> {
        self.listener.as_ref()
    }

    /// Install the filter on the calling process (thread). Without no_new_privs set, this
    /// needs CAP_SYS_ADMIN (in the process's user namespace). Returns the notify listener
    /// when the profile has SCMP_ACT_NOTIFY rules.
    pub fn load(&self) -> Result<Option<OwnedFd>, SeccompError> {
        // compile() keeps the length within MAX_INSTRUCTIONS.
        match crate::sys::seccomp::set_mode_filter(self.flags, &self.program) {
            Ok(FilterLoad::Installed { listener }) => {
                if self.listener.is_some() && listener.is_none() {
                    return Err(SeccompError::NoListener);
                }
                Ok(listener)
            }
            Ok(FilterLoad::TsyncFailed { tid }) => Err(SeccompError::Tsync { tid }),
            Err(source) => Err(SeccompError::Load { source }),
        }
    }
}

/// libseccomp's BPF program for the filter, read back from a memfd it was written to.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let read_back = |step| move |source| SeccompError::ReadBack { step, source };
    let fd = nix::sys::memfd::memfd_create(c"rrun-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(|e| read_back("memfd_create")(e.into()))?;
    ctx.export_bpf(&fd)
        .map_err(|source| SeccompError::Export { source })?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.rewind().map_err(read_back("seek"))?;
    file.read_to_end(&mut bytes).map_err(read_back("read"))?;
    decode(&bytes)
}

/// The instructions in libseccomp's export format (native `struct sock_filter`s).
fn decode(bytes: &[u8]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    if !bytes.len().is_multiple_of(INSTRUCTION_SIZE) {
        return Err(SeccompError::ReadBack {
            step: "decode",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} bytes is not a whole number of instructions",
                    bytes.len()
                ),
            ),
        });
    }
    let count = bytes.len() / INSTRUCTION_SIZE;
    if count > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong { count });
    }
    Ok(bytes
        .chunks_exact(INSTRUCTION_SIZE)
        .map(|i| libc::sock_filter {
            code: u16::from_ne_bytes([i[0], i[1]]),
            jt: i[2],
            jf: i[3],
            k: u32::from_ne_bytes([i[4], i[5], i[6], i[7]]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn compiles_a_profile_and_skips_unknown_names() {
        let f = Filter::compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW",
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_AARCH64"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mkdir","no_such_syscall_xyz"],"action":"SCMP_ACT_ERRNO"},
                            {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["personality"],"action":"SCMP_ACT_KILL_PROCESS",
                             "args":[{"index":0,"value":8,"op":"SCMP_CMP_EQ"}]}]}"#,
        ))
        .unwrap();
        assert!(f.instructions() > 0);
        assert_eq!(f.unknown_syscalls(), ["no_such_syscall_xyz"]);
        assert_eq!(f.flags, libc::SECCOMP_FILTER_FLAG_LOG);
    }

    fn compile_err(json: &str) -> String {
        Filter::compile(&profile(json)).unwrap_err().to_string()
    }

    #[test]
    fn notify_gets_a_listener_and_runcs_limits() {
        let f = Filter::compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "listenerMetadata":"bar","flags":["SECCOMP_FILTER_FLAG_TSYNC",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        ))
        .unwrap();
        let l = f.listener().unwrap();
        assert_eq!(l.path, std::path::Path::new("/run/agent.sock"));
        assert_eq!(l.metadata, "bar");
        assert_eq!(
            f.flags,
            libc::SECCOMP_FILTER_FLAG_TSYNC
                | FLAG_NEW_LISTENER
                | FLAG_TSYNC_ESRCH
                | FLAG_WAIT_KILLABLE_RECV
        );
        let e = compile_err(
            r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/a",
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        assert!(e.contains("cannot be used as default action"), "{e}");
        let e = compile_err(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/a",
                "syscalls":[{"names":["mkdir","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(e.contains("cannot be used for the write syscall"), "{e}");
        for path in [r#""listenerPath":"","#, ""] {
            let e = compile_err(&format!(
                r#"{{"defaultAction":"SCMP_ACT_ALLOW",{path}
                    "syscalls":[{{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}}]}}"#
            ));
            assert!(e.contains("needs listenerPath"), "{e}");
        }
    }

    /// A listenerPath without a notify rule is ignored (runc's rule); so is the
    /// WAIT_KILLABLE_RECV flag, which the kernel takes only with a listener.
    #[test]
    fn no_notify_rule_no_listener() {
        let f = Filter::compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}"#,
        ))
        .unwrap();
        assert!(f.listener().is_none());
        assert_eq!(f.flags, 0);
    }

    #[test]
    fn bad_arg_index_fails_compile_naming_the_syscall() {
        let e = Filter::compile(&profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW",
                "syscalls":[{"names":["clone"],"action":"SCMP_ACT_ERRNO",
                             "args":[{"index":9,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("clone") && e.contains("index 9"), "{e}");
    }

    #[test]
    fn decode_refuses_partial_instructions() {
        assert!(decode(&[0; 12]).is_err());
        assert_eq!(decode(&[0; 16]).unwrap().len(), 2);
    }
}
