//! Pure translation of config.json's `linux.seccomp` vocabulary (actions, architectures,
//! comparison operators, flags) into libseccomp's and the kernel's terms. No filter is built
//! here: see [`super::Filter::compile`].

use super::SeccompError;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp};
use oci_spec::runtime::{
    Arch, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

/// The errno an `SCMP_ACT_ERRNO` (and the message an `SCMP_ACT_TRACE`) returns when the
/// profile gives no errnoRet, as runc does.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;

/// The libseccomp action for a profile action. `errno_ret` is the data of ERRNO and TRACE;
/// `what` names the rule in errors ("defaultAction", "syscall mkdir").
pub fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    what: &str,
) -> Result<ScmpAction, SeccompError> {
    // The kernel keeps 16 bits of data with ERRNO and TRACE (SECCOMP_RET_DATA).
    let data = || {
        let value = errno_ret.unwrap_or(DEFAULT_ERRNO);
        u16::try_from(value).map_err(|_| SeccompError::ErrnoRetOutOfRange {
            what: what.to_string(),
            value,
        })
    };
    Ok(match act {
        // SCMP_ACT_KILL is libseccomp's old name of KILL_THREAD.
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(data()?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(data()?),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

/// The libseccomp architecture token for a profile's architecture.
pub fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// The kernel's SECCOMP_FILTER_FLAG_* bit for a profile flag. WAIT_KILLABLE_RECV only
/// changes how a notified syscall waits, and the kernel takes it only together with a
/// listener: [`super::Filter::compile`] drops it from a filter without SCMP_ACT_NOTIFY rules.
pub fn flag(f: LinuxSeccompFilterFlag) -> Option<libc::c_ulong> {
    match f {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => Some(libc::SECCOMP_FILTER_FLAG_TSYNC),
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => Some(libc::SECCOMP_FILTER_FLAG_LOG),
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
            Some(libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW)
        }
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
            Some(crate::sys::seccomp::FLAG_WAIT_KILLABLE_RECV)
        }
    }
}

/// One argument condition. MASKED_EQ compares `arg & value` with `valueTwo`.
pub fn compare(arg: &LinuxSeccompArg, syscall: &str) -> Result<ScmpArgCompare, SeccompError> {
    // Syscalls have at most 6 arguments.
    let index = u32::try_from(arg.index())
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(|| SeccompError::ArgIndex {
            syscall: syscall.to_string(),
            index: arg.index(),
        })?;
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index, op, datum))
}

/// The rules one syscall entry becomes, each a list of conditions that must all hold. As in
/// runc: conditions on distinct arguments form one rule (AND); when an argument index repeats
/// (libseccomp cannot AND two conditions on one argument) each condition is its own rule (OR).
pub fn rules(
    args: &[LinuxSeccompArg],
    syscall: &str,
) -> Result<Vec<Vec<ScmpArgCompare>>, SeccompError> {
    let conds = args
        .iter()
        .map(|a| compare(a, syscall))
        .collect::<Result<Vec<_>, _>>()?;
    let mut seen = [false; 6];
    let repeats = args
        .iter()
        .any(|a| std::mem::replace(&mut seen[a.index()], true));
    Ok(if repeats {
        conds.into_iter().map(|c| vec![c]).collect()
    } else {
        vec![conds]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccompArgBuilder;

    fn arg(index: usize, op: LinuxSeccompOperator) -> LinuxSeccompArg {
        LinuxSeccompArgBuilder::default()
            .index(index)
            .value(1u64)
            .op(op)
            .build()
            .unwrap()
    }

    #[test]
    fn errno_defaults_to_eperm_and_takes_errno_ret() {
        let a = action(LinuxSeccompAction::ScmpActErrno, None, "x").unwrap();
        assert_eq!(a, ScmpAction::Errno(libc::EPERM));
        let a = action(LinuxSeccompAction::ScmpActErrno, Some(38), "x").unwrap();
        assert_eq!(a, ScmpAction::Errno(38));
        let a = action(LinuxSeccompAction::ScmpActTrace, Some(7), "x").unwrap();
        assert_eq!(a, ScmpAction::Trace(7));
    }

    #[test]
    fn errno_ret_beyond_16_bits_is_refused() {
        let e = action(
            LinuxSeccompAction::ScmpActErrno,
            Some(70000),
            "syscall mkdir",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("70000") && e.contains("syscall mkdir"), "{e}");
    }

    #[test]
    fn kill_is_kill_thread() {
        for a in [
            LinuxSeccompAction::ScmpActKill,
            LinuxSeccompAction::ScmpActKillThread,
        ] {
            assert_eq!(action(a, None, "x").unwrap(), ScmpAction::KillThread);
        }
        assert_eq!(
            action(LinuxSeccompAction::ScmpActKillProcess, None, "x").unwrap(),
            ScmpAction::KillProcess
        );
    }

    #[test]
    fn notify_is_libseccomps_notify() {
        assert_eq!(
            action(LinuxSeccompAction::ScmpActNotify, None, "syscall bpf").unwrap(),
            ScmpAction::Notify
        );
    }

    #[test]
    fn every_arch_maps() {
        assert_eq!(arch(Arch::ScmpArchX86_64), ScmpArch::X8664);
        assert_eq!(arch(Arch::ScmpArchAarch64), ScmpArch::Aarch64);
        assert_eq!(arch(Arch::ScmpArchMipsel64n32), ScmpArch::Mipsel64N32);
    }

    #[test]
    fn flags_map_to_kernel_bits() {
        assert_eq!(
            flag(LinuxSeccompFilterFlag::SeccompFilterFlagTsync),
            Some(libc::SECCOMP_FILTER_FLAG_TSYNC)
        );
        assert_eq!(
            flag(LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv),
            Some(1 << 5)
        );
    }

    #[test]
    fn masked_eq_uses_value_as_mask_and_value_two_as_datum() {
        let a = LinuxSeccompArgBuilder::default()
            .index(2usize)
            .value(0xf0u64)
            .value_two(0x10u64)
            .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
            .build()
            .unwrap();
        assert_eq!(
            compare(&a, "x").unwrap(),
            ScmpArgCompare::new(2, ScmpCompareOp::MaskedEqual(0xf0), 0x10)
        );
    }

    #[test]
    fn arg_index_beyond_five_is_refused() {
        let e = compare(&arg(6, LinuxSeccompOperator::ScmpCmpEq), "clone")
            .unwrap_err()
            .to_string();
        assert!(e.contains("clone") && e.contains('6'), "{e}");
    }

    #[test]
    fn distinct_args_and_repeated_args_or() {
        let distinct = [
            arg(0, LinuxSeccompOperator::ScmpCmpEq),
            arg(1, LinuxSeccompOperator::ScmpCmpNe),
        ];
        let r = rules(&distinct, "x").unwrap();
        assert_eq!((r.len(), r[0].len()), (1, 2));
        let repeated = [
            arg(0, LinuxSeccompOperator::ScmpCmpEq),
            arg(0, LinuxSeccompOperator::ScmpCmpGt),
        ];
        let r = rules(&repeated, "x").unwrap();
        assert_eq!((r.len(), r[0].len()), (2, 1));
        assert_eq!(rules(&[], "x").unwrap(), vec![Vec::new()]);
    }
}
