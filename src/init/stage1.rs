//! Stage-1: the intermediate process. Joins and creates namespaces, then forks the init.

use super::error::{AtStep, StageError, Step};
use super::sync::{send_msg, Message};
use super::{stage2, wait_for, InitPlan};
use crate::namespaces::{self, clone_flag};
use crate::sys;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::BorrowedFd;

/// Become uid/gid 0 of the user namespace we are in (it has just been created or joined).
fn become_ns_root() -> Result<(), StageError> {
    nix::unistd::setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
        .within(Step::UserNamespace, "setresgid(0) in the user namespace")?;
    nix::unistd::setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
        .within(Step::UserNamespace, "setresuid(0) in the user namespace")
}

/// Set the time namespace's clock offsets (before any process is in it).
fn write_time_offsets(plan: &InitPlan) -> Result<(), StageError> {
    let Some(offsets) = plan
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    let mut text = String::new();
    for (clock, off) in offsets {
        let clock = match clock.as_str() {
            "monotonic" | "boottime" => clock.as_str(),
            other => {
                return Err(StageError::msg(
                    Step::Config,
                    format!("linux.timeOffsets: unknown clock {other:?}"),
                ))
            }
        };
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    // Becoming root of a new user namespace cleared the dumpable flag, which leaves
    // /proc/self owned by the host's root, a uid the namespace does not map: the write would
    // fail with EACCES. Dumpable just for the write (no process of the container exists yet),
    // then not again.
    let path = std::path::Path::new("/proc/self/timens_offsets");
    let in_userns = plan.ns.has(LinuxNamespaceType::User);
    if in_userns {
        nix::sys::prctl::set_dumpable(true)
            .within(Step::TimeOffsets, "prctl(PR_SET_DUMPABLE, 1)")?;
    }
    let written = std::fs::write(path, text)
        .within(Step::TimeOffsets, "write /proc/self/timens_offsets")
        .map_err(|e| e.with_path(path));
    if in_userns {
        nix::sys::prctl::set_dumpable(false)
            .within(Step::TimeOffsets, "prctl(PR_SET_DUMPABLE, 0)")?;
    }
    written
}

pub fn run(plan: &InitPlan, sock: BorrowedFd<'_>) -> Result<(), StageError> {
    wait_for(sock, Message::Proceed, "Proceed")?;
    namespaces::join_all(&plan.ns).step(Step::Namespaces)?;
    if plan.ns.joins(LinuxNamespaceType::User) {
        become_ns_root()?;
    }
    if plan.ns.creates(LinuxNamespaceType::User) {
        namespaces::unshare(clone_flag(LinuxNamespaceType::User)).step(Step::Namespaces)?;
        send_msg(sock, &Message::UsernsCreated).step(Step::Sync)?;
        wait_for(sock, Message::IdMapsWritten, "IdMapsWritten")?;
        become_ns_root()?;
    }
    namespaces::unshare(plan.ns.unshare_flags()).step(Step::Namespaces)?;
    if plan.ns.creates(LinuxNamespaceType::Time) {
        write_time_offsets(plan)?;
    }
    // Single-threaded, as the parent that forked us (see fork_child); the child runs the init
    // and ends in exec or _exit.
    let (child, ()) = sys::process::fork_child((), || {
        let err = stage2::run(plan, sock);
        // stage2::run returns only on failure. After `Ready` nobody reads the socket any
        // more: the container's stderr is then the only place left to say why.
        if send_msg(sock, &Message::Error { error: err.clone() }).is_err() {
            eprintln!("rrun: container init: {err}");
        }
        1
    })
    .within(Step::Fork, "fork the container init")?;
    crate::faults::point("stage1:forked");
    send_msg(
        sock,
        &Message::Stage2Started {
            pid: child.as_raw(),
        },
    )
    .step(Step::Sync)?;
    Ok(())
}
