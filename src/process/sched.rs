//! `process.scheduler`, `process.ioPriority` and `linux.personality`: attributes of the
//! container process set by its init before exec (and inherited through it).

use crate::sys;
use crate::sys::sched::{SchedAttr, SCHED_ATTR_SIZE};
use nix::sys::personality::Persona;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Scheduler,
};

#[derive(Debug, thiserror::Error)]
pub enum SchedError {
    #[error("{syscall} ({what}): {source}")]
    Sys {
        syscall: &'static str,
        what: String,
        source: nix::Error,
    },
    #[error("linux.personality.flags {0:?}: no personality flags are defined by the runtime-spec")]
    PersonalityFlags(Vec<String>),
}

pub fn sched_attr(s: &Scheduler) -> SchedAttr {
    use LinuxSchedulerPolicy::*;
    let policy = match s.policy() {
        SchedOther => 0,
        SchedFifo => 1,
        SchedRr => 2,
        SchedBatch => 3,
        SchedIso => 4,
        SchedIdle => 5,
        SchedDeadline => 6,
    };
    let flags = s.flags().iter().flatten().fold(0u64, |acc, f| {
        acc | match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        }
    });
    SchedAttr {
        size: SCHED_ATTR_SIZE,
        policy,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
        util_min: 0,
        util_max: 0,
    }
}

pub fn apply_scheduler(s: &Scheduler) -> Result<(), SchedError> {
    sys::sched::sched_setattr(&sched_attr(s)).map_err(|source| SchedError::Sys {
        syscall: "sched_setattr",
        what: format!("policy {}", s.policy()),
        source,
    })
}

/// The value ioprio_set takes: class in the top bits, level below.
pub fn ioprio_value(p: &LinuxIOPriority) -> i64 {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    (class << 13) | p.priority()
}

pub fn apply_io_priority(p: &LinuxIOPriority) -> Result<(), SchedError> {
    sys::sched::ioprio_set(ioprio_value(p)).map_err(|source| SchedError::Sys {
        syscall: "ioprio_set",
        what: format!("{} level {}", p.class(), p.priority()),
        source,
    })
}

pub fn apply_personality(p: &LinuxPersonality) -> Result<(), SchedError> {
    if let Some(f) = p.flags().as_ref().filter(|f| !f.is_empty()) {
        return Err(SchedError::PersonalityFlags(f.clone()));
    }
    // PER_LINUX and PER_LINUX32 (linux/personality.h): execution domains, not the flags nix
    // names, hence the raw bits.
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    nix::sys::personality::set(Persona::from_bits_retain(persona)).map_err(|source| {
        SchedError::Sys {
            syscall: "personality",
            what: p.domain().to_string(),
            source,
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_and_ioprio_values() {
        let s: Scheduler = serde_json::from_str(
            r#"{"policy":"SCHED_BATCH","nice":5,"flags":["SCHED_RESET_ON_FORK"]}"#,
        )
        .unwrap();
        let a = sched_attr(&s);
        assert_eq!((a.policy, a.nice, a.flags, a.size), (3, 5, 1, 56));
        let p: LinuxIOPriority =
            serde_json::from_str(r#"{"class":"IOPRIO_CLASS_BE","priority":3}"#).unwrap();
        assert_eq!(ioprio_value(&p), 16387);
    }
}
