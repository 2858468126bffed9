//! What rrun's seccomp support covers, as runtime-spec features.json `linux.seccomp`.

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use serde_json::{json, Value};

/// Actions [`super::Filter::compile`] accepts (all but SCMP_ACT_NOTIFY).
const ACTIONS: &[LinuxSeccompAction] = &[
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActTrap,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActNotify,
];

const OPERATORS: &[LinuxSeccompOperator] = &[
    LinuxSeccompOperator::ScmpCmpNe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
];

pub(super) const ARCHS: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

const FLAGS: &[LinuxSeccompFilterFlag] = &[
    LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
    LinuxSeccompFilterFlag::SeccompFilterFlagLog,
    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
];

fn names<T: ToString>(items: &[T]) -> Vec<String> {
    items.iter().map(T::to_string).collect()
}

/// features.json's `linux.seccomp` object. Every flag is passed to the kernel
/// (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV with a notify listener, where it acts).
pub fn features() -> Value {
    let supported: Vec<String> = FLAGS
        .iter()
        .filter(|f| super::translate::flag(**f).is_some())
        .map(|f| f.to_string())
        .collect();
    json!({
        "enabled": true,
        "actions": names(ACTIONS),
        "operators": names(OPERATORS),
        "archs": names(ARCHS),
        "knownFlags": names(FLAGS),
        "supportedFlags": supported,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_spec_names_and_every_listed_action_compiles() {
        let f = features();
        assert_eq!(f["archs"][1], "SCMP_ARCH_X86_64");
        assert_eq!(f["operators"][6], "SCMP_CMP_MASKED_EQ");
        assert!(f["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("SCMP_ACT_NOTIFY")));
        assert_eq!(f["supportedFlags"], f["knownFlags"]);
        for a in ACTIONS {
            assert!(
                super::super::translate::action(*a, None, "x").is_ok(),
                "{a}"
            );
        }
    }
}
