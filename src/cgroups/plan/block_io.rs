//! `linux.resources.blockIO`: weights and throttles, as blkio files on v1 (BFQ or CFQ weight
//! files, whichever the kernel has) or io.weight / io.bfq.weight and io.max on cgroup2.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::{Planner, Version};
use crate::cgroups::convert;
use crate::cgroups::error::CgroupError;

fn is_empty_list<T>(list: &Option<Vec<T>>) -> bool {
    list.as_ref().is_none_or(Vec::is_empty)
}

impl Planner<'_> {
    pub(super) fn block_io(&mut self, io: &LinuxBlockIo) -> Result<(), CgroupError> {
        const F: &str = "linux.resources.blockIO";
        let weight = io.weight().filter(|&w| w != 0);
        let leaf_weight = io.leaf_weight().filter(|&w| w != 0);
        let anything = weight.is_some()
            || leaf_weight.is_some()
            || !is_empty_list(io.weight_device())
            || !is_empty_list(io.throttle_read_bps_device())
            || !is_empty_list(io.throttle_write_bps_device())
            || !is_empty_list(io.throttle_read_iops_device())
            || !is_empty_list(io.throttle_write_iops_device());
        if !anything {
            return Ok(());
        }
        match self.need(
            F,
            if self.placement.v1.contains("blkio") {
                "blkio"
            } else {
                "io"
            },
        )? {
            Version::V1 => self.blkio_v1(io, weight, leaf_weight),
            Version::V2 => self.io_v2(io, weight, leaf_weight),
        }
    }

    fn blkio_v1(
        &mut self,
        io: &LinuxBlockIo,
        weight: Option<u16>,
        leaf_weight: Option<u16>,
    ) -> Result<(), CgroupError> {
        let bfq = self.probe.exists("blkio", "blkio.bfq.weight");
        let (weight_file, device_file) = if bfq {
            ("blkio.bfq.weight", "blkio.bfq.weight_device")
        } else {
            ("blkio.weight", "blkio.weight_device")
        };
        let needs_weight = weight.is_some()
            || io
                .weight_device()
                .as_ref()
                .is_some_and(|d| d.iter().any(|d| d.weight().is_some()));
        if needs_weight && !self.probe.exists("blkio", weight_file) {
            return Err(CgroupError::unsupported(
                "linux.resources.blockIO.weight",
                "no blkio weight file (the block scheduler is neither BFQ nor CFQ)",
            ));
        }
        if let Some(w) = weight {
            self.push("blkio", weight_file, w);
        }
        if let Some(w) = leaf_weight {
            if !self.probe.exists("blkio", "blkio.leaf_weight") {
                return Err(CgroupError::unsupported(
                    "linux.resources.blockIO.leafWeight",
                    "leaf weights need the CFQ scheduler, which this kernel lacks",
                ));
            }
            self.push("blkio", "blkio.leaf_weight", w);
        }
        for d in io.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                self.push(
                    "blkio",
                    device_file,
                    format!("{}:{} {w}", d.major(), d.minor()),
                );
            }
            if let Some(w) = d.leaf_weight() {
                if !self.probe.exists("blkio", "blkio.leaf_weight_device") {
                    return Err(CgroupError::unsupported(
                        "linux.resources.blockIO.weightDevice.leafWeight",
                        "leaf weights need the CFQ scheduler, which this kernel lacks",
                    ));
                }
                let line = format!("{}:{} {w}", d.major(), d.minor());
                self.push("blkio", "blkio.leaf_weight_device", line);
            }
        }
        let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
            (
                "blkio.throttle.read_bps_device",
                io.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                io.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                io.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                io.throttle_write_iops_device(),
            ),
        ];
        for (file, devices) in throttles {
            for d in devices.iter().flatten() {
                self.push(
                    "blkio",
                    file,
                    format!("{}:{} {}", d.major(), d.minor(), d.rate()),
                );
            }
        }
        Ok(())
    }

    fn io_v2(
        &mut self,
        io: &LinuxBlockIo,
        weight: Option<u16>,
        leaf_weight: Option<u16>,
    ) -> Result<(), CgroupError> {
        let leaf_devices = io
            .weight_device()
            .as_ref()
            .is_some_and(|d| d.iter().any(|d| d.leaf_weight().is_some()));
        if leaf_weight.is_some() || leaf_devices {
            return Err(CgroupError::unsupported(
                "linux.resources.blockIO.leafWeight",
                "leaf weights do not exist on cgroup v2",
            ));
        }
        // BFQ takes the v1 weight range as is; io.weight (io.cost) takes 1..10000.
        let bfq = self.probe.exists("io", "io.bfq.weight");
        let weigh = |w: u16| {
            if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                (
                    "io.weight",
                    convert::blkio_weight_to_io_weight(u64::from(w)),
                )
            }
        };
        if let Some(w) = weight {
            let (file, value) = weigh(w);
            self.push("io", file, value);
        }
        for d in io.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let (file, value) = weigh(w);
                self.push("io", file, format!("{}:{} {value}", d.major(), d.minor()));
            }
        }
        let throttles: [(&str, &Option<Vec<LinuxThrottleDevice>>); 4] = [
            ("rbps", io.throttle_read_bps_device()),
            ("wbps", io.throttle_write_bps_device()),
            ("riops", io.throttle_read_iops_device()),
            ("wiops", io.throttle_write_iops_device()),
        ];
        for (key, devices) in throttles {
            for d in devices.iter().flatten() {
                let line = format!("{}:{} {key}={}", d.major(), d.minor(), d.rate());
                self.push("io", "io.max", line);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroups::plan::test_support::*;

    #[test]
    fn block_io_v1_and_v2() {
        let json = r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":300}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]}}"#;
        let bfq = FakeProbe::default().with("blkio", "blkio.bfq.weight", "100");
        assert_eq!(
            plan_lines(json, &hybrid(), &bfq),
            [
                "blkio:blkio.bfq.weight=500",
                "blkio:blkio.bfq.weight_device=8:0 300",
                "blkio:blkio.throttle.read_bps_device=8:0 1048576",
                "blkio:blkio.throttle.write_iops_device=8:0 100",
            ]
        );
        let err = plan_err(json, &hybrid(), &FakeProbe::default());
        assert!(err.contains("blockIO.weight"), "{err}");
        assert_eq!(
            plan_lines(json, &v2(), &FakeProbe::default()),
            [
                "io:io.weight=4950",
                "io:io.weight=8:0 2930",
                "io:io.max=8:0 rbps=1048576",
                "io:io.max=8:0 wiops=100",
            ]
        );
        let v2_bfq = FakeProbe::default().with("io", "io.bfq.weight", "100");
        assert_eq!(plan_lines(json, &v2(), &v2_bfq)[0], "io:io.bfq.weight=500");
        let throttle_only =
            r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#;
        assert_eq!(
            plan_lines(throttle_only, &hybrid(), &FakeProbe::default()),
            ["blkio:blkio.throttle.read_bps_device=8:0 1"]
        );
    }
}
