//! Known gaps, baselines, TAP lines, the summary and result files.

use crate::harness::{Status, TestResult};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Lines of `name [# reason]`; blank lines and lines starting with '#' are ignored.
pub fn load_list(path: &Path) -> Result<BTreeMap<String, String>, ResultsError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((name, why)) => (name.trim().to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect())
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ").replace('#', "\\#")
}

/// The TAP line (and diagnostic lines) for one result.
pub fn tap(number: usize, r: &TestResult, known_gaps: &BTreeMap<String, String>) -> String {
    let gap = known_gaps.get(r.name);
    match (&r.status, gap) {
        (Status::Pass, None) => format!("ok {number} - {}", r.name),
        (Status::Pass, Some(_)) => {
            format!(
                "ok {number} - {} # TODO listed as a known gap but passes",
                r.name
            )
        }
        (Status::Skip(why), _) => format!("ok {number} - {} # SKIP {}", r.name, one_line(why)),
        (Status::Fail(why), None) => format!("not ok {number} - {}\n  # {}", r.name, one_line(why)),
        (Status::Fail(why), Some(g)) => format!(
            "not ok {number} - {} # TODO known gap: {}\n  # {}",
            r.name,
            one_line(g),
            one_line(why)
        ),
    }
}

pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn summarize(results: &[TestResult]) -> Summary {
    let count = |f: fn(&Status) -> bool| results.iter().filter(|r| f(&r.status)).count();
    Summary {
        passed: count(|s| matches!(s, Status::Pass)),
        failed: count(|s| matches!(s, Status::Fail(_))),
        skipped: count(|s| matches!(s, Status::Skip(_))),
    }
}

/// Failed tests not excused by the known-gap list.
pub fn unexpected_failures<'a>(
    results: &'a [TestResult],
    known_gaps: &BTreeMap<String, String>,
) -> Vec<&'a str> {
    results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail(_)) && !known_gaps.contains_key(r.name))
        .map(|r| r.name)
        .collect()
}

/// Baseline tests that failed now.
pub fn regressions<'a>(results: &'a [TestResult], baseline: &BTreeSet<String>) -> Vec<&'a str> {
    results
        .iter()
        .filter(|r| matches!(r.status, Status::Fail(_)) && baseline.contains(r.name))
        .map(|r| r.name)
        .collect()
}

pub fn write_passed(path: &Path, results: &[TestResult]) -> Result<(), ResultsError> {
    let mut text = String::from("# Tests this runtime passes; regenerate with --write-passed.\n");
    for r in results.iter().filter(|r| r.status == Status::Pass) {
        text.push_str(r.name);
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    })
}

pub fn write_json(path: &Path, runtime: &str, results: &[TestResult]) -> Result<(), ResultsError> {
    let list: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            let (status, reason) = match &r.status {
                Status::Pass => ("pass", ""),
                Status::Fail(w) => ("fail", w.as_str()),
                Status::Skip(w) => ("skip", w.as_str()),
            };
            serde_json::json!({"name": r.name, "status": status, "reason": reason})
        })
        .collect();
    let doc = serde_json::json!({"runtime": runtime, "results": list});
    std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default()).map_err(|source| {
        ResultsError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &'static str, status: Status) -> TestResult {
        TestResult { name, status }
    }

    #[test]
    fn tap_lines_mark_skips_failures_and_known_gaps() {
        let mut gaps = BTreeMap::new();
        gaps.insert("b".to_string(), "runc # ignores it".to_string());
        assert_eq!(tap(1, &r("a", Status::Pass), &gaps), "ok 1 - a");
        assert_eq!(
            tap(2, &r("a", Status::Skip("no cgroup\nv2".into())), &gaps),
            "ok 2 - a # SKIP no cgroup v2"
        );
        assert_eq!(
            tap(3, &r("a", Status::Fail("bad".into())), &gaps),
            "not ok 3 - a\n  # bad"
        );
        assert_eq!(
            tap(4, &r("b", Status::Fail("bad".into())), &gaps),
            "not ok 4 - b # TODO known gap: runc \\# ignores it\n  # bad"
        );
    }

    #[test]
    fn regressions_are_baseline_tests_that_fail() {
        let results = [
            r("a", Status::Pass),
            r("b", Status::Fail("x".into())),
            r("c", Status::Fail("x".into())),
            r("d", Status::Skip("x".into())),
        ];
        let baseline: BTreeSet<String> = ["a", "b", "d"].iter().map(|s| s.to_string()).collect();
        assert_eq!(regressions(&results, &baseline), ["b"]);
        let s = summarize(&results);
        assert_eq!((s.passed, s.failed, s.skipped), (1, 2, 1));
    }

    #[test]
    fn unexpected_failures_exclude_known_gaps() {
        let results = [
            r("a", Status::Fail("x".into())),
            r("b", Status::Fail("y".into())),
        ];
        let mut gaps = BTreeMap::new();
        gaps.insert("a".to_string(), String::new());
        assert_eq!(unexpected_failures(&results, &gaps), ["b"]);
    }

    #[test]
    fn lists_ignore_comments_and_keep_reasons() {
        let dir = std::env::temp_dir().join(format!("oci-conf-list-{}", std::process::id()));
        std::fs::write(&dir, "# header\n\nx/y # why not\nz\n").unwrap();
        let l = load_list(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(l.get("x/y").map(String::as_str), Some("why not"));
        assert_eq!(l.get("z").map(String::as_str), Some(""));
        assert_eq!(l.len(), 2);
    }
}
