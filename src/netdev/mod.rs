#![forbid(unsafe_code)]
//! linux.netDevices (runtime-spec 1.3): host network interfaces moved into the container's new
//! network namespace at create, under the name the config gives, and moved back to the host
//! under their own name at delete while that namespace still exists. (Once the container has
//! stopped its namespace is gone: the kernel has given a physical interface back to the host
//! itself and has removed a virtual one, as it does for any network namespace.)

pub mod netlink;

use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::fs::File;

/// One interface to move: its name on the host and in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDevice {
    pub host: String,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NetDevError {
    #[error("linux.netDevices: {what} {name:?} is not an interface name (1 to 15 bytes, no '/', ':' or white space)")]
    InvalidName { what: &'static str, name: String },
    #[error("linux.netDevices: two interfaces would be named {0:?} in the container")]
    DuplicateName(String),
    #[error("linux.netDevices needs a new network namespace (linux.namespaces: a \"network\" without a path)")]
    NeedsNewNetns,
    #[error("linux.netDevices: no interface {name:?} on the host: {source}")]
    NotOnHost { name: String, source: nix::Error },
    #[error("linux.netDevices: move {host:?} into the container as {name:?}: {source}")]
    MoveIn {
        host: String,
        name: String,
        source: nix::Error,
    },
    #[error("linux.netDevices: move {name:?} back to the host as {host:?}: {source}")]
    MoveOut {
        host: String,
        name: String,
        source: nix::Error,
    },
    #[error("linux.netDevices: {op}: {source}")]
    Namespace { op: String, source: std::io::Error },
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 15
        && n != "."
        && n != ".."
        && !n
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace() || b == 0)
}

/// The interfaces a config moves, checked before anything exists.
pub fn plan(spec: &Spec) -> Result<Vec<NetDevice>, NetDevError> {
    let Some(devices) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .filter(|d| !d.is_empty())
    else {
        return Ok(Vec::new());
    };
    let new_netns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == LinuxNamespaceType::Network
                    && n.path().as_ref().is_none_or(|p| p.as_os_str().is_empty())
            })
        });
    if !new_netns {
        return Err(NetDevError::NeedsNewNetns);
    }
    let mut out: Vec<NetDevice> = Vec::new();
    let mut hosts: Vec<&String> = devices.keys().collect();
    hosts.sort();
    for host in hosts {
        let name = devices[host]
            .name()
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| host.clone());
        for (what, n) in [("host interface", host), ("container name", &name)] {
            if !valid_name(n) {
                return Err(NetDevError::InvalidName {
                    what,
                    name: n.clone(),
                });
            }
        }
        if out.iter().any(|d| d.name == name) {
            return Err(NetDevError::DuplicateName(name));
        }
        out.push(NetDevice {
            host: host.clone(),
            name,
        });
    }
    Ok(out)
}

/// Move each interface into the network namespace of `pid` (the container's init).
pub fn move_in(devices: &[NetDevice], pid: i32) -> Result<(), NetDevError> {
    if devices.is_empty() {
        return Ok(());
    }
    let ns_err = |op: &str| {
        let op = op.to_string();
        move |e: nix::Error| NetDevError::Namespace {
            op,
            source: e.into(),
        }
    };
    let sock = netlink::open().map_err(ns_err("netlink socket"))?;
    for (seq, d) in (1u32..).zip(devices) {
        let index = nix::net::if_::if_nametoindex(d.host.as_str()).map_err(|source| {
            NetDevError::NotOnHost {
                name: d.host.clone(),
                source,
            }
        })?;
        let msg = netlink::move_message(seq, index as i32, netlink::Target::Pid(pid), &d.name);
        netlink::request(&sock, &msg, seq).map_err(|source| NetDevError::MoveIn {
            host: d.host.clone(),
            name: d.name.clone(),
            source,
        })?;
    }
    Ok(())
}

/// Move each interface back from the network namespace of `pid` to ours, under its host
/// name. This thread enters that namespace for the lookups and the socket, and comes back
/// whatever happens (rrun is single-threaded here).
pub fn move_out(devices: &[NetDevice], pid: i32) -> Result<(), NetDevError> {
    if devices.is_empty() {
        return Ok(());
    }
    let open = |path: String| {
        File::open(&path).map_err(|source| NetDevError::Namespace {
            op: format!("open {path}"),
            source,
        })
    };
    let host_ns = open("/proc/self/ns/net".into())?;
    let ctr_ns = open(format!("/proc/{pid}/ns/net"))?;
    let enter = |f: &File, what: &str| {
        setns(f, CloneFlags::CLONE_NEWNET).map_err(|e| NetDevError::Namespace {
            op: format!("setns into {what}"),
            source: e.into(),
        })
    };
    enter(&ctr_ns, "the container's network namespace")?;
    let moved = (|| {
        let sock = netlink::open().map_err(|e| NetDevError::Namespace {
            op: "netlink socket".into(),
            source: e.into(),
        })?;
        use std::os::fd::AsRawFd;
        for (seq, d) in (1u32..).zip(devices) {
            let move_err = |source| NetDevError::MoveOut {
                host: d.host.clone(),
                name: d.name.clone(),
                source,
            };
            let index = nix::net::if_::if_nametoindex(d.name.as_str()).map_err(move_err)?;
            let target = netlink::Target::NsFd(host_ns.as_raw_fd());
            let msg = netlink::move_message(seq, index as i32, target, &d.host);
            netlink::request(&sock, &msg, seq).map_err(move_err)?;
        }
        Ok(())
    })();
    enter(&host_ns, "the runtime's network namespace")?;
    moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(net: serde_json::Value, netns: serde_json::Value) -> Spec {
        let mut v = crate::spec::template::default_spec();
        v["linux"]["netDevices"] = net;
        v["linux"]["namespaces"] = netns;
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn names_and_the_namespace_are_checked() {
        let new = json!([{"type": "network"}, {"type": "mount"}]);
        let p = plan(&spec(
            json!({"dummy0": {"name": "eth1"}, "dummy1": {}}),
            new.clone(),
        ))
        .unwrap();
        assert_eq!(
            p,
            [
                NetDevice {
                    host: "dummy0".into(),
                    name: "eth1".into()
                },
                NetDevice {
                    host: "dummy1".into(),
                    name: "dummy1".into()
                },
            ]
        );
        assert!(matches!(
            plan(&spec(json!({"d0": {}}), json!([{"type": "mount"}]))),
            Err(NetDevError::NeedsNewNetns)
        ));
        assert!(matches!(
            plan(&spec(
                json!({"d0": {}}),
                json!([{"type": "network", "path": "/proc/1/ns/net"}])
            )),
            Err(NetDevError::NeedsNewNetns)
        ));
        for bad in ["a/b", "sixteen-chars-xx", "a b", ".."] {
            assert!(
                plan(&spec(json!({"d0": {"name": bad}}), new.clone())).is_err(),
                "{bad:?}"
            );
        }
        assert!(matches!(
            plan(&spec(
                json!({"d0": {"name": "x"}, "d1": {"name": "x"}}),
                new
            )),
            Err(NetDevError::DuplicateName(_))
        ));
    }
}
