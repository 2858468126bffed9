//! process.execCPUAffinity (runtime-spec 1.2) for `exec`: `initial` is the affinity of the
//! runtime's process that enters the container, set before it joins the container's cgroup;
//! `final` is the exec'd process's, set after that (right before the program runs). The spec
//! says the setting does not apply to the container's init.

use super::cpus::{parse_list, ListError};
use nix::sched::CpuSet;
use nix::unistd::Pid;

/// The two affinities, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecAffinity {
    pub initial: Option<CpuSet>,
    pub final_: Option<CpuSet>,
}

fn cpu_set(field: &'static str, list: &str) -> Result<CpuSet, ListError> {
    let mut set = CpuSet::new();
    for cpu in parse_list(field, list, CpuSet::count())? {
        set.set(cpu).map_err(|e| ListError {
            field,
            list: list.to_string(),
            problem: e.to_string(),
        })?;
    }
    Ok(set)
}

impl ExecAffinity {
    pub fn from_spec(a: &oci_spec::runtime::ExecCPUAffinity) -> Result<ExecAffinity, ListError> {
        let parse = |field, list: &Option<String>| {
            list.as_deref()
                .filter(|l| !l.is_empty())
                .map(|l| cpu_set(field, l))
                .transpose()
        };
        Ok(ExecAffinity {
            initial: parse("process.execCPUAffinity.initial", a.initial())?,
            final_: parse("process.execCPUAffinity.final", a.cpu_affinity_final())?,
        })
    }
}

/// sched_setaffinity of `pid` (0: the calling thread).
pub fn apply(pid: i32, set: &CpuSet) -> nix::Result<()> {
    nix::sched::sched_setaffinity(Pid::from_raw(pid), set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_lists_parse() {
        let a: oci_spec::runtime::ExecCPUAffinity =
            serde_json::from_str(r#"{"initial": "0", "final": "0-1"}"#).unwrap();
        let p = ExecAffinity::from_spec(&a).unwrap();
        let initial = p.initial.unwrap();
        assert!(initial.is_set(0).unwrap() && !initial.is_set(1).unwrap());
        let fin = p.final_.unwrap();
        assert!(fin.is_set(0).unwrap() && fin.is_set(1).unwrap());
        let none: oci_spec::runtime::ExecCPUAffinity = serde_json::from_str("{}").unwrap();
        assert_eq!(
            ExecAffinity::from_spec(&none).unwrap(),
            ExecAffinity::default()
        );
    }
}
