//! Freezing and thawing a cgroup: v1 `freezer.state`, v2 `cgroup.freeze` + `cgroup.events`.
//! Both return only once the kernel reports the new state (freezing is asynchronous).

use std::path::Path;
use std::time::{Duration, Instant};

use super::error::CgroupError;
use super::fsio;

/// How long a freeze may take before it is reported as stuck (a task in an uninterruptible
/// sleep can hold a v1 freezer in FREEZING).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Wait until `done` returns true, re-reading with a growing pause, or time out.
/// `nudge` runs between reads (v1 re-writes FROZEN, which retries tasks that were skipped).
fn settle(
    mut read: impl FnMut() -> Result<String, CgroupError>,
    done: impl Fn(&str) -> bool,
    mut nudge: impl FnMut() -> Result<(), CgroupError>,
) -> Result<Result<(), String>, CgroupError> {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut pause = Duration::from_micros(200);
    loop {
        let seen = read()?;
        if done(&seen) {
            return Ok(Ok(()));
        }
        if Instant::now() >= deadline {
            return Ok(Err(seen));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
        nudge()?;
    }
}

/// Set a v1 freezer to FROZEN (`frozen`) or THAWED and wait until it is there.
pub fn v1_set(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let file = dir.join("freezer.state");
    let wanted = if frozen { "FROZEN" } else { "THAWED" };
    fsio::write(&file, wanted)?;
    let read = || fsio::read_to_string(&file).map(|s| s.trim().to_string());
    let nudge = || {
        if frozen {
            fsio::write(&file, wanted)
        } else {
            Ok(())
        }
    };
    match settle(read, |s| s == wanted, nudge)? {
        Ok(()) => Ok(()),
        Err(seen) => {
            if frozen {
                // Do not leave a half-frozen container behind.
                let _ = fsio::write(&file, "THAWED");
            }
            Err(CgroupError::FreezeTimeout {
                path: file,
                wanted,
                seen,
            })
        }
    }
}

/// Whether a v1 freezer is frozen.
pub fn v1_is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    let state = fsio::read_to_string(&dir.join("freezer.state"))?;
    Ok(state.trim() == "FROZEN")
}

/// Set a cgroup2 `cgroup.freeze` and wait for `frozen` in cgroup.events to follow.
pub fn v2_set(dir: &Path, frozen: bool) -> Result<(), CgroupError> {
    let wanted = if frozen { "1" } else { "0" };
    fsio::write(&dir.join("cgroup.freeze"), wanted)?;
    let events = dir.join("cgroup.events");
    let read = || {
        let text = fsio::read_to_string(&events)?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("frozen "))
            .unwrap_or("")
            .trim()
            .to_string())
    };
    match settle(read, |s| s == wanted, || Ok(()))? {
        Ok(()) => Ok(()),
        Err(seen) => {
            if frozen {
                let _ = fsio::write(&dir.join("cgroup.freeze"), "0");
            }
            Err(CgroupError::FreezeTimeout {
                path: events,
                wanted: if frozen { "frozen 1" } else { "frozen 0" },
                seen,
            })
        }
    }
}

/// Whether a cgroup2 directory is (asked to be) frozen.
pub fn v2_is_frozen(dir: &Path) -> Result<bool, CgroupError> {
    Ok(fsio::read_to_string(&dir.join("cgroup.freeze"))?.trim() == "1")
}
