//! linux.memoryPolicy (runtime-spec 1.3): the NUMA memory policy of the container's process,
//! set with set_mempolicy(2) before it executes (the init and `exec` alike). The plan is made
//! before the fork, so a bad mode, node list or flag combination fails the command early.

use super::cpus::{parse_list, ListError};
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

/// Node numbers the mask can hold (the kernel's MAX_NUMNODES is at most 1024).
const MAX_NODES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemPolicyError {
    #[error("linux.memoryPolicy: mode {0} takes no nodes")]
    NodesNotAllowed(&'static str),
    #[error("linux.memoryPolicy: mode {0} needs nodes")]
    NodesNeeded(&'static str),
    #[error(
        "linux.memoryPolicy: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"
    )]
    FlagsExclusive,
    #[error("linux.memoryPolicy: MPOL_F_NUMA_BALANCING needs mode MPOL_BIND")]
    BalancingNeedsBind,
    #[error(transparent)]
    Nodes(#[from] ListError),
}

/// What set_mempolicy gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemPolicy {
    /// The MPOL_* mode or'ed with its MPOL_F_* flags.
    pub mode: i32,
    /// One bit per node.
    pub mask: Vec<u64>,
}

fn mode_of(m: MemoryPolicyModeType) -> (i32, &'static str) {
    use MemoryPolicyModeType::*;
    match m {
        MpolDefault => (0, "MPOL_DEFAULT"),
        MpolPreferred => (1, "MPOL_PREFERRED"),
        MpolBind => (2, "MPOL_BIND"),
        MpolInterleave => (3, "MPOL_INTERLEAVE"),
        MpolLocal => (4, "MPOL_LOCAL"),
        MpolPreferredMany => (5, "MPOL_PREFERRED_MANY"),
        MpolWeightedInterleave => (6, "MPOL_WEIGHTED_INTERLEAVE"),
    }
}

impl MemPolicy {
    pub fn from_spec(p: &LinuxMemoryPolicy) -> Result<MemPolicy, MemPolicyError> {
        let (mut mode, name) = mode_of(p.mode());
        let nodes = p.nodes().as_deref().filter(|n| !n.is_empty());
        let mut mask = Vec::new();
        match (mode, nodes) {
            // MPOL_DEFAULT and MPOL_LOCAL take an empty mask.
            (0 | 4, Some(_)) => return Err(MemPolicyError::NodesNotAllowed(name)),
            (0 | 4, None) => {}
            // MPOL_PREFERRED with no nodes means local allocation; the others need nodes.
            (1, None) => {}
            (_, None) => return Err(MemPolicyError::NodesNeeded(name)),
            (_, Some(list)) => {
                for n in parse_list("linux.memoryPolicy.nodes", list, MAX_NODES)? {
                    if mask.len() <= n / 64 {
                        mask.resize(n / 64 + 1, 0);
                    }
                    mask[n / 64] |= 1u64 << (n % 64);
                }
            }
        }
        let flags = p.flags().clone().unwrap_or_default();
        let has = |f| flags.contains(&f);
        if has(MemoryPolicyFlagType::MpolFStaticNodes)
            && has(MemoryPolicyFlagType::MpolFRelativeNodes)
        {
            return Err(MemPolicyError::FlagsExclusive);
        }
        if has(MemoryPolicyFlagType::MpolFNumaBalancing) && mode != 2 {
            return Err(MemPolicyError::BalancingNeedsBind);
        }
        for f in flags {
            mode |= match f {
                MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
                MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
                MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
            };
        }
        Ok(MemPolicy { mode, mask })
    }

    /// The plan for a config's linux.memoryPolicy, if it has one.
    pub fn of_spec(spec: &oci_spec::runtime::Spec) -> Result<Option<MemPolicy>, MemPolicyError> {
        spec.linux()
            .as_ref()
            .and_then(|l| l.memory_policy().as_ref())
            .map(MemPolicy::from_spec)
            .transpose()
    }

    /// Set it for the calling process.
    pub fn apply(&self) -> nix::Result<()> {
        crate::sys::mempolicy::set_mempolicy(self.mode, &self.mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Result<MemPolicy, MemPolicyError> {
        MemPolicy::from_spec(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn modes_nodes_and_flags() {
        let p = policy(r#"{"mode": "MPOL_BIND", "nodes": "0,2-3,65"}"#).unwrap();
        assert_eq!(p.mode, 2);
        assert_eq!(p.mask, [0b1101, 0b10]);
        let p = policy(
            r#"{"mode": "MPOL_INTERLEAVE", "nodes": "1", "flags": ["MPOL_F_STATIC_NODES"]}"#,
        )
        .unwrap();
        assert_eq!(p.mode, 3 | 1 << 15);
        assert_eq!(
            policy(r#"{"mode": "MPOL_DEFAULT"}"#).unwrap().mask,
            Vec::<u64>::new()
        );
        assert!(matches!(
            policy(r#"{"mode": "MPOL_LOCAL", "nodes": "0"}"#),
            Err(MemPolicyError::NodesNotAllowed("MPOL_LOCAL"))
        ));
        assert!(matches!(
            policy(r#"{"mode": "MPOL_BIND"}"#),
            Err(MemPolicyError::NodesNeeded("MPOL_BIND"))
        ));
        assert!(matches!(
            policy(
                r#"{"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}"#
            ),
            Err(MemPolicyError::FlagsExclusive)
        ));
        assert!(matches!(
            policy(
                r#"{"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}"#
            ),
            Err(MemPolicyError::BalancingNeedsBind)
        ));
        assert!(policy(r#"{"mode": "MPOL_BIND", "nodes": "5000"}"#).is_err());
    }
}
