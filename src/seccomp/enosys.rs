//! runc's -ENOSYS rule: a syscall newer than every syscall the profile names (for its
//! architecture) fails with ENOSYS instead of getting the profile's default action.
//!
//! A profile written before a syscall existed cannot list it, so with a default action of
//! ERRNO(EPERM) a newer libc that tries, say, clone3 or faccessat2 first would get EPERM and
//! give up, where ENOSYS makes it fall back to the older call. As in runc, the rule applies
//! only when the default action denies (not ALLOW, LOG or TRACE, and not ERRNO(ENOSYS)
//! already), and "newer" means a number above the largest one the profile names for that
//! architecture, whatever that entry's action. The native architecture always counts, even
//! when the profile lists none (Docker's profiles omit it on some machines).
//!
//! [`plan`] finds the largest numbers (pure, from libseccomp's syscall tables); [`stub`]
//! writes the classic BPF that is put in front of libseccomp's program. The stub leaves the
//! accumulator holding the syscall number or the architecture when it falls through; that is
//! fine because libseccomp's program starts by loading what it needs.

use super::SeccompError;
#[cfg(test)]
use libseccomp::ScmpArch;
use libseccomp::ScmpSyscall;
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction};

/// The x32 ABI's bit in the syscall number (__X32_SYSCALL_BIT); x32 reports AUDIT_ARCH_X86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// An audit architecture (AUDIT_ARCH_*, what the kernel puts in seccomp_data.arch) and, for
/// x86_64, which ABI: libseccomp's SCMP_ARCH_X32 is x86_64 with the x32 bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditArch {
    pub audit: u32,
    pub x32: bool,
}

/// linux/audit.h: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (| the MIPS n32 convention).
const B64: u32 = 0x8000_0000;
const LE: u32 = 0x4000_0000;
const N32: u32 = 0x2000_0000;

/// The audit architecture of a profile architecture.
pub fn audit_arch(a: Arch) -> AuditArch {
    let (audit, x32) = match a {
        Arch::ScmpArchNative => return native(),
        Arch::ScmpArchX86 => (3 | LE, false),
        Arch::ScmpArchX86_64 => (62 | B64 | LE, false),
        Arch::ScmpArchX32 => (62 | B64 | LE, true),
        Arch::ScmpArchArm => (40 | LE, false),
        Arch::ScmpArchAarch64 => (183 | B64 | LE, false),
        Arch::ScmpArchMips => (8, false),
        Arch::ScmpArchMips64 => (8 | B64, false),
        Arch::ScmpArchMips64n32 => (8 | B64 | N32, false),
        Arch::ScmpArchMipsel => (8 | LE, false),
        Arch::ScmpArchMipsel64 => (8 | B64 | LE, false),
        Arch::ScmpArchMipsel64n32 => (8 | B64 | LE | N32, false),
        Arch::ScmpArchPpc => (20, false),
        Arch::ScmpArchPpc64 => (21 | B64, false),
        Arch::ScmpArchPpc64le => (21 | B64 | LE, false),
        Arch::ScmpArchS390 => (22, false),
        Arch::ScmpArchS390x => (22 | B64, false),
        Arch::ScmpArchParisc => (15, false),
        Arch::ScmpArchParisc64 => (15 | B64, false),
        Arch::ScmpArchRiscv64 => (243 | B64 | LE, false),
        Arch::ScmpArchLoongarch64 => (258 | B64 | LE, false),
        Arch::ScmpArchM68k => (4, false),
        // libseccomp's SCMP_ARCH_SH is little-endian SuperH, SCMP_ARCH_SHEB big-endian.
        Arch::ScmpArchSh => (42 | LE, false),
        Arch::ScmpArchSheb => (42, false),
    };
    AuditArch { audit, x32 }
}

/// The architecture rrun runs on, as a profile names it.
pub fn native_arch() -> Arch {
    if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else if cfg!(target_arch = "aarch64") {
        Arch::ScmpArchAarch64
    } else if cfg!(target_arch = "x86") {
        Arch::ScmpArchX86
    } else if cfg!(target_arch = "riscv64") {
        Arch::ScmpArchRiscv64
    } else if cfg!(target_arch = "s390x") {
        Arch::ScmpArchS390x
    } else if cfg!(target_arch = "loongarch64") {
        Arch::ScmpArchLoongarch64
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        Arch::ScmpArchPpc64le
    } else {
        Arch::ScmpArchArm
    }
}

fn native() -> AuditArch {
    audit_arch(native_arch())
}

/// The largest syscall number a profile names for one (audit architecture, ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Last {
    pub arch: AuditArch,
    pub is_s390: bool,
    pub nr: u32,
}

/// Whether the profile's default action gets the stub: only a denying default does.
fn wants_stub(profile: &LinuxSeccomp) -> bool {
    match profile.default_action() {
        LinuxSeccompAction::ScmpActAllow
        | LinuxSeccompAction::ScmpActLog
        | LinuxSeccompAction::ScmpActTrace => false,
        LinuxSeccompAction::ScmpActErrno => {
            profile.default_errno_ret() != Some(libc::ENOSYS as u32)
        }
        _ => true,
    }
}

/// The largest syscall number of the profile per architecture (the profile's and the native
/// one), or nothing when the default action does not get the stub. Names an architecture does
/// not have are skipped, as is an architecture none of whose names it has.
pub fn plan(profile: &LinuxSeccomp) -> Vec<Last> {
    if !wants_stub(profile) {
        return Vec::new();
    }
    let mut archs = vec![native_arch()];
    for a in profile.architectures().iter().flatten() {
        let a = if *a == Arch::ScmpArchNative {
            native_arch()
        } else {
            *a
        };
        if !archs.contains(&a) {
            archs.push(a);
        }
    }
    let names: Vec<&String> = profile
        .syscalls()
        .iter()
        .flatten()
        .flat_map(|s| s.names())
        .collect();
    archs
        .into_iter()
        .filter_map(|a| {
            let token = super::translate::arch(a);
            let nr = names
                .iter()
                .filter_map(|n| ScmpSyscall::from_name_by_arch(n, token).ok())
                .filter_map(|s| u32::try_from(i32::from(s)).ok())
                .max()?;
            Some(Last {
                arch: audit_arch(a),
                is_s390: matches!(a, Arch::ScmpArchS390 | Arch::ScmpArchS390x),
                nr,
            })
        })
        .collect()
}

// Classic BPF opcodes (linux/bpf_common.h) and seccomp's return values.
const LD_W_ABS: u16 = 0x20;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JGT_K: u16 = 0x25;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;
const RET_ERRNO_ENOSYS: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
/// Offsets in struct seccomp_data.
const NR: u32 = 0;
const ARCH: u32 = 4;

/// Where a jump goes: the next instruction, a label, the ENOSYS return or libseccomp's
/// program (the instruction after the stub).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Next,
    Label(usize),
    Enosys,
    Filter,
}

enum Op {
    Load(u32),
    Jump { code: u16, k: u32, yes: To, no: To },
    Always(To),
    Ret(u32),
    Label(usize),
}

/// The stub for `last`: dispatch on the architecture, then compare the syscall number with
/// the largest one known for it. Empty when there is nothing to compare.
pub fn stub(last: &[Last]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    if last.is_empty() {
        return Ok(Vec::new());
    }
    let mut audits: Vec<u32> = Vec::new();
    for l in last {
        if !audits.contains(&l.arch.audit) {
            audits.push(l.arch.audit);
        }
    }
    let mut ops = vec![Op::Load(ARCH)];
    let mut labels = 0;
    let mut label = || {
        labels += 1;
        labels
    };
    for audit in audits {
        let next = label();
        let of_abi = |x32| {
            last.iter()
                .find(|l| l.arch.audit == audit && l.arch.x32 == x32)
        };
        let (native, x32) = (of_abi(false), of_abi(true));
        ops.push(Op::Jump {
            code: JEQ_K,
            k: audit,
            yes: To::Next,
            no: To::Label(next),
        });
        ops.push(Op::Load(NR));
        if native.or(x32).is_some_and(|l| l.is_s390) {
            // s390's multiplexer: a number the kernel does not know arrives as 0 (setup(2),
            // long gone), so 0 is ENOSYS too.
            ops.push(Op::Jump {
                code: JEQ_K,
                k: 0,
                yes: To::Enosys,
                no: To::Next,
            });
        }
        let compare = |l: &Last| Op::Jump {
            code: JGT_K,
            k: l.nr,
            yes: To::Enosys,
            no: To::Filter,
        };
        match (native, x32) {
            (Some(n), Some(x)) => {
                let x32_branch = label();
                ops.push(Op::Jump {
                    code: JSET_K,
                    k: X32_SYSCALL_BIT,
                    yes: To::Label(x32_branch),
                    no: To::Next,
                });
                ops.push(compare(n));
                ops.push(Op::Label(x32_branch));
                ops.push(compare(x));
            }
            (Some(n), None) => {
                // Only x86_64 has the x32 bit; elsewhere it is part of the number.
                if audit == audit_arch(Arch::ScmpArchX86_64).audit {
                    ops.push(Op::Jump {
                        code: JSET_K,
                        k: X32_SYSCALL_BIT,
                        yes: To::Filter,
                        no: To::Next,
                    });
                }
                ops.push(compare(n));
            }
            (None, Some(x)) => {
                ops.push(Op::Jump {
                    code: JSET_K,
                    k: X32_SYSCALL_BIT,
                    yes: To::Next,
                    no: To::Filter,
                });
                ops.push(compare(x));
            }
            (None, None) => {}
        }
        ops.push(Op::Label(next));
    }
    // Any other architecture: libseccomp's program decides (its bad-architecture action).
    ops.push(Op::Always(To::Filter));
    ops.push(Op::Ret(RET_ERRNO_ENOSYS));
    assemble(&ops)
}

/// Resolve the labels and write the instructions. Conditional jumps reach at most 255
/// instructions ahead; the stub is far shorter, but a longer one is an error, not a panic.
fn assemble(ops: &[Op]) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let mut at = std::collections::HashMap::new();
    let mut n = 0usize;
    for op in ops {
        match op {
            Op::Label(l) => {
                at.insert(*l, n);
            }
            _ => n += 1,
        }
    }
    let enosys = n - 1;
    let filter = n;
    let mut out = Vec::with_capacity(n);
    for op in ops {
        let here = out.len();
        let offset = |to: To| -> Result<usize, SeccompError> {
            let target = match to {
                To::Next => here + 1,
                To::Label(l) => *at.get(&l).ok_or(SeccompError::EnosysStub)?,
                To::Enosys => enosys,
                To::Filter => filter,
            };
            target.checked_sub(here + 1).ok_or(SeccompError::EnosysStub)
        };
        let short =
            |to| offset(to).and_then(|o| u8::try_from(o).map_err(|_| SeccompError::EnosysStub));
        let insn = match op {
            Op::Label(_) => continue,
            Op::Load(k) => (LD_W_ABS, 0, 0, *k),
            Op::Ret(k) => (RET_K, 0, 0, *k),
            Op::Always(to) => {
                let k = u32::try_from(offset(*to)?).map_err(|_| SeccompError::EnosysStub)?;
                (JA, 0, 0, k)
            }
            Op::Jump { code, k, yes, no } => (*code, short(*yes)?, short(*no)?, *k),
        };
        out.push(libc::sock_filter {
            code: insn.0,
            jt: insn.1,
            jf: insn.2,
            k: insn.3,
        });
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A classic BPF interpreter for what the stub and libseccomp's programs use: run
    /// `program` on a syscall and return the seccomp action (SECCOMP_RET_*).
    pub(crate) fn run(program: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let word = |off: u32| -> u32 {
            match off {
                0 => nr,
                4 => arch,
                8 | 12 => 0, // instruction pointer
                o if (16..64).contains(&o) => {
                    let arg = args[((o - 16) / 8) as usize];
                    if (o - 16) % 8 == 0 {
                        arg as u32
                    } else {
                        (arg >> 32) as u32
                    }
                }
                o => panic!("load of offset {o}"),
            }
        };
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        loop {
            let i = program[pc];
            pc += 1;
            let cond = |v: u32| -> Option<bool> {
                Some(match i.code & 0xf0 {
                    0x10 => a == v,
                    0x20 => a > v,
                    0x30 => a >= v,
                    0x40 => a & v != 0,
                    _ => return None,
                })
            };
            match i.code {
                0x20 => a = word(i.k),
                0x00 => a = i.k,
                0x01 => x = i.k,
                0x87 => a = x,
                0x07 => x = a,
                0x54 => a &= i.k,
                0x05 => pc += i.k as usize,
                0x06 => return i.k,
                0x16 => return a,
                c if c & 0x07 == 0x05 => {
                    let v = if c & 0x08 != 0 { x } else { i.k };
                    let taken = cond(v).unwrap_or_else(|| panic!("jump code {c:#x}"));
                    pc += if taken { i.jt } else { i.jf } as usize;
                }
                c => panic!("opcode {c:#x} at {}", pc - 1),
            }
        }
    }

    fn profile(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).unwrap()
    }

    const X86_64: u32 = 62 | B64 | LE;
    const I386: u32 = 3 | LE;
    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

    fn nr(name: &str, a: ScmpArch) -> u32 {
        i32::from(ScmpSyscall::from_name_by_arch(name, a).unwrap()) as u32
    }

    fn compiled(p: &LinuxSeccomp) -> Vec<libc::sock_filter> {
        super::super::Filter::compile(p).unwrap().program
    }

    #[test]
    fn audit_arches_are_the_kernels() {
        assert_eq!(audit_arch(Arch::ScmpArchX86_64).audit, 0xC000_003E);
        assert_eq!(audit_arch(Arch::ScmpArchX86).audit, 0x4000_0003);
        assert_eq!(audit_arch(Arch::ScmpArchAarch64).audit, 0xC000_00B7);
        assert_eq!(audit_arch(Arch::ScmpArchRiscv64).audit, 0xC000_00F3);
        assert_eq!(audit_arch(Arch::ScmpArchS390x).audit, 0x8000_0016);
        assert_eq!(audit_arch(Arch::ScmpArchMipsel64n32).audit, 0xE000_0008);
        assert!(audit_arch(Arch::ScmpArchX32).x32);
    }

    #[test]
    fn no_stub_for_a_permissive_default_or_errno_enosys() {
        for (action, errno) in [
            ("SCMP_ACT_ALLOW", None),
            ("SCMP_ACT_LOG", None),
            ("SCMP_ACT_TRACE", None),
            ("SCMP_ACT_ERRNO", Some(libc::ENOSYS)),
        ] {
            let p = profile(serde_json::json!({"defaultAction": action,
                "defaultErrnoRet": errno,
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}));
            assert!(plan(&p).is_empty(), "{action}");
        }
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_KILL_PROCESS",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}));
        assert_eq!(plan(&p).len(), 1);
    }

    #[test]
    fn the_largest_number_per_architecture_counts_whatever_its_action() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "getpid", "no_such_call_oci"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["kexec_load"], "action": "SCMP_ACT_KILL"}]}));
        let last = plan(&p);
        let of = |arch: Arch| last.iter().find(|l| l.arch == audit_arch(arch)).unwrap().nr;
        assert_eq!(of(Arch::ScmpArchX86_64), nr("kexec_load", ScmpArch::X8664));
        assert_eq!(of(Arch::ScmpArchX86), nr("kexec_load", ScmpArch::X86));
        assert_eq!(of(Arch::ScmpArchX32), nr("kexec_load", ScmpArch::X32));
        assert_eq!(last.len(), 3);
    }

    /// The whole program (stub + libseccomp's) on the interpreter: above the largest known
    /// number ENOSYS, a known but unlisted number the default action, listed ones their rule.
    #[test]
    fn newer_syscalls_get_enosys_and_older_ones_the_default() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["read", "getpid", "kexec_load"], "action": "SCMP_ACT_ALLOW"}]}));
        let program = compiled(&p);
        let last = nr("kexec_load", ScmpArch::X8664);
        let run = |arch, nr| run(&program, arch, nr, [0; 6]);
        assert_eq!(run(X86_64, nr("getpid", ScmpArch::X8664)), ALLOW);
        assert_eq!(run(X86_64, last), ALLOW);
        assert_eq!(run(X86_64, nr("mkdir", ScmpArch::X8664)), EPERM);
        assert_eq!(run(X86_64, last + 1), RET_ERRNO_ENOSYS);
        assert_eq!(run(X86_64, 1000), RET_ERRNO_ENOSYS);
        // i386 has its own numbers.
        let last32 = nr("kexec_load", ScmpArch::X86);
        assert_eq!(run(I386, nr("getpid", ScmpArch::X86)), ALLOW);
        assert_eq!(run(I386, last32 - 1), EPERM);
        assert_eq!(run(I386, last32 + 1), RET_ERRNO_ENOSYS);
        // x32: the same audit arch, numbers with the x32 bit.
        let x32_last = nr("kexec_load", ScmpArch::X32);
        assert!(x32_last & X32_SYSCALL_BIT != 0);
        assert_eq!(run(X86_64, nr("getpid", ScmpArch::X32)), ALLOW);
        assert_eq!(run(X86_64, x32_last + 1), RET_ERRNO_ENOSYS);
    }

    /// The stub followed by a "filter" that answers 7 to everything.
    fn stub_then_7(last: &[Last]) -> Vec<libc::sock_filter> {
        let mut program = stub(last).unwrap();
        program.push(libc::sock_filter {
            code: RET_K,
            jt: 0,
            jf: 0,
            k: 7,
        });
        program
    }

    #[test]
    fn x86_64_alone_leaves_x32_numbers_to_the_filter() {
        let p = profile(serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "getpid"], "action": "SCMP_ACT_ALLOW"}]}));
        let program = stub_then_7(&plan(&p));
        // An x32 number is above any x86_64 one, but not "newer": no ENOSYS from the stub.
        assert_eq!(run(&program, X86_64, X32_SYSCALL_BIT | 5, [0; 6]), 7);
        assert_eq!(run(&program, X86_64, 500, [0; 6]), RET_ERRNO_ENOSYS);
    }

    #[test]
    fn s390_gets_enosys_for_the_multiplexer_number() {
        let program = stub_then_7(&[Last {
            arch: audit_arch(Arch::ScmpArchS390x),
            is_s390: true,
            nr: 300,
        }]);
        let s390x = audit_arch(Arch::ScmpArchS390x).audit;
        assert_eq!(run(&program, s390x, 0, [0; 6]), RET_ERRNO_ENOSYS);
        assert_eq!(run(&program, s390x, 5, [0; 6]), 7);
        assert_eq!(run(&program, s390x, 301, [0; 6]), RET_ERRNO_ENOSYS);
        // Another architecture goes straight to the filter.
        assert_eq!(run(&program, X86_64, 301, [0; 6]), 7);
    }

    #[test]
    fn every_architecture_at_once_still_assembles() {
        let all: Vec<Last> = super::super::features::ARCHS
            .iter()
            .filter(|a| **a != Arch::ScmpArchNative)
            .map(|a| Last {
                arch: audit_arch(*a),
                is_s390: matches!(a, Arch::ScmpArchS390 | Arch::ScmpArchS390x),
                nr: 400,
            })
            .collect();
        assert_eq!(all.len(), 23);
        let code = stub(&all).unwrap();
        assert!(code.len() < 200, "{}", code.len());
    }
}
