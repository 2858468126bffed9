//! `linux.resources.rdma`: one rdma.max line per device.

use super::Planner;
use crate::cgroups::error::CgroupError;

impl Planner<'_> {
    pub(super) fn rdma(
        &mut self,
        device: &str,
        handles: Option<u32>,
        objects: Option<u32>,
    ) -> Result<(), CgroupError> {
        self.need("linux.resources.rdma", "rdma")?;
        let mut line = device.to_string();
        if let Some(h) = handles {
            line += &format!(" hca_handle={h}");
        }
        if let Some(o) = objects {
            line += &format!(" hca_object={o}");
        }
        if handles.is_some() || objects.is_some() {
            self.push("rdma", "rdma.max", line);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

    #[test]
    fn rdma_limits() {
        let json = r#"{"rdma":{"mlx5_1":{"hcaHandles":3,"hcaObjects":10000}}}"#;
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            ["rdma:rdma.max=mlx5_1 hca_handle=3 hca_object=10000"]
        );
        assert!(plan_err(json, &hybrid(), &FakeProbe::default()).contains("rdma"));
    }
}
