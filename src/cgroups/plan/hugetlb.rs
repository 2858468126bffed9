//! `linux.resources.hugepageLimits`: hugetlb.<size>.limit_in_bytes on v1, hugetlb.<size>.max
//! on cgroup2 (in hybrid, wherever the hugetlb controller is), plus the reservation file when
//! the kernel has one.

use super::{Planner, Version};
use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn hugepage(&mut self, page_size: &str, limit: i64) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.hugepageLimits";
        let digits = page_size.trim_end_matches(['K', 'M', 'G', 'B']);
        let valid = page_size.ends_with("B")
            && !digits.is_empty()
            && digits.chars().all(|c| c.is_ascii_digit())
            && page_size.len() == digits.len() + 2;
        if !valid {
            return Err(CgroupError::InvalidValue {
                field: format!("{F}.pageSize"),
                value: page_size.to_string(),
                reason: "expected a size like 2MB or 1GB",
            });
        }
        let (file, rsvd, value) = match self.need(F, "hugetlb")? {
            Version::V1 => (
                format!("hugetlb.{page_size}.limit_in_bytes"),
                format!("hugetlb.{page_size}.rsvd.limit_in_bytes"),
                limit.to_string(),
            ),
            Version::V2 => (
                format!("hugetlb.{page_size}.max"),
                format!("hugetlb.{page_size}.rsvd.max"),
                convert::v2_limit(limit),
            ),
        };
        if !self.probe.exists("hugetlb", &file) {
            return Err(CgroupError::unsupported(
                &format!("{F}.pageSize"),
                format!(
                    "no {file} in the container's cgroup: the host has no {page_size} huge \
                     pages, or the hugetlb controller is not enabled for this cgroup"
                ),
            ));
        }
        self.push("hugetlb", file, &value);
        if self.probe.exists("hugetlb", &rsvd) {
            self.push("hugetlb", rsvd, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

    #[test]
    fn hugetlb_goes_to_v2_files_in_hybrid() {
        let json = r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4194304}]}"#;
        let probe = FakeProbe::default()
            .with("hugetlb", "hugetlb.2MB.max", "max")
            .with("hugetlb", "hugetlb.2MB.rsvd.max", "max");
        assert_eq!(
            plan_lines(json, &hybrid(), &probe),
            [
                "hugetlb:hugetlb.2MB.max=4194304",
                "hugetlb:hugetlb.2MB.rsvd.max=4194304"
            ]
        );
        let mut v1 = hybrid();
        v1.v1.insert("hugetlb".into());
        let probe = FakeProbe::default().with("hugetlb", "hugetlb.2MB.limit_in_bytes", "0");
        assert_eq!(
            plan_lines(json, &v1, &probe),
            ["hugetlb:hugetlb.2MB.limit_in_bytes=4194304"]
        );
        let err = plan_err(json, &v1_only(), &probe);
        assert!(err.contains("hugetlb"), "{err}");
        let err = plan_err(
            r#"{"hugepageLimits":[{"pageSize":"2XB","limit":1}]}"#,
            &hybrid(),
            &probe,
        );
        assert!(err.contains("pageSize"), "{err}");
    }
}
