//! `linux.resources.pids`: pids.max (the same file on v1 and cgroup2).

use super::Planner;
use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn pids(&mut self, limit: i64) -> Result<(), CgroupError> {
        // 0 means "not set" (as runc); negative means no limit.
        if limit == 0 {
            return Ok(());
        }
        self.need("linux.resources.pids", "pids")?;
        self.push("pids", "pids.max", convert::v2_limit(limit));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

    #[test]
    fn pids_limits() {
        let probe = FakeProbe::default();
        assert_eq!(
            plan_lines(r#"{"pids":{"limit":2048}}"#, &hybrid(), &probe),
            ["pids:pids.max=2048"]
        );
        assert_eq!(
            plan_lines(r#"{"pids":{"limit":-1}}"#, &v2(), &probe),
            ["pids:pids.max=max"]
        );
        assert!(plan_lines(r#"{"pids":{"limit":0}}"#, &v2(), &probe).is_empty());
    }
}
