//! What a host test needs of the machine, and an honest skip when the machine lacks it.
//!
//! Whether the host is pure cgroup v2 or has a v1 freezer is known only when the test runs, and
//! the test harness decides `#[ignore]` at compile time. So a test checks its needs first
//! ([`needs`], [`skip`]); when one is not met:
//!
//! - by default the test stops there and writes `SKIPPED (skip #N) <test>: <reason> [need
//!   <name>; ...]` straight to the process's stderr, past the harness's output capture, so that
//!   every skip shows in a plain `cargo test` run, numbered so that their count shows too;
//! - when `RRUN_REQUIRE_HOST_TESTS` names the need, the test fails instead. The variable is a
//!   comma-separated list of need names; a name covers the needs below it (`v1` covers
//!   `v1:freezer`), and `all` covers every need. CI sets it to what its host has (.ci/run), and
//!   scripts/cgroup2-vm.sh to what its guest has.
//!
//! A part of a test that needs more than the test ([`part`]) is reported the same way, and the
//! test goes on without that part.
//!
//! The needs: `root`; `v1:<controller>` (a v1 hierarchy with that controller); `hybrid:hugetlb`
//! (hugetlb only on the cgroup2 mount of a hybrid host, with 2 MB pages); `v2-host` and
//! `v2-host:<controller>` (the host is pure cgroup v2, with that controller); `swap-accounting`
//! (the kernel accounts swap); `blkio-weight` (the block scheduler takes weights: BFQ or CFQ);
//! `disk` (a real block device, not loop, ram or zram); `disk:no-weights` (that disk's scheduler
//! takes no per-device weights: not BFQ, and no iocost on cgroup2).

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The environment variable listing the needs whose absence is a failure.
const REQUIRE_VAR: &str = "RRUN_REQUIRE_HOST_TESTS";

/// Skips so far in this test process, to number the SKIPPED lines.
static SKIPS: AtomicUsize = AtomicUsize::new(0);

/// True when `met`; else reports the test as skipped for lack of `need` (see the module docs)
/// and returns false, and the test returns at once.
pub(super) fn needs(need: &str, met: bool, reason: &str) -> bool {
    if !met {
        skip(need, reason);
    }
    met
}

/// Reports the test as skipped for lack of `need` (or fails it when `need` is required); the
/// test returns right after.
pub(super) fn skip(need: &str, reason: &str) {
    report(&current_test(), need, reason);
}

/// As [`needs`] for one part of a test (`what`): when false, the test goes on without it.
pub(super) fn part(what: &str, need: &str, met: bool, reason: &str) -> bool {
    if !met {
        report(&format!("{} ({what})", current_test()), need, reason);
    }
    met
}

/// The common first need: root, to write the host's cgroupfs.
pub(super) fn is_root() -> bool {
    needs(
        "root",
        nix::unistd::geteuid().is_root(),
        "the cgroup host tests need root",
    )
}

fn report(what: &str, need: &str, reason: &str) {
    let list = std::env::var(REQUIRE_VAR).unwrap_or_default();
    if required(need, &list) {
        panic!("{what}: {reason} [need {need}, required by {REQUIRE_VAR}={list}]");
    }
    let n = SKIPS.fetch_add(1, Ordering::SeqCst) + 1;
    // Written to the process's stderr itself: the harness captures only the print! family, and
    // shows what it captured for failing tests only.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED (skip #{n}) {what}: {reason} [need {need}; {REQUIRE_VAR}={need} makes this a failure]"
    );
}

/// Does `list` (the value of RRUN_REQUIRE_HOST_TESTS) require `need`?
fn required(need: &str, list: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .any(|entry| {
            entry == "all"
                || entry == need
                || need
                    .strip_prefix(entry)
                    .is_some_and(|rest| rest.starts_with(':'))
        })
}

/// The running test's name: the harness runs each test on a thread named after it.
fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("a cgroup host test")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_name_requires_itself_and_the_needs_below_it() {
        assert!(required("v1:freezer", "root,v1"));
        assert!(required("v1:freezer", " v1:freezer "));
        assert!(required("v2-host:io", "v2-host"));
        assert!(required("root", "all"));
        assert!(!required("v1:freezer", "v1:free"));
        assert!(!required("v1", "v1:freezer"));
        assert!(!required("v2-host", "v2"));
        assert!(!required("disk", ""));
        assert!(!required("disk", ",,"));
    }

    #[test]
    fn the_harness_names_the_test_thread() {
        assert!(current_test().ends_with("the_harness_names_the_test_thread"));
    }
}
