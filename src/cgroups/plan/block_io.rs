//! `linux.resources.blockIO`: weights and throttles, as blkio files on v1 (BFQ or CFQ weight
//! files, whichever the kernel has) or io.weight / io.bfq.weight and io.max on cgroup2.
//!
//! A per-device weight (`weightDevice`) is a wish about one disk: when the host has no file for
//! it, or the disk's scheduler takes no weights (neither BFQ nor iocost: the kernel answers
//! EOPNOTSUPP), it is left out with a warning and the rest is applied, as runc goes on. Every
//! other refused write stays an error.

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use super::{Planner, Version, Write};
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
        if weight.is_some() && !self.probe.exists("blkio", weight_file) {
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
            let device = format!("{}:{}", d.major(), d.minor());
            if let Some(w) = d.weight() {
                if self.probe.exists("blkio", device_file) {
                    self.push_device_weight("blkio", device_file, &device, w);
                } else {
                    self.skip_device_weight(
                        device_file,
                        &device,
                        "no such file: the block scheduler is neither BFQ nor CFQ",
                    );
                }
            }
            if let Some(w) = d.leaf_weight() {
                const LEAF: &str = "blkio.leaf_weight_device";
                if self.probe.exists("blkio", LEAF) {
                    self.push_device_weight("blkio", LEAF, &device, w);
                } else {
                    self.skip_device_weight(
                        LEAF,
                        &device,
                        "no such file: leaf weights need the CFQ scheduler, which this kernel lacks",
                    );
                }
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
                let device = format!("{}:{}", d.major(), d.minor());
                if self.probe.exists("io", file) {
                    self.push_device_weight("io", file, &device, value);
                } else {
                    self.skip_device_weight(
                        file,
                        &device,
                        "no such file: neither BFQ nor iocost in this kernel",
                    );
                }
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

    /// A per-device weight line, marked so that a disk refusing it is a warning.
    fn push_device_weight(&mut self, controller: &str, file: &str, device: &str, w: impl ToString) {
        self.writes.push(Write {
            controller: controller.to_string(),
            file: file.to_string(),
            value: format!("{device} {}", w.to_string()),
            device_weight: Some(device.to_string()),
        });
    }

    fn skip_device_weight(&mut self, file: &str, device: &str, reason: &str) {
        self.warnings.push(skipped(file, device, reason));
    }
}

fn skipped(file: &str, device: &str, reason: &str) -> String {
    format!("{file}: device {device} does not support per-device weights ({reason}), skipped")
}

/// Why a per-device weight may be left out: `Some(warning)` when `write` sets a per-device
/// weight and the kernel refused it because the disk takes no weights (EOPNOTSUPP: neither
/// BFQ nor iocost on that disk; EINVAL from older kernels, counted only for a weight in the
/// file's range, so that a bad value stays an error). None for every other write and errno.
pub fn refused_device_weight(write: &Write, errno: Option<i32>) -> Option<String> {
    let device = write.device_weight.as_deref()?;
    let reason = match errno? {
        libc::EOPNOTSUPP => "no BFQ or iocost",
        libc::EINVAL => {
            let weight: u64 = write.value.rsplit(' ').next()?.parse().ok()?;
            let max = if write.file == "io.weight" {
                10000
            } else {
                1000
            };
            if !(10..=max).contains(&weight) {
                return None;
            }
            "refused by the disk"
        }
        _ => return None,
    };
    Some(skipped(&write.file, device, reason))
}

#[cfg(test)]
mod tests {
    use super::refused_device_weight;
    use crate::cgroups::plan::plan;
    use crate::cgroups::plan::test_support::*;

    #[test]
    fn block_io_v1_and_v2() {
        let json = r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":0,"weight":300}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
            "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":100}]}}"#;
        let bfq = FakeProbe::default()
            .with("blkio", "blkio.bfq.weight", "100")
            .with("blkio", "blkio.bfq.weight_device", "default 100");
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
        let iocost = FakeProbe::default().with("io", "io.weight", "default 100");
        assert_eq!(
            plan_lines(json, &v2(), &iocost),
            [
                "io:io.weight=4950",
                "io:io.weight=8:0 2930",
                "io:io.max=8:0 rbps=1048576",
                "io:io.max=8:0 wiops=100",
            ]
        );
        let v2_bfq = FakeProbe::default().with("io", "io.bfq.weight", "default 100");
        assert_eq!(plan_lines(json, &v2(), &v2_bfq)[0], "io:io.bfq.weight=500");
        let throttle_only =
            r#"{"blockIO":{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#;
        assert_eq!(
            plan_lines(throttle_only, &hybrid(), &FakeProbe::default()),
            ["blkio:blkio.throttle.read_bps_device=8:0 1"]
        );
    }

    #[test]
    fn a_device_weight_without_its_file_is_a_warning_not_an_error() {
        let json = r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":300,"leafWeight":200}],
            "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1}]}}"#;
        // v1 with BFQ's weight file only (no per-device file), and no CFQ leaf files.
        let probe = FakeProbe::default().with("blkio", "blkio.bfq.weight", "100");
        let p = plan(&resources(json), &hybrid(), &probe).unwrap();
        assert_eq!(
            lines(&p.writes),
            ["blkio:blkio.throttle.read_bps_device=8:0 1"]
        );
        assert_eq!(
            p.warnings,
            [
                "blkio.bfq.weight_device: device 8:0 does not support per-device weights \
                 (no such file: the block scheduler is neither BFQ nor CFQ), skipped",
                "blkio.leaf_weight_device: device 8:0 does not support per-device weights \
                 (no such file: leaf weights need the CFQ scheduler, which this kernel lacks), \
                 skipped",
            ]
        );
        // The cgroup-wide weight without a weight file stays an error.
        let err = plan_err(
            r#"{"blockIO":{"weight":500}}"#,
            &hybrid(),
            &FakeProbe::default(),
        );
        assert!(err.contains("blockIO.weight"), "{err}");
        // cgroup2 without io.weight (no iocost in the kernel) nor io.bfq.weight.
        let json = r#"{"blockIO":{"weightDevice":[{"major":8,"minor":0,"weight":300}]}}"#;
        let p = plan(&resources(json), &v2(), &FakeProbe::default()).unwrap();
        assert!(p.writes.is_empty());
        assert_eq!(
            p.warnings,
            ["io.weight: device 8:0 does not support per-device weights \
              (no such file: neither BFQ nor iocost in this kernel), skipped"]
        );
    }

    #[test]
    fn device_weight_writes_are_marked_and_only_they_may_be_refused() {
        let json = r#"{"blockIO":{"weight":500,"weightDevice":[{"major":8,"minor":16,"weight":300}],
            "throttleReadBpsDevice":[{"major":8,"minor":16,"rate":1}]}}"#;
        let probe = FakeProbe::default().with("io", "io.weight", "default 100");
        let p = plan(&resources(json), &v2(), &probe).unwrap();
        let marked: Vec<_> = p
            .writes
            .iter()
            .map(|w| w.device_weight.as_deref())
            .collect();
        assert_eq!(marked, [None, Some("8:16"), None]);
        let (global, device, throttle) = (&p.writes[0], &p.writes[1], &p.writes[2]);
        assert_eq!(
            refused_device_weight(device, Some(libc::EOPNOTSUPP)).as_deref(),
            Some(
                "io.weight: device 8:16 does not support per-device weights \
                 (no BFQ or iocost), skipped"
            )
        );
        // EINVAL counts for a weight in range only (a bad value is an error).
        assert!(refused_device_weight(device, Some(libc::EINVAL)).is_some());
        let mut bad = device.clone();
        bad.value = "8:16 20000".into();
        assert_eq!(refused_device_weight(&bad, Some(libc::EINVAL)), None);
        // Other errnos, and every other file, stay errors.
        for errno in [
            None,
            Some(libc::ENOENT),
            Some(libc::ENODEV),
            Some(libc::EPERM),
        ] {
            assert_eq!(refused_device_weight(device, errno), None, "{errno:?}");
        }
        for other in [global, throttle] {
            for errno in [libc::EOPNOTSUPP, libc::EINVAL] {
                assert_eq!(refused_device_weight(other, Some(errno)), None);
            }
        }
        // v1: blkio.bfq.weight_device lines are marked the same way.
        let bfq = FakeProbe::default()
            .with("blkio", "blkio.bfq.weight", "100")
            .with("blkio", "blkio.bfq.weight_device", "");
        let p = plan(&resources(json), &hybrid(), &bfq).unwrap();
        let w = p.writes.iter().find(|w| w.device_weight.is_some()).unwrap();
        assert_eq!(w.file, "blkio.bfq.weight_device");
        assert!(refused_device_weight(w, Some(libc::EOPNOTSUPP))
            .unwrap()
            .starts_with("blkio.bfq.weight_device: device 8:16 "));
    }
}
