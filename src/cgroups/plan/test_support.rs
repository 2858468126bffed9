//! What the planner's unit tests share: a fake [`Probe`], the placements of the host kinds, and
//! shorthands that plan a JSON `linux.resources` and show the writes as `controller:file=value`.

use std::collections::{BTreeMap, BTreeSet};

use oci_spec::runtime::LinuxResources;

use super::{plan, Placement, Probe, Write};

/// A fake container cgroup: the files that exist, with their contents.
#[derive(Default)]
pub(super) struct FakeProbe(BTreeMap<(String, String), String>);

impl FakeProbe {
    pub(super) fn with(mut self, controller: &str, file: &str, value: &str) -> Self {
        self.0.insert(
            (controller.to_string(), file.to_string()),
            value.to_string(),
        );
        self
    }
}

impl Probe for FakeProbe {
    fn exists(&self, controller: &str, file: &str) -> bool {
        self.0
            .contains_key(&(controller.to_string(), file.to_string()))
    }
    fn read(&self, controller: &str, file: &str) -> Option<String> {
        self.0
            .get(&(controller.to_string(), file.to_string()))
            .cloned()
    }
}

pub(super) fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub(super) fn hybrid() -> Placement {
    Placement {
        v1: set(&[
            "cpu",
            "cpuacct",
            "cpuset",
            "memory",
            "devices",
            "freezer",
            "blkio",
            "pids",
            "name=systemd",
        ]),
        v2: set(&["hugetlb"]),
        has_unified: true,
    }
}

pub(super) fn v2() -> Placement {
    Placement {
        v1: BTreeSet::new(),
        v2: set(&["cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma"]),
        has_unified: true,
    }
}

pub(super) fn v1_only() -> Placement {
    let mut p = hybrid();
    p.v2.clear();
    p.has_unified = false;
    p
}

pub(super) fn resources(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

pub(super) fn lines(writes: &[Write]) -> Vec<String> {
    writes
        .iter()
        .map(|w| format!("{}:{}={}", w.controller, w.file, w.value))
        .collect()
}

pub(super) fn plan_lines(json: &str, placement: &Placement, probe: &FakeProbe) -> Vec<String> {
    lines(&plan(&resources(json), placement, probe).unwrap().writes)
}

pub(super) fn plan_err(json: &str, placement: &Placement, probe: &FakeProbe) -> String {
    plan(&resources(json), placement, probe)
        .unwrap_err()
        .to_string()
}

pub(super) fn memsw_probe(current_limit: &str) -> FakeProbe {
    FakeProbe::default()
        .with(
            "memory",
            "memory.memsw.limit_in_bytes",
            "9223372036854771712",
        )
        .with("memory", "memory.limit_in_bytes", current_limit)
}
