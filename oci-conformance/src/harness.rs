//! Test cases, their outcomes, and the parallel runner that prints TAP in
//! registration order.

use crate::bundle::BundleError;
use crate::context::Ctx;
use crate::runtime::RuntimeError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Why a test failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Check(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what} is not the expected JSON ({source}): {text:?}")]
    Json {
        what: &'static str,
        text: String,
        source: serde_json::Error,
    },
}

pub enum Verdict {
    Pass,
    Skip(String),
}

pub type Outcome = Result<Verdict, Failure>;

/// Fail the test with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::harness::Failure::Check(format!($($fmt)+)));
        }
    };
}

/// End the test as skipped, with the reason.
#[macro_export]
macro_rules! skip {
    ($($fmt:tt)+) => {
        return Ok($crate::harness::Verdict::Skip(format!($($fmt)+)))
    };
}

/// Fail the test with a formatted message.
#[macro_export]
macro_rules! fail {
    ($($fmt:tt)+) => {
        return Err($crate::harness::Failure::Check(format!($($fmt)+)))
    };
}

pub struct TestCase {
    /// Named after the spec document and section, e.g. `config-linux/namespaces/uts-new`.
    pub name: &'static str,
    pub func: fn(&Ctx) -> Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail(String),
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: &'static str,
    pub status: Status,
}

fn run_one(ctx: &Ctx, t: &TestCase) -> Status {
    if crate::interrupt::requested() {
        return Status::Skip("the run was interrupted".into());
    }
    match catch_unwind(AssertUnwindSafe(|| (t.func)(ctx))) {
        Ok(Ok(Verdict::Pass)) => Status::Pass,
        Ok(Ok(Verdict::Skip(why))) => Status::Skip(why),
        Ok(Err(f)) => Status::Fail(f.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            Status::Fail(format!("test panicked: {msg}"))
        }
    }
}

/// Run `tests` on `jobs` threads; `report(index, result)` is called in
/// registration order as soon as each result and all before it are known.
pub fn run_all(
    ctx: &Ctx,
    tests: &[TestCase],
    jobs: usize,
    mut report: impl FnMut(usize, &TestResult) + Send,
) -> Vec<TestResult> {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<TestResult>>> = Mutex::new(vec![None; tests.len()]);
    let ready = Condvar::new();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(t) = tests.get(i) else { break };
                let status = run_one(ctx, t);
                let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
                guard[i] = Some(TestResult {
                    name: t.name,
                    status,
                });
                ready.notify_all();
            });
        }
        let mut printed = 0;
        let mut guard = slots.lock().unwrap_or_else(|e| e.into_inner());
        while printed < tests.len() {
            if let Some(r) = guard[printed].clone() {
                report(printed, &r);
                printed += 1;
            } else {
                guard = ready.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
